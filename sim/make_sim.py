"""``make sim``: images from the shipped model in simulated hardware, byte for byte against the
golden model, with a performance report.

    export (checkpoint -> hardware model) -> codegen rtl (board) -> Verilator build ->
    cocotb bench (sim/fsvae_top): N images in one ap_start -> compare -> report

Writes ``<out>/samples.png`` and ``<out>/report.json`` (per layer and in total: cycles per
image, input events per image, the event-driven lower bound, lane utilisation and projected
images per second at the board's clock).  Exits non-zero on any pixel difference, after
naming the first differing layer and time step (a traced re-run of the first bad image).

``--rtl vitis`` runs the same bench on Vitis HLS-exported RTL (``--vitis-rtl DIR``, default
build/hls/<board>/fsvae_prj/solution1/impl/verilog) instead of the generated RTL.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT / "sim", ROOT / "sim" / "fsvae_top", ROOT / "sw"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import numpy as np  # noqa: E402

import rtl_sim  # noqa: E402
from fsvae_fpga import cli_args  # noqa: E402
from fsvae_fpga import boards, hwmodel, stats  # noqa: E402
from fsvae_fpga.export import export_shipped  # noqa: E402


def export_model(config: str, out: Path) -> Path:
    try:
        return export_shipped(config, out)
    except KeyError as err:
        raise SystemExit(f"make sim: {err.args[0]}") from None


def lower_bounds(manifest: dict, rows: list[dict]) -> dict:
    """Per layer: (event accumulates + neuron updates) / lanes, in cycles per image; the lanes
    of all of a layer's engine copies count."""
    lanes = {}
    for e in manifest["engines"]:
        lanes[e["layer"]] = lanes.get(e["layer"], 0) + e["lanes"]
    return {r["layer"]: {"lanes": lanes[r["layer"]], "event_accumulates": r["event_accumulates"],
                         "lower_bound": (r["event_accumulates"] + r["neuron_updates"]) / lanes[r["layer"]]}
            for r in rows}


def report(manifest: dict, result: dict, rows: list[dict], build_s: float, run_s: float) -> dict:
    n, c = result["n"], result["counters"]
    clock = manifest["clock_mhz"] * 1e6
    lb = lower_bounds(manifest, rows)
    layers = []
    for name, b in lb.items():
        insts = [e["instance"] for e in manifest["engines"] if e["layer"] == name]
        busy = sum(c[f"perf_{i}_busy"] for i in insts) / len(insts) / n
        events = sum(c[f"perf_{i}_events"] for i in insts) / n
        layers.append({"layer": name, "instances": len(insts), "lanes": b["lanes"],
                       "busy_cycles_per_image": busy, "input_events_per_image": events,
                       "event_accumulates_per_image": b["event_accumulates"],
                       "lower_bound_cycles": b["lower_bound"], "lane_utilisation": b["lower_bound"] / busy})
    cycles = c["perf_run_cycles"] / n
    bound = max(x["lower_bound_cycles"] for x in layers)
    total_acc = sum(x["event_accumulates_per_image"] for x in layers)
    total_lanes = sum(x["lanes"] for x in layers)
    return {
        "board": manifest["board"], "clock_mhz": manifest["clock_mhz"], "images": n, "seed": result["seed"],
        "bit_exact": result["equal"], "build_s": round(build_s, 1), "run_s": round(run_s, 1),
        "sim_cycles_per_s": round(c["perf_run_cycles"] / max(run_s, 1e-9)),
        "definitions": {
            "busy_cycles_per_image": "cycles the layer's engine(s) spend inside a time step (start to done, "
                                     "including waits for input events and output backpressure), per image",
            "input_events_per_image": "spikes the layer's engines took in, per image",
            "lower_bound_cycles": "event accumulates / lanes + neuron updates / lanes (golden-model traffic)",
            "lane_utilisation": "lower bound / busy cycles (per layer); total: the slowest layer's bound / "
                                "measured cycles per image, since the layers run concurrently",
            "all_lanes_utilisation": "all event accumulates / (all lanes x cycles per image)",
            "projected_images_per_s": "board clock / measured cycles per image (images overlap)",
        },
        "layers": layers,
        "total": {
            "cycles_per_image": cycles,
            "projected_images_per_s": clock / cycles,
            # the layers run concurrently: the design's bound is its slowest layer's bound
            "lower_bound_cycles": bound,
            "lane_utilisation": bound / cycles,
            # every lane of every engine, over the whole image time
            "all_lanes_utilisation": total_acc / (total_lanes * cycles),
        },
    }


