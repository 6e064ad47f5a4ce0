"""The source files of hw/rtl/ modules in compile order, from hw/rtl/sources.yaml.

hw/rtl/sources.yaml maps every module (the file hw/rtl/<module>.sv) to the hw/rtl modules it
instantiates directly; sim/test_rtl_sources.py checks it against the .sv files.  Every bench
in sim/<module>/ takes its Verilog file list from :func:`sources`:

    sources("fsvae_lif_linear")                      # one top
    sources(["fsvae_latent_pick", "fsvae_sampler"])  # several (a bench wrapper holding both)

is the transitive closure of what the tops instantiate, in compile order: every module after
the modules it instantiates, each once, deterministic (depth first, tops in the given order,
each module's dependencies in its sources.yaml order).  Standard library and PyYAML only.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

RTL = Path(__file__).resolve().parents[3] / "hw" / "rtl"
SOURCES_YAML = RTL / "sources.yaml"


def load(path: str | Path = SOURCES_YAML) -> dict[str, list[str]]:
    """sources.yaml as {module: [modules it instantiates directly]}; ValueError when malformed."""
    path = Path(path)
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of module -> list of modules")
    deps = {}
    for module, children in data.items():
        children = [] if children is None else children
        if not isinstance(module, str) or not isinstance(children, list) \
                or not all(isinstance(c, str) for c in children):
            raise ValueError(f"{path}: {module!r}: expected a module name and a list of module names")
        if len(set(children)) != len(children):
            raise ValueError(f"{path}: {module}: a module listed twice in {children}")
        deps[module] = children
    return deps


def modules(top_modules: str | Iterable[str], deps: dict[str, list[str]] | None = None,
            where: str | Path = SOURCES_YAML) -> list[str]:
    """The module names of the tops' transitive closure, in compile order.  ``deps``: the
    dependency map (default: load(where)).  ValueError for an unknown module or a cycle."""
    tops = [top_modules] if isinstance(top_modules, str) else list(top_modules)
    if deps is None:
        deps = load(where)
    order: list[str] = []
    done: set[str] = set()
    path: list[str] = []                 # the modules being visited, outermost first

    def visit(module: str, parent: str | None) -> None:
        if module in done:
            return
        if module in path:
            cycle = " -> ".join(path[path.index(module):] + [module])
            raise ValueError(f"instantiation cycle in {where}: {cycle}")
        if module not in deps:
            by = f" (instantiated by {parent})" if parent else ""
            raise ValueError(f"unknown RTL module {module!r}{by}: not in {where}")
        path.append(module)
        for child in deps[module]:
            visit(child, module)
        path.pop()
        done.add(module)
        order.append(module)

    for top in tops:
        visit(top, None)
    return order


def sources(top_modules: str | Iterable[str], where: str | Path = SOURCES_YAML) -> list[Path]:
    """The .sv files of the tops and of everything they instantiate, dependencies first, each
    once (the files lie beside ``where``).  ValueError for an unknown module or a cycle."""
    where = Path(where)
    return [where.parent / f"{m}.sv" for m in modules(top_modules, where=where)]
