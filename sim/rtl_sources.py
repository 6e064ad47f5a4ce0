"""The source files of hw/rtl/ modules in compile order, for the benches: ``sources("fsvae_lif_linear")``.

One definition, in the package (fsvae_fpga.codegen.rtl_sources, which the code generator uses
too), re-exported here so that every bench in sim/<module>/ can write
``from rtl_sources import sources``.  hw/rtl/sources.yaml holds what each module instantiates;
sim/test_rtl_sources.py checks it against the .sv files.
"""
from fsvae_fpga.codegen.rtl_sources import RTL, SOURCES_YAML, load, modules, sources  # noqa: F401
