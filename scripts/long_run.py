"""The long training run for the next shipped model, as one resumable step.

    python scripts/long_run.py --out runs/long --epochs 40 [--config configs/mnist.yaml]
        [--set train.detach_teacher=true ...] [--device cuda]

Starts the run, or continues it from OUT/last.pt (``fsvae-fpga train --resume``) up to
--epochs in total, so it can be stopped at any time and started again (on the GPU machine
when one is lent, or over several CPU sessions with the run folder carried along).  Then
scores OUT/last.pt with ``fsvae-fpga evaluate`` (hardware sampler: the images the hardware
makes) and compares it with the shipped model's evaluate.json on reconstruction and on
both Fréchet distances.  It never ships: scripts/ship_model.py does, and refuses a run that
is not better on both.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_EVAL = ROOT / "sw" / "fsvae_fpga" / "shipped" / "mnist" / "evaluate.json"


def fsvae_fpga(*args: str, capture: bool = False) -> str:
    exe = Path(sys.executable).with_name("fsvae-fpga")
    res = subprocess.run([str(exe), *args], cwd=ROOT, text=True, capture_output=capture)
    if res.returncode != 0:
        raise SystemExit(f"fsvae-fpga {' '.join(args)} exited {res.returncode}" +
                         (f": {res.stderr.strip().splitlines()[-1]}" if capture and res.stderr.strip() else ""))
    return res.stdout if capture else ""


def compare(run_eval: dict, shipped: dict) -> dict:
    """Better on reconstruction (lower MSE) and on samples (lower Fréchet distance, every
    score both have)."""
    keys = [k for k in ("frechet_distance", "frechet_distance_sharp")
            if run_eval.get(k) is not None and shipped.get(k) is not None]
    better = {"reconstruction_mse": run_eval["reconstruction_mse"] < shipped["reconstruction_mse"],
              **{k: run_eval[k] < shipped[k] for k in keys}}
    return {"better": better, "beats_shipped": bool(keys) and all(better.values())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="run folder (created, or continued from its last.pt)")
    ap.add_argument("--epochs", type=int, required=True, help="total epochs of the run")
    ap.add_argument("--config", default="configs/mnist.yaml", help="for a new run")
    ap.add_argument("--set", action="append", default=[], help="config override for a new run (KEY=VALUE)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = ap.parse_args(argv)
    last = args.out / "last.pt"
    sets = [a for s in args.set for a in ("--set", s)]
    if last.is_file():
        from fsvae_fpga.training.checkpoint import read_checkpoint
        if read_checkpoint(last)["epoch"] < args.epochs:
            fsvae_fpga("train", "--resume", str(last), "--out", str(args.out), "--epochs", str(args.epochs),
                       "--device", args.device, *sets)
    else:
        fsvae_fpga("train", "--config", args.config, "--out", str(args.out), "--epochs", str(args.epochs),
                   "--device", args.device, *sets)
    run_eval = json.loads(fsvae_fpga("evaluate", "--ckpt", str(last), "--json", capture=True).strip().splitlines()[-1])
    shipped = json.loads(SHIPPED_EVAL.read_text())
    verdict = {"run": run_eval, "shipped": {k: shipped.get(k) for k in ("reconstruction_mse", "frechet_distance",
                                                                        "frechet_distance_sharp")},
               **compare(run_eval, shipped)}
    (args.out / "verdict.json").write_text(json.dumps(verdict, indent=1) + "\n")
    print(json.dumps(verdict, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
