"""The flows, written once: export -> codegen -> build -> run.

    hardware_model   the shipped model of a configuration, exported (cached in the build folder)
    codegen_rtl      hardware model + board -> generated RTL (rtl/, mem/, manifest.json)
    codegen_hls      hardware model + board -> Vitis HLS project, golden vectors, static checks,
                     cycle estimate, optionally g++ C simulation
    estimate         shipped model -> RTL -> Yosys resources and logic depth
    simulate         shipped model -> RTL (or Vitis-exported RTL) -> Verilator + cocotb, N images
                     against the golden model, performance report (``make sim``)

The CLI (cli.py) parses arguments and calls these; the Makefile calls the CLI.  Writers
(codegen/) make files; tool runners (toolchain/csim.py: g++, toolchain/estimate.py: Yosys,
sim/rtl_sim.py: Verilator, bitstream.py: Vivado) run tools; a flow strings them together.
Each flow raises FlowError with a one-line reason.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from fsvae_fpga.codegen import boards

ROOT = Path(__file__).resolve().parents[2]


class FlowError(Exception):
    """A flow stopped for a reason the user can act on (the message says which)."""


class SimulationMismatch(FlowError):
    """The simulated hardware's images differ from the golden model's: a hardware bug."""


def hardware_model(config: str, build: str | Path = "build") -> Path:
    """The shipped model of ``config`` exported into build/hwmodel-<config stem>."""
    from fsvae_fpga.contract.export import export_shipped
    try:
        return export_shipped(config, Path(build) / f"hwmodel-{Path(config).stem}")
    except KeyError as err:
        raise FlowError(err.args[0]) from None


def codegen_rtl(hw, board: str, out: Path, log=print) -> dict:
    from fsvae_fpga.codegen.design import CodegenError
    from fsvae_fpga.codegen.rtl import write_rtl
    try:       # in place: the RTL names its memory files by absolute path
        manifest = write_rtl(hw, board, out)
    except CodegenError as err:
        raise FlowError(str(err)) from None
    for e in manifest["engines"]:
        log(f"  {e['instance']:<12}{e['module']:<28}lanes {e['lanes']:>3}  acc {e['acc_bits']} bits")
    return manifest


def codegen_hls(hw, board: str, out: Path, images_int8, n: int, seed: int, vectors=None, csim: bool = False,
                log=print) -> dict:
    """The HLS project, whole or not at all (outputs.output_dir), then its checks."""
    from fsvae_fpga.toolchain.csim import run_csim, static_check
    from fsvae_fpga.codegen.design import CodegenError
    from fsvae_fpga.codegen.hls import HLS_DIR, write_project
    from fsvae_fpga.codegen.latency import image_cycles
    from fsvae_fpga.outputs import output_dir
    from fsvae_fpga.contract.stats import layer_stats
    with output_dir(out, "codegen-hls") as tmp:
        if vectors is None:   # golden test vectors for the generated testbench
            from fsvae_fpga.contract.vectors import write_vectors
            vectors = write_vectors(hw, images_int8, n, seed, tmp / "vectors")
        try:
            info = write_project(hw, board, tmp, vectors_dir=vectors)
        except CodegenError as err:
            raise FlowError(str(err)) from None
    info["out"] = str(out)
    problems = static_check(sorted((out / "firmware").glob("*.cpp")) + sorted((HLS_DIR / "fsvae").glob("*.h")))
    if problems:
        raise FlowError("static checks failed: " + "; ".join(problems))
    info["static_checks"] = "passed"
    latency = {}
    for mode in ("generate", "reconstruct") if info["reconstruction"] else ("generate",):
        rows = layer_stats(hw, mode, n, seed, images_int8)
        latency[mode] = image_cycles(hw, boards.board(board), rows, reconstruction=mode == "reconstruct")
        log(f"== {mode}: cycles per image implied by the loop structure (II = 1), board {board}")
        for name, cycles in latency[mode]["per_layer"].items():
            log(f"  {name:<13}{cycles:>14,.0f}")
        log(f"  {'total':<13}{latency[mode]['total']:>14,.0f}  -> {latency[mode]['images_per_s']:,.0f} images/s")
    (out / "latency.json").write_text(json.dumps(latency, indent=1))
    info["cycles_per_image"] = {m: round(v["total"]) for m, v in latency.items()}
    if csim:
        ok, text = run_csim(out)
        log(text, end="")
        info["csim"] = "passed" if ok else "FAILED"
        if not ok:
            log(json.dumps(info))
            raise FlowError("C simulation differs from the golden model")
    return info


def estimate(board: str, config: str | None, build: str | Path = "build") -> dict:
    """Shipped model for the board's configuration -> codegen rtl -> Yosys estimate."""
    from fsvae_fpga.codegen.design import CodegenError
    from fsvae_fpga.toolchain.estimate import EstimateError, estimate as yosys_estimate
    from fsvae_fpga.codegen.rtl import write_rtl
    from fsvae_fpga.contract.hwmodel import load
    config = config or boards.board(board)["default_config"]
    build = Path(build)
    try:
        hw_dir = hardware_model(config, build)
        rtl_dir = build / "rtl" / board
        write_rtl(load(hw_dir), board, rtl_dir)
        result = yosys_estimate(rtl_dir, board, build / "estimate" / board)
    except (CodegenError, EstimateError) as err:
        raise FlowError(str(err)) from None
    if not result["fits"]:
        raise FlowError(f"the {config} design does not fit {board}: over on {', '.join(result['over'])}")
    return result


