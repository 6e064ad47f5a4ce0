"""``fsvae-fpga bitstream``: the shipped model to a PYNQ overlay folder, through Vivado.

    fsvae-fpga bitstream --board B [--core rtl|hls] [--config CFG] [--out DIR] [--work DIR]

Steps, each leaving its output in the work folder (default build/bitstream/<board>-<core>)
for inspection or a rerun by hand:

1. tools: ``vivado`` (and ``vitis_hls`` for --core hls) on the PATH at the pinned release
   (hw/boards.yaml vivado_release), checked before anything long;
2. the shipped model of CFG (default: the board's default_config) exported   -> hwmodel/
3. the core: codegen rtl + the Verilog wrapper                              -> rtl/
   or the Vitis HLS project, run to its IP export                           -> hls/
4. the Vivado build script (codegen/vivado.py), run first under tclsh with stand-ins for
   Vivado (seconds) so that a wiring mistake shows before an hour of synthesis -> */vivado/
5. ``vivado -mode batch``: block design, bitstream, timing check (fails when WNS < 0)
6. the overlay folder (default build/overlay/<board>): fsvae.bit + fsvae.hwh, then
   overlay.write_overlay_files (driver, notebook, self-test), then the reports in reports/.

The tool never deletes or fills a folder it did not make: an existing --out must be empty,
hold only a previous fsvae.bit/fsvae.hwh, or be an overlay folder (its marker file); an
existing --work must hold this tool's marker.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from fsvae_fpga.codegen import boards
from fsvae_fpga import cli_args

PROG = "fsvae-fpga bitstream"
WORK_MARKER = ".fsvae-bitstream-work"
OVERLAY_MARKER = "fsvae-overlay.json"           # written by overlay.write_overlay_files
VIVADO_FILES = ("fsvae.bit", "fsvae.hwh")
TOOLS = {"vivado": "Vivado", "vitis_hls": "Vitis HLS"}


class BitstreamError(Exception):
    """A reason to stop, said in one line; ``code`` is the exit status (2: nothing was built)."""

    def __init__(self, msg: str, code: int = 2):
        super().__init__(msg)
        self.code = code


# --- 1. tools ----------------------------------------------------------------------------------
def tool_problem(tool: str, release: str) -> str | None:
    """Why ``tool`` cannot be used (not on the PATH, or another release), or None."""
    label = TOOLS[tool]
    path = shutil.which(tool)
    if path is None:
        return f"{label} {release} ({tool}) is not on the PATH; install {label} {release} and source its settings64.sh"
    try:
        res = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=120)
        text = res.stdout + res.stderr
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{path} -version failed ({err}); this project needs {label} {release}"
    m = re.search(r"\bv(\d{4}\.\d+)", text)
    if m is None:
        return f"{path} -version does not say its release; this project needs {label} {release}"
    if m.group(1) != release:
        return (f"found {label} v{m.group(1)} ({path}), this project needs {release}; "
                f"source the settings64.sh of {label} {release}")
    return None


def check_tools(core: str, release: str) -> None:
    for tool in ("vivado", "vitis_hls") if core == "hls" else ("vivado",):
        problem = tool_problem(tool, release)
        if problem:
            raise BitstreamError(problem)


# --- folders -------------------------------------------------------------------------------------
def claim_out(out: Path) -> None:
    """The overlay folder: new, empty, a previous result of this flow or an overlay folder."""
    from fsvae_fpga.toolchain.overlay import foreign_entries
    if out.exists() and not out.is_dir():
        raise BitstreamError(f"--out {out} exists and is not a folder")
    foreign = foreign_entries(out)
    if foreign:
        raise BitstreamError(f"--out {out} holds {', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''} "
                             f"and no {OVERLAY_MARKER}: it is not an overlay folder of this tool; choose a new folder")


def claim_work(work: Path) -> None:
    """The work folder: new or empty (then marked as this tool's), or marked already."""
    if work.exists() and not work.is_dir():
        raise BitstreamError(f"--work {work} exists and is not a folder")
    if work.exists() and any(work.iterdir()) and not (work / WORK_MARKER).is_file():
        raise BitstreamError(f"--work {work} is not empty and has no {WORK_MARKER}: it is not this tool's; "
                             "choose a new folder")
    work.mkdir(parents=True, exist_ok=True)
    (work / WORK_MARKER).write_text("work folder of fsvae-fpga bitstream: it may rewrite anything here\n")


# --- 2-3. model and core -------------------------------------------------------------------------
def _rtl_core(hw, board: str, rtl_dir: Path, log) -> tuple[Path, dict, Path | None]:
    from fsvae_fpga.codegen.rtl import write_rtl
    from fsvae_fpga.codegen.vivado import readmem_problems, write_wrapper
    log(f"{PROG}: codegen rtl -> {rtl_dir}")
    manifest = write_rtl(hw, board, rtl_dir)
    write_wrapper(rtl_dir, manifest, board)
    problems = readmem_problems(rtl_dir, manifest)
    if problems:
        raise BitstreamError(f"{rtl_dir}: memory files Vivado would not find: {problems[0]}")
    return rtl_dir, manifest, None


def _hls_core(hw, board: str, hls_dir: Path, log) -> tuple[Path, dict, Path | None]:
    """The Vitis HLS core.  Its overlay description (fsvae.json, weights.bin) is the generated
    design's manifest (codegen rtl into <work>/descriptor: the same model, board, contract,
    blob and identity value, which the HLS top reports too), with the HLS core's own modes and
    no unit names (its engines_busy reads 0)."""
    from fsvae_fpga.cli import _held_out_int8
    from fsvae_fpga.codegen.hls import write_project
    from fsvae_fpga.codegen.rtl import write_rtl
    from fsvae_fpga.contract.vectors import write_vectors
    desc_dir = hls_dir.parent / "descriptor"
    manifest = write_rtl(hw, board, desc_dir)
    log(f"{PROG}: codegen hls -> {hls_dir}, then vitis_hls -f build_prj.tcl (C simulation, synthesis, "
        "co-simulation, IP export)")
    vectors = write_vectors(hw, _held_out_int8(hw, 4), 4, 0, hls_dir / "vectors_src")
    info = write_project(hw, board, hls_dir, vectors_dir=vectors, identity=manifest["identity"])
    manifest.update({"core": "hls", "status_units": [],
                     "modes": ["generate"] + (["reconstruct"] if info.get("reconstruction") else []) + ["load_weights"]})
    (desc_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    with open(hls_dir / "vitis_hls.log", "w") as logf:
        rc = subprocess.run(["vitis_hls", "-f", "build_prj.tcl"], cwd=hls_dir, stdout=logf,
                            stderr=subprocess.STDOUT).returncode
    ip_dir = hls_dir / "fsvae_prj" / "solution1" / "impl" / "ip"
    if rc != 0 or not (ip_dir / "component.xml").is_file():
        raise BitstreamError(f"vitis_hls failed (status {rc}) or exported no IP to {ip_dir}: see "
                             f"{hls_dir / 'vitis_hls.log'}", code=1)
    return desc_dir, manifest, ip_dir


# --- 4-5. the build script, checked, then Vivado -------------------------------------------------
def run_vivado(tcl: Path, log) -> dict:
    """vivado -mode batch in the script's folder; returns its results.json."""
    here = tcl.parent
    cmd = ["vivado", "-mode", "batch", "-notrace", "-source", tcl.name, "-log", "vivado.log", "-journal", "vivado.jou"]
    log(f"{PROG}: {' '.join(cmd)}   (in {here}; synthesis and implementation take a while)")
    rc = subprocess.run(cmd, cwd=here).returncode
    results = json.loads((here / "results.json").read_text()) if (here / "results.json").is_file() else {}
    if rc != 0:
        if results and not results.get("timing_met", True):
            raise BitstreamError(f"timing not met at {results.get('clock_mhz')} MHz (WNS {results.get('wns_ns')} ns, "
                                 f"WHS {results.get('whs_ns')} ns): see {here / 'timing_worst.rpt'}", code=1)
        raise BitstreamError(f"vivado failed (status {rc}): see {here / 'vivado.log'}", code=1)
    return results


# --- 6. the overlay folder -----------------------------------------------------------------------
def assemble(out: Path, vivado_dir: Path, core_dir: Path, hw_dir: Path, board: str, core: str, log) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in VIVADO_FILES:
        shutil.copy2(vivado_dir / name, out / name)
    try:
        from fsvae_fpga.toolchain.overlay import write_overlay_files
    except ImportError:
        log(f"{PROG}: warning: fsvae_fpga.toolchain.overlay is missing: {out} holds only the bitstream")
    else:
        if (core_dir / "manifest.json").is_file():
            write_overlay_files(out, core_dir, hw_dir, board)
        else:
            log(f"{PROG}: warning: no RTL manifest for the {core} core: {out} holds the bitstream and reports only")
    reports = out / "reports"
    if reports.exists():
        shutil.rmtree(reports)          # ours: written here by an earlier run
    reports.mkdir()
    for f in sorted(vivado_dir.glob("*.rpt")) + [vivado_dir / "results.json"]:
        if f.is_file():
            shutil.copy2(f, reports / f.name)


# --- the command -----------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", required=True, help="board from hw/boards.yaml (pynq-z2, kv260, zcu104)")
    p.add_argument("--core", choices=["rtl", "hls"], default="rtl",
                   help="rtl: the generated SystemVerilog (default); hls: the Vitis HLS core (needs vitis_hls)")
    p.add_argument("--config", help="configuration whose shipped model to build (default: the board's default_config)")
    p.add_argument("--out", help="overlay folder to copy to the board (default build/overlay/<board>)")
    p.add_argument("--work", help="work folder: model, core, Vivado project (default build/bitstream/<board>-<core>)")
    p.add_argument("--jobs", type=cli_args.count(1, 1024, "--jobs"), help="Vivado jobs (default: the CPU count)")


def build(args: argparse.Namespace, log=print) -> Path:
    """The whole flow; returns the overlay folder.  Raises BitstreamError."""
    try:
        board = boards.board(args.board)
    except boards.BoardError as err:
        raise BitstreamError(str(err)) from None
    release = boards.vivado_release()
    check_tools(args.core, release)
    config = args.config or board["default_config"]
    out = Path(args.out or Path("build") / "overlay" / args.board)
    work = Path(args.work or Path("build") / "bitstream" / f"{args.board}-{args.core}")
    claim_out(out)
    claim_work(work)

    from fsvae_fpga.codegen.hls import CodegenError
    from fsvae_fpga.codegen.vivado import write_vivado_project
    from fsvae_fpga.toolchain.vivado_check import check_project
    from fsvae_fpga.contract.export import export_shipped
    from fsvae_fpga.contract.hwmodel import load
    try:
        log(f"{PROG}: export the shipped model of {config} -> {work / 'hwmodel'}")
        hw_dir = export_shipped(config, work / "hwmodel")
    except KeyError as err:
        raise BitstreamError(str(err.args[0])) from None
    hw = load(hw_dir)
    try:
        if args.core == "rtl":
            core_dir, manifest, ip_dir = _rtl_core(hw, args.board, work / "rtl", log)
        else:
            core_dir, manifest, ip_dir = _hls_core(hw, args.board, work / "hls", log)
        tcl = write_vivado_project(core_dir, manifest, board, args.core, hls_ip_dir=ip_dir, jobs=args.jobs)
    except CodegenError as err:
        raise BitstreamError(str(err)) from None
    if shutil.which("tclsh"):
        problems, summary, _ = check_project(tcl, board, args.core, manifest,
                                             core_dir if args.core == "rtl" else None, ip_dir)
        if problems:
            raise BitstreamError(f"{tcl} fails its checks (stand-ins for Vivado): " + "; ".join(problems[:5]))
        log(f"{PROG}: {tcl.name} checked: PL clock {summary.get('pl_clock_hz')} Hz, core registers at "
            f"{summary.get('core_address')} ({summary.get('core_range')} bytes), DMA length "
            f"{summary.get('dma_length_bits')} bits")
    else:
        log(f"{PROG}: warning: tclsh is not on the PATH: {tcl.name} goes to Vivado unchecked")
    results = run_vivado(tcl, log)
    assemble(out, tcl.parent, core_dir, hw_dir, args.board, args.core, log)
    log(json.dumps({"out": str(out), "board": args.board, "core": args.core, "config": config, **results}))
    return out


def cli_command(args: argparse.Namespace) -> None:
    """For cli.py's subcommand: run, and on failure print one line and exit with its status."""
    try:
        build(args)
    except BitstreamError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        raise SystemExit(err.code) from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        build(args)
    except BitstreamError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
