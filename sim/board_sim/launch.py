"""Start the simulated board (board_server.py) for a generated RTL folder: Verilator build
when it is missing or older than the sources, then cocotb's Python runner.

    python sim/board_sim/launch.py --overlay DIR --socket /tmp/board.sock
    python sim/board_sim/launch.py --rtl DIR [--build DIR] --socket PATH [--once] [--run-dir DIR]

fsvae_fpga.board.simulated starts this itself (with --once, in its own process group);
start it by hand to share one simulated board between processes, and connect with
``open_overlay(dir, simulated=True, backend_options={"address": PATH})`` or
FSVAE_BOARD_SOCKET=PATH.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _p in (HERE, ROOT / "sim", ROOT / "sw"):        # the runner hands sys.path to the simulator
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import rtl_sim  # noqa: E402
import runner  # noqa: E402

MODULE = "board_server"


def default_build_dir(rtl_dir: Path) -> Path:
    return rtl_dir / "sim_build"


def ensure_build(rtl_dir: Path, build_dir: Path) -> float:
    """Verilate unless the simulator is newer than every source; one builder at a time."""
    m = rtl_sim.manifest(rtl_dir)
    exe = build_dir / m["top"]
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".board-sim.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sources = [rtl_dir / s for s in m["sources"]] + [rtl_dir / "manifest.json"]
        if exe.is_file() and all(exe.stat().st_mtime >= s.stat().st_mtime for s in sources):
            return 0.0
        return rtl_sim.build(rtl_dir, build_dir=build_dir)


def _design_up_to_date(rtl_dir: Path, hw, board: dict) -> bool:
    from fsvae_fpga.codegen import rtl
    path = rtl_dir / "manifest.json"
    if not path.is_file():
        return False
    m = json.loads(path.read_text())
    return m.get("design_sha256") == rtl.design_sha256(hw, board) and m.get("mem_dir") in (None, str(rtl_dir / "mem"))


def ensure_design(hw, board: str, rtl_dir: Path, build_dir: Path, overrides: dict | None = None) -> bool:
    """The generated RTL of ``hw`` on ``board`` (+ ``overrides``) in rtl_dir and its Verilator
    build in build_dir, each made only when out of date (the design's sha256, the sources'
    times), one process at a time: the notebook runner and several pytest workers share these
    folders.  Returns whether the RTL was (re)generated."""
    from fsvae_fpga.codegen import boards, rtl
    rtl_dir = Path(rtl_dir).resolve()
    rtl_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(rtl_dir.parent / f".{rtl_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh = not _design_up_to_date(rtl_dir, hw, {**boards.board(board), **(overrides or {})})
        if fresh:
            rtl.write_rtl(hw, board, rtl_dir, overrides=overrides)
        ensure_build(rtl_dir, build_dir)
    return fresh


def serve(rtl_dir: Path, socket_path: str, build_dir: Path | None = None, once: bool = False,
          run_dir: Path | None = None, idle_s: float | None = None) -> int:
    from cocotb_tools.runner import get_runner
    runner._verilator_on_path()
    rtl_dir = rtl_dir.resolve()
    build_dir = (build_dir or default_build_dir(rtl_dir)).resolve()
    m = rtl_sim.manifest(rtl_dir)
    ensure_build(rtl_dir, build_dir)
    run_dir = Path(run_dir or tempfile.mkdtemp(prefix="fsvae-board-run-")).resolve()
    env = {**os.environ, **runner.SIM_ENV, "FSVAE_BOARD_SOCKET": str(Path(socket_path).resolve()),
           "FSVAE_BOARD_CLOCK_MHZ": str(m["clock_mhz"]), "FSVAE_BOARD_ONCE": "1" if once else "0",
           "PYTHONUNBUFFERED": "1"}
    env.pop("PYTEST_CURRENT_TEST", None)        # the runner changes behaviour under pytest
    ws = m.get("weight_stream")
    if ws:                                      # the DDR model behind m_axi_gmem (board_server.py)
        env["FSVAE_BOARD_DDR"] = json.dumps({"port": ws["port"], "memory_model": ws.get("memory_model") or {}})
    if idle_s is not None:
        env["FSVAE_BOARD_IDLE_S"] = str(idle_s)
    sim = get_runner("verilator")
    try:
        sim.test(hdl_toplevel=m["top"], hdl_toplevel_lang="verilog", test_module=MODULE, build_dir=str(build_dir),
                 test_dir=str(run_dir), extra_env=env, results_xml=str(run_dir / "results.xml"))
    except SystemExit as e:
        return int(e.code or 1)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--overlay", type=Path, help="overlay folder (its fsvae-overlay.json names the RTL and build)")
    ap.add_argument("--rtl", type=Path, help="generated RTL folder (fsvae-fpga codegen rtl)")
    ap.add_argument("--build", type=Path, help="Verilator build folder (default: RTL/sim_build)")
    ap.add_argument("--socket", required=True, help="Unix socket path to listen on")
    ap.add_argument("--once", action="store_true", help="exit when the first client disconnects")
    ap.add_argument("--run-dir", type=Path, help="folder for the simulator's files (default: a temporary one)")
    ap.add_argument("--idle", type=float, help="exit after this many seconds without a request (default 3600)")
    args = ap.parse_args(argv)
    rtl, build = args.rtl, args.build
    if args.overlay:
        sim = json.loads((args.overlay / "fsvae-overlay.json").read_text()).get("simulation") or {}
        rtl = rtl or Path(sim["rtl_dir"])
        build = build or (Path(sim["build_dir"]) if sim.get("build_dir") else None)
    if rtl is None:
        ap.error("give --rtl or --overlay")
    return serve(rtl, args.socket, build, args.once, args.run_dir, args.idle)


if __name__ == "__main__":
    sys.exit(main())