def print_report(rep: dict) -> None:
    print(f"\n{'layer':<12}{'inst':>5}{'lanes':>6}{'cycles/img':>12}{'events/img':>12}{'bound':>10}{'util':>7}")
    for x in rep["layers"]:
        print(f"{x['layer']:<12}{x['instances']:>5}{x['lanes']:>6}{x['busy_cycles_per_image']:>12,.0f}"
              f"{x['input_events_per_image']:>12,.0f}{x['lower_bound_cycles']:>10,.0f}{x['lane_utilisation']:>7.0%}")
    t = rep["total"]
    print(f"{'total':<23}{t['cycles_per_image']:>12,.0f}{'':>12}{t['lower_bound_cycles']:>10,.0f}"
          f"{t['lane_utilisation']:>7.0%}")
    print(f"projected {t['projected_images_per_s']:,.0f} images/s on {rep['board']} at {rep['clock_mhz']} MHz; "
          f"Verilator build {rep['build_s']} s, run {rep['run_s']} s ({rep['sim_cycles_per_s']:,} cycles/s)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=None, help="default: the board's default_config (hw/boards.yaml), "
                                                    "configs/mnist.yaml without --board")
    ap.add_argument("--board", default=None, help="default: kv260 for the paper config, pynq-z2 for the small one")
    ap.add_argument("--n", type=cli_args.images, default=16)
    ap.add_argument("--seed", type=cli_args.seed, default=0, help="sampler seed, 0..2^32-1")
    ap.add_argument("--out", default=str(ROOT / "build" / "sim"))
    ap.add_argument("--waves", action="store_true", help="write an FST waveform (slow for full-size runs)")
    ap.add_argument("--rtl", choices=["generated", "vitis"], default="generated")
    ap.add_argument("--vitis-rtl", default=None)
    args = ap.parse_args(argv)
    if args.config is None:
        args.config = boards.board(args.board)["default_config"] if args.board else "configs/mnist.yaml"
    board = args.board or ("pynq-z2" if "small" in args.config else "kv260")
    boards.board(board)                                   # unknown board: a clear error
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = Path(args.config).stem
    hw_dir = export_model(args.config, ROOT / "build" / f"hwmodel-{tag}")
    hw = hwmodel.load(hw_dir)

    if args.rtl == "vitis":
        rtl_dir = Path(args.vitis_rtl or ROOT / "build" / "hls" / board / "fsvae_prj" / "solution1" / "impl" / "verilog")
        if not rtl_dir.is_dir() or not list(rtl_dir.glob("*.v")):
            print(f"make sim RTL=vitis: no Vitis HLS RTL in {rtl_dir}. Run 'make hls BOARD={board}' with Vitis HLS "
                  f"{boards.vivado_release()} (vitis_hls) first, or pass VITIS_RTL=<dir with the exported .v files>.",
                  file=sys.stderr)
            return 2
        sources = sorted(str(p) for p in rtl_dir.glob("*.v")) + sorted(str(p) for p in rtl_dir.glob("*.sv"))
        rtl_out = out / f"vitis-{board}"
        rtl_out.mkdir(parents=True, exist_ok=True)
        for dat in rtl_dir.glob("*.dat"):                 # Vitis ROM initialisation files
            (rtl_out / dat.name).write_bytes(dat.read_bytes())
        (rtl_out / "manifest.json").write_text(json.dumps({"top": boards.interface()["top"], "sources": sources,
                                                           "board": board, "clock_mhz": boards.board(board)["clock_mhz"],
                                                           "engines": []}))
        rtl_dir = rtl_out
    else:
        from fsvae_fpga.codegen.rtl import write_rtl
        rtl_dir = out / f"rtl-{tag}-{board}"
        print(f"codegen rtl: {hw_dir} on {board} -> {rtl_dir}")
        write_rtl(hw, board, rtl_dir)
    manifest = rtl_sim.manifest(rtl_dir)

    if args.waves and not rtl_sim.fst_available():
        print("WAVES=1: lz4.h is not installed (Debian: apt install liblz4-dev), which Verilator's FST "
              "writer needs; writing a VCD waveform instead", flush=True)
    print("Verilator build ...", flush=True)
    build_s = rtl_sim.build(rtl_dir, waves=args.waves)
    print(f"built in {build_s:.1f} s", flush=True)
    result_file = out / "result.json"
    result_file.unlink(missing_ok=True)
    t0 = time.perf_counter()
    total, failed, xml = rtl_sim.simulate(rtl_dir, hw_dir, args.n, args.seed, 0, result=result_file, progress=True,
                                          lean_axil=True, waves=args.waves, testcase="run_images")
    run_s = time.perf_counter() - t0
    if not result_file.is_file():
        print(f"make sim: the simulation produced no result (see {xml} and the log above)", file=sys.stderr)
        return 1
    result = json.loads(result_file.read_text())
    got = np.load(result_file.with_suffix(".npy"))
    import torch
    from fsvae_fpga.images import save_grid
    save_grid(torch.from_numpy(got), out / "samples.png")
    if not result["equal"]:
        from fsvae_fpga import golden
        want = golden.generate(hw, args.n, args.seed)
        bad = int(np.flatnonzero((got != want).reshape(args.n, -1).any(axis=1))[0])
        print(f"make sim: MISMATCH: {int((got != want).sum())} pixels differ; first bad image {bad}. "
              "Re-running it with the trace on ...", file=sys.stderr)
        if manifest.get("engines"):
            import diagnose
            rtl_sim.simulate(rtl_dir, hw_dir, 1, args.seed, bad, testcase="run_images", lean_axil=True,
                             plusargs=["+fsvae_trace"])
            print("make sim: " + diagnose.first_difference(hw, Path(rtl_dir) / "fsvae_trace.txt", args.seed, bad),
                  file=sys.stderr)
        else:
            print("make sim: no trace in Vitis RTL; compare layers with the generated RTL (make sim)", file=sys.stderr)
        return 1
    if failed:
        print(f"make sim: {failed} of {total} bench tests failed (see {xml})", file=sys.stderr)
        return 1
    if manifest.get("engines"):
        rows = stats.layer_stats(hw, "generate", args.n, args.seed)
        rep = report(manifest, result, rows, build_s, run_s)
        (out / "report.json").write_text(json.dumps(rep, indent=1) + "\n")
        print_report(rep)
    if args.waves:
        print(f"waveform: {rtl_sim.wave_file(rtl_dir)}")
    print(f"\nbit-exact: all {args.n} images ({got.size} pixels) equal the golden model's. "
          f"Wrote {out / 'samples.png'}" + (f" and {out / 'report.json'}" if manifest.get("engines") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
