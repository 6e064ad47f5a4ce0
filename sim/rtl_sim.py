"""Build and run the generated accelerator top (sim/fsvae_top) with Verilator through cocotb's
Python runner: shared by the pytest bench and by ``make sim`` (fsvae_fpga.flows.simulate).

The simulator runs with the generated folder as its working directory, so the $readmemh
paths "mem/*.hex" of the generated RTL resolve there.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import runner

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "sim" / "fsvae_top"
BENCH = "test_fsvae_top"


def _paths() -> None:
    # the runner hands sys.path to the simulator as PYTHONPATH
    for p in (BENCH_DIR, ROOT / "sim", ROOT / "sw"):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))


def manifest(rtl_dir: str | Path) -> dict:
    path = Path(rtl_dir) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: generate the RTL first "
                                "(fsvae-fpga codegen rtl --hwmodel DIR --board B --out DIR)")
    m = json.loads(path.read_text())
    if m.get("complete") is False:
        raise FileNotFoundError(f"{path}: the generation of this folder did not finish; generate it again")
    return m


def fst_available() -> bool:
    """Verilator's FST writer compiles against lz4.h (Debian: liblz4-dev); without it the
    waveform is VCD."""
    import sysconfig
    dirs = ["/usr/include", "/usr/local/include", sysconfig.get_paths()["include"]]
    dirs += os.environ.get("CPATH", "").split(os.pathsep)
    return any(d and Path(d, "lz4.h").is_file() for d in dirs)


def wave_file(rtl_dir: str | Path) -> Path:
    return Path(rtl_dir) / ("dump.fst" if fst_available() else "dump.vcd")


def build(rtl_dir: str | Path, waves: bool = False, build_dir: str | Path | None = None) -> float:
    """Verilate the generated top; returns the build time in seconds (0 when up to date)."""
    _paths()
    runner._verilator_on_path()
    rtl_dir = Path(rtl_dir).resolve()
    m = manifest(rtl_dir)
    build_dir = Path(build_dir or rtl_dir / ("sim_build_waves" if waves else "sim_build"))
    t0 = time.perf_counter()
    sim = runner.verilator()            # the bench drives and reads the top's ports only
    # --x-assign fast; C++ at -O1: measured on the small PYNQ-Z2 top, -O1 builds in 26 s against
    # 31 s for Verilator's default -Os and simulates as fast (-O0: 11 s, but 3x slower to run)
    args = ["-Wall", "--x-assign", "fast", "--x-initial", "fast", "--output-split", "0", "-CFLAGS", "-O1"]
    if waves:
        args += ["--trace-structs"] + (["--trace-fst"] if fst_available() else [])
    sim.build(sources=[str(rtl_dir / s) for s in m["sources"]], hdl_toplevel=m["top"], build_dir=str(build_dir),
              build_args=args, waves=waves, always=False)
    return time.perf_counter() - t0


def simulate(rtl_dir: str | Path, hwmodel_dir: str | Path, n: int, seed: int, base: int = 0, *,
             result: str | Path | None = None, backpressure: bool = False, lean_axil: bool = False, progress: bool = False,
             waves: bool = False, testcase: str | list[str] | None = None, plusargs: list[str] | None = None,
             build_dir: str | Path | None = None, ddr_stalls: bool = False) -> tuple[int, int, Path]:
    """Run the top-level bench; returns (tests run, tests failed, results xml).  ``ddr_stalls``:
    random AR and R stalls in the DDR memory model (designs that stream weights)."""
    from cocotb_tools.runner import get_results, get_runner
    _paths()
    runner._verilator_on_path()
    rtl_dir = Path(rtl_dir).resolve()
    m = manifest(rtl_dir)
    build_dir = Path(build_dir or rtl_dir / ("sim_build_waves" if waves else "sim_build"))
    env = {"FSVAE_HWMODEL": str(Path(hwmodel_dir).resolve()), "FSVAE_N": str(n), "FSVAE_SEED": str(seed),
           "FSVAE_BASE": str(base), "FSVAE_BACKPRESSURE": "1" if backpressure else "0",
           "FSVAE_PROGRESS": "1" if progress else "0", "FSVAE_LEAN_AXIL": "1" if lean_axil else "0", "PYTHONUNBUFFERED": "1",
           "FSVAE_DDR_STALLS": "1" if ddr_stalls else "0"}
    if result is not None:
        env["FSVAE_RESULT"] = str(Path(result).resolve())
    sim = get_runner("verilator")
    xml = build_dir / f"results_{BENCH}.xml"
    try:
        sim.test(hdl_toplevel=m["top"], hdl_toplevel_lang="verilog", test_module=BENCH, build_dir=str(build_dir),
                 test_dir=str(rtl_dir), extra_env={**os.environ, **runner.SIM_ENV, **env}, waves=waves, testcase=testcase,
                 plusargs=plusargs or [], results_xml=str(xml))
    except SystemExit:
        pass                    # the runner exits on failed tests; the results file says which
    if not xml.is_file():
        raise RuntimeError(f"the simulation wrote no results ({xml}); see the log above")
    total, failed = get_results(xml)
    return total, failed, xml
