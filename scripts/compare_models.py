"""Scores of two or more checkpoints over several sampler seeds, side by side.

    python scripts/compare_models.py CKPT [CKPT ...] [--seeds 0,1,2,3,4] [--out FILE.json]
    (CKPT "shipped" is the shipped model)

One seed's 500 samples are one draw: on the shipped model the classic Fréchet distance moves
by about 10 between seeds (131.1 to 140.6 over seeds 0-4), more than the difference between
many runs.  So a run is compared with another on the mean over the same seeds of
``fsvae-fpga evaluate`` (hardware sampler, the same 500 held-out images): reconstruction MSE
and both Fréchet distances.  Prints a Markdown table (per seed, mean and spread) and
optionally writes every number as JSON.  scripts/ship_model.py decides with it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCORES = ("reconstruction_mse", "frechet_distance", "frechet_distance_sharp")
DEFAULT_SEEDS = (0, 1, 2, 3, 4)


def evaluate(ckpt: str, seed: int) -> dict:
    exe = Path(sys.executable).with_name("fsvae-fpga")
    args = [str(exe), "evaluate", "--json", "--seed", str(seed)] + ([] if ckpt == "shipped" else ["--ckpt", ckpt])
    res = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"evaluate {ckpt} seed {seed} failed: {(res.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def scores(ckpt: str, seeds=DEFAULT_SEEDS) -> dict:
    """{"per_seed": {seed: {score: value}}, "mean": {score: mean}, "stdev": {score: stdev}}"""
    per_seed = {}
    for seed in seeds:
        result = evaluate(ckpt, seed)
        per_seed[seed] = {k: result[k] for k in SCORES}
        print(f"{ckpt} seed {seed}: " + ", ".join(f"{k} {v}" for k, v in per_seed[seed].items()), file=sys.stderr)
    values = {k: [s[k] for s in per_seed.values()] for k in SCORES}
    return {"per_seed": per_seed, "mean": {k: statistics.fmean(v) for k, v in values.items()},
            "stdev": {k: statistics.stdev(v) if len(v) > 1 else 0.0 for k, v in values.items()}}


def better_on_every_score(run: dict, reference: dict) -> dict:
    """Lower mean on each score (all three are lower-is-better)."""
    better = {k: run["mean"][k] < reference["mean"][k] for k in SCORES}
    return {"better": better, "beats": all(better.values())}


def table(results: dict) -> str:
    lines = ["| checkpoint | held-out MSE | Fréchet classic | Fréchet sharp |", "|---|---|---|---|"]
    for name, r in results.items():
        cells = [f"{r['mean'][k]:.4f} ± {r['stdev'][k]:.4f}" if k == "reconstruction_mse"
                 else f"{r['mean'][k]:.1f} ± {r['stdev'][k]:.1f}" for k in SCORES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpts", nargs="+", help='checkpoints ("shipped": the shipped model)')
    ap.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)), help="sampler seeds, comma-separated")
    ap.add_argument("--out", type=Path, help="write every number as JSON here")
    args = ap.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        ap.error(f"--seeds {args.seeds!r}: expected integers separated by commas, e.g. 0,1,2")
    for ckpt in args.ckpts:
        if ckpt != "shipped" and not Path(ckpt).is_file():
            ap.error(f"{ckpt}: no such checkpoint")
    results = {ckpt: scores(ckpt, seeds) for ckpt in args.ckpts}
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps({"seeds": seeds, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