# --- make sim ------------------------------------------------------------------------------------
def _sim_paths() -> None:
    """The Verilator runner and the top-level bench live in sim/, beside the package."""
    for p in (ROOT / "sim", ROOT / "sim" / "fsvae_top"):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))


def _vitis_rtl(board: str, vitis_rtl: str | None, out: Path) -> Path:
    """A folder with the Vitis-exported RTL and a manifest the runner reads."""
    rtl_dir = Path(vitis_rtl or ROOT / "build" / "hls" / board / "fsvae_prj" / "solution1" / "impl" / "verilog")
    if not rtl_dir.is_dir() or not list(rtl_dir.glob("*.v")):
        raise FlowError(f"RTL=vitis: no Vitis HLS RTL in {rtl_dir}. Run 'make hls BOARD={board}' with Vitis HLS "
                        f"{boards.vivado_release()} (vitis_hls) first, or pass VITIS_RTL=<dir with the exported .v files>")
    sources = sorted(str(p) for p in rtl_dir.glob("*.v")) + sorted(str(p) for p in rtl_dir.glob("*.sv"))
    rtl_out = out / f"vitis-{board}"
    rtl_out.mkdir(parents=True, exist_ok=True)
    for dat in rtl_dir.glob("*.dat"):                 # Vitis ROM initialisation files
        (rtl_out / dat.name).write_bytes(dat.read_bytes())
    (rtl_out / "manifest.json").write_text(json.dumps({"top": boards.interface()["top"], "sources": sources,
                                                       "board": board, "clock_mhz": boards.board(board)["clock_mhz"],
                                                       "engines": []}))
    return rtl_out


def simulate(config: str | None, board: str | None, n: int, seed: int, out: str | Path, waves: bool = False,
             rtl: str = "generated", vitis_rtl: str | None = None, log=print) -> dict:
    """N images from the shipped model in simulated hardware, compared with the golden model.
    Returns the report; raises FlowError on a difference (after naming the first differing
    layer and step from a traced re-run of the first bad image)."""
    import numpy as np
    from fsvae_fpga.contract import golden, stats
    from fsvae_fpga.contract.hwmodel import load
    from fsvae_fpga.toolchain.perf_report import print_report, report
    _sim_paths()
    import rtl_sim
    if config is None:
        config = boards.board(board)["default_config"] if board else "configs/mnist.yaml"
    board = board or ("pynq-z2" if "small" in config else "kv260")
    boards.board(board)                                   # unknown board: a clear error
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    hw_dir = hardware_model(config, ROOT / "build")
    hw = load(hw_dir)
    if rtl == "vitis":
        rtl_dir = _vitis_rtl(board, vitis_rtl, out)
    else:
        rtl_dir = out / f"rtl-{Path(config).stem}-{board}"
        log(f"codegen rtl: {hw_dir} on {board} -> {rtl_dir}")
        codegen_rtl(hw, board, rtl_dir, log=lambda *a, **k: None)
    manifest = rtl_sim.manifest(rtl_dir)
    if waves and not rtl_sim.fst_available():
        log("WAVES=1: lz4.h is not installed (Debian: apt install liblz4-dev), which Verilator's FST "
            "writer needs; writing a VCD waveform instead")
    log("Verilator build ...")
    build_s = rtl_sim.build(rtl_dir, waves=waves)
    log(f"built in {build_s:.1f} s")
    result_file = out / "result.json"
    result_file.unlink(missing_ok=True)
    t0 = time.perf_counter()
    total, failed, xml = rtl_sim.simulate(rtl_dir, hw_dir, n, seed, 0, result=result_file, progress=True,
                                          lean_axil=True, waves=waves, testcase="run_images")
    run_s = time.perf_counter() - t0
    if not result_file.is_file():
        raise SimulationMismatch(f"the simulation produced no result (see {xml} and the log above)")
    result = json.loads(result_file.read_text())
    got = np.load(result_file.with_suffix(".npy"))
    import torch
    from fsvae_fpga.evaluation.images import save_grid
    save_grid(torch.from_numpy(got), out / "samples.png")
    if not result["equal"]:
        want = golden.generate(hw, n, seed)
        bad = int(np.flatnonzero((got != want).reshape(n, -1).any(axis=1))[0])
        why = "no trace in Vitis RTL; compare layers with the generated RTL (make sim)"
        if manifest.get("engines"):
            import diagnose
            log(f"MISMATCH in image {bad}: re-running it with the trace on ...")
            rtl_sim.simulate(rtl_dir, hw_dir, 1, seed, bad, testcase="run_images", lean_axil=True,
                             plusargs=["+fsvae_trace"])
            why = diagnose.first_difference(hw, Path(rtl_dir) / "fsvae_trace.txt", seed, bad)
        raise SimulationMismatch(f"MISMATCH: {int((got != want).sum())} pixels differ; first bad image {bad}: {why}")
    if failed:
        raise SimulationMismatch(f"{failed} of {total} bench tests failed (see {xml})")
    rep = {"bit_exact": True, "images": n}
    if manifest.get("engines"):
        rows = stats.layer_stats(hw, "generate", n, seed)
        rep = report(manifest, result, rows, build_s, run_s)
        (out / "report.json").write_text(json.dumps(rep, indent=1) + "\n")
        print_report(rep)
    if waves:
        log(f"waveform: {rtl_sim.wave_file(rtl_dir)}")
    log(f"\nbit-exact: all {n} images ({got.size} pixels) equal the golden model's. "
        f"Wrote {out / 'samples.png'}" + (f" and {out / 'report.json'}" if manifest.get("engines") else ""))
    return rep
