"""hw/rtl/sources.yaml against the .sv files, and sim/rtl_sources.py's compile order.

The yaml's list for a module must be exactly the hw/rtl modules its file instantiates
(``<module> #(`` or ``<module> <instance> (``, outside comments and strings), and every
hw/rtl/*.sv must be in it, so the benches' file lists cannot drift from the RTL.
"""
from __future__ import annotations

import re

import pytest

from rtl_sources import RTL, SOURCES_YAML, load, modules, sources

FILES = sorted(p.stem for p in RTL.glob("*.sv"))
INSTANCE = re.compile(r"(?<![\w$])(\w+)\s*(?:#\s*\(|[A-Za-z_]\w*\s*\()")


def code(text: str) -> str:
    """SystemVerilog without comments and string contents."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def instantiated(module: str) -> set[str]:
    """The hw/rtl modules that hw/rtl/<module>.sv instantiates."""
    text = code((RTL / f"{module}.sv").read_text())
    text = re.sub(rf"\bmodule\s+{module}\b", "", text)          # its own declaration
    return {m.group(1) for m in INSTANCE.finditer(text) if m.group(1) in FILES}


def test_every_file_listed():
    assert sorted(load()) == FILES, f"{SOURCES_YAML} and the files of {RTL} differ"


@pytest.mark.parametrize("module", FILES)
def test_file_declares_its_module(module):
    declared = re.findall(r"^\s*module\s+(\w+)", code((RTL / f"{module}.sv").read_text()), re.M)
    assert declared == [module]


@pytest.mark.parametrize("module", FILES)
def test_instances_match_yaml(module):
    listed = load()[module]
    assert set(listed) == instantiated(module), (
        f"{module}: {SOURCES_YAML.name} lists {sorted(listed)}, the file instantiates "
        f"{sorted(instantiated(module))}")


def test_compile_order():
    deps = load()
    everything = modules(sorted(deps))
    assert sorted(everything) == FILES                           # each once
    for i, m in enumerate(everything):
        assert set(deps[m]) <= set(everything[:i]), f"{m} before one of {deps[m]}"
    assert modules("fsvae_lif_linear") == [
        "fsvae_increment", "fsvae_engine_ctrl", "fsvae_file_check", "fsvae_weight_mem", "fsvae_weight_mem_pair", "fsvae_state_ram",
        "fsvae_current_acc",
        "fsvae_lif_datapath", "fsvae_at_most_one", "fsvae_spike_emitter", "fsvae_times_const", "fsvae_lif_linear"]
    assert modules(["fsvae_lif_update", "fsvae_lif_linear"])[:5] == [
        "fsvae_lif_datapath", "fsvae_at_most_one", "fsvae_spike_emitter", "fsvae_state_ram", "fsvae_lif_update"]
    assert sources("fsvae_sampler") == sources(["fsvae_sampler"]) == [RTL / "fsvae_state_ram.sv", RTL / "fsvae_sampler.sv"]
    assert all(p.is_file() for p in sources(sorted(deps)))


def test_unknown_module():
    with pytest.raises(ValueError, match="unknown RTL module 'fsvae_nope'"):
        sources(["fsvae_lif_linear", "fsvae_nope"])


def test_cycle_and_missing_dependency(tmp_path):
    y = tmp_path / "sources.yaml"
    y.write_text("a: [b]\nb: [c]\nc: [a]\n")
    with pytest.raises(ValueError, match="cycle .*: a -> b -> c -> a"):
        sources("a", y)
    y.write_text("a: [b]\n")
    with pytest.raises(ValueError, match=r"'b' \(instantiated by a\)"):
        sources("a", y)
    y.write_text("a: [b, b]\nb: []\n")
    with pytest.raises(ValueError, match="listed twice"):
        sources("a", y)
