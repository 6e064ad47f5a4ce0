"""Sparsity-aware training, measured: sample quality against hardware cycles per image.

    python benchmarks/sparsity_pareto.py NAME=CKPT [NAME=CKPT ...] [--board kv260] [--n 4]
        [--seeds 0,1,2] [--out build/sparsity]

Each checkpoint (for example the arms of scripts/sparsity_arms.sh: the 50-epoch run plus a
decoder stage with train.spike_rate_penalty at several weights) is measured the same way:

* quality: ``fsvae-fpga evaluate`` (hardware sampler, the same 500 held-out images) over the
  sampler seeds: reconstruction MSE, Fréchet classic and sharp (means);
* events: the golden model's per-layer event accumulates and spike rates on 8 generated
  images (``stats.layer_stats``, what the balance plan reads);
* hardware: the model exported and generated as RTL for ``--board`` (its own balance plan:
  lanes and copies follow the events), simulated in Verilator for ``--n`` images, every
  pixel compared with the golden model (``==``), cycles per image and projected images/s at
  the board's clock.

Writes OUT/pareto.json (every number; an arm already in it with the same checkpoint is not
measured again), OUT/pareto.md (the table) and OUT/pareto-<score>.png (each score against
cycles per image).  Nothing here trains; it takes minutes per checkpoint.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT / "sim", ROOT / "sim" / "fsvae_top"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

SCORES = ("reconstruction_mse", "frechet_distance", "frechet_distance_sharp")


def quality(ckpt: Path, seeds: list[int]) -> dict:
    exe = Path(sys.executable).with_name("fsvae-fpga")
    per_seed = {}
    for seed in seeds:
        res = subprocess.run([str(exe), "evaluate", "--json", "--seed", str(seed), "--ckpt", str(ckpt)],
                             cwd=ROOT, capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(f"evaluate {ckpt} seed {seed} failed: {(res.stderr.strip().splitlines() or ['?'])[-1]}")
        r = json.loads(res.stdout.strip().splitlines()[-1])
        per_seed[seed] = {k: r[k] for k in SCORES}
    return {"per_seed": per_seed, "mean": {k: statistics.fmean(s[k] for s in per_seed.values()) for k in SCORES}}


def hardware(name: str, ckpt: Path, board: str, n: int, out: Path) -> dict:
    """Export, RTL for the board, Verilator: cycles per image, bit-exact against golden."""
    import numpy as np
    import rtl_sim
    from fsvae_fpga.codegen import boards
    from fsvae_fpga.codegen.rtl import write_rtl
    from fsvae_fpga.contract import golden, stats
    from fsvae_fpga.contract.export import export
    from fsvae_fpga.contract.hwmodel import load
    from fsvae_fpga.toolchain.perf_report import report
    from fsvae_fpga.training.checkpoint import load_model
    model, _ = load_model(ckpt)
    hw_dir = export(model, out / name / "hwmodel")
    hw = load(hw_dir)
    rows = stats.layer_stats(hw, "generate", 8, 0)
    manifest = write_rtl(hw, board, out / name / f"rtl-{board}")
    rtl_dir = out / name / f"rtl-{board}"
    build_s = rtl_sim.build(rtl_dir)
    result_file = out / name / "result.json"
    result_file.unlink(missing_ok=True)
    _, failed, _ = rtl_sim.simulate(rtl_dir, hw_dir, n, 0, 0, result=result_file, lean_axil=True,
                                    testcase="run_images")
    result = json.loads(result_file.read_text())
    got = np.load(result_file.with_suffix(".npy"))
    want = golden.generate(hw, n, 0)
    exact = bool((got == want).all()) and bool(result["equal"]) and not failed
    rep = report(manifest, result, stats.layer_stats(hw, "generate", n, 0), build_s, 0.0)
    cycles = float(rep["total"]["cycles_per_image"])
    clock = float(boards.board(board)["clock_mhz"])
    plan = manifest.get("balance") or {}
    return {"bit_exact": exact, "images": n, "cycles_per_image": cycles,
            "images_per_s": clock * 1e6 / cycles, "clock_mhz": clock,
            "accumulates_per_image": sum(r["event_accumulates"] for r in rows
                                         if r["layer"].startswith("decoder")),
            "input_events": {r["layer"]: r["input_events"] for r in rows},
            "lanes": plan.get("layer_lanes"), "replicas": plan.get("replicas"),
            "slowest_bound": max((plan.get("unit_bounds") or {"-": 0}).values()),
            "lower_bound_cycles": rep["total"]["lower_bound_cycles"]}


def table(results: dict, board: str) -> str:
    lines = [f"| arm | held-out MSE | Fréchet classic | Fréchet sharp | decoder accumulates / image | "
             f"{board} cycles / image | images/s | bit-exact |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        q, h = r["quality"]["mean"], r["hardware"]
        lines.append(f"| {name} | {q['reconstruction_mse']:.4f} | {q['frechet_distance']:.1f} | "
                     f"{q['frechet_distance_sharp']:.2f} | {h['accumulates_per_image'] / 1e6:.2f} M | "
                     f"{h['cycles_per_image']:,.0f} | {h['images_per_s']:,.0f} | {'yes' if h['bit_exact'] else 'NO'} |")
    return "\n".join(lines)


def plot(results: dict, out: Path, board: str) -> list[Path]:
    """One PNG per score: the score against cycles per image, a point per arm (PIL, as the
    bench's plots)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_plots import xy_plot
    paths = []
    for key, label in zip(SCORES, ("held-out MSE", "Frechet distance (classic)", "Frechet distance (sharp)")):
        series = [{"label": name, "x": [r["hardware"]["cycles_per_image"] / 1e3], "y": [r["quality"]["mean"][key]],
                   "line": False} for name, r in results.items()]
        paths.append(xy_plot(out / f"pareto-{key}.png", series, f"{board} cycles per image (thousands)", label,
                             f"sparsity-aware training: {label} against cycles (lower is better on both)",
                             y_from_zero=False))
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arms", nargs="+", help="NAME=CHECKPOINT")
    ap.add_argument("--board", default="kv260")
    ap.add_argument("--n", type=int, default=4, help="images simulated per arm (back to back)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "sparsity")
    args = ap.parse_args(argv)
    arms = {}
    for item in args.arms:
        name, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            ap.error(f"{item}: expected NAME=CHECKPOINT with an existing checkpoint file")
        arms[name] = Path(path)
    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    results_file = args.out / "pareto.json"
    results = json.loads(results_file.read_text())["results"] if results_file.is_file() else {}
    for name, ckpt in arms.items():
        if name in results and results[name].get("checkpoint") == str(ckpt):
            continue                                  # measured before (the file is the cache)
        print(f"{name}: {ckpt}", file=sys.stderr)
        results[name] = {"checkpoint": str(ckpt), "hardware": hardware(name, ckpt, args.board, args.n, args.out),
                         "quality": quality(ckpt, seeds)}
        results_file.write_text(json.dumps({"board": args.board, "seeds": seeds, "results": results}, indent=1))
    md = table({k: results[k] for k in arms}, args.board)
    (args.out / "pareto.md").write_text(md + "\n")
    plot({k: results[k] for k in arms}, args.out, args.board)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
