"""Carry a CPU training run to the next session, on machines that keep only the git tree.

    python scripts/carry_run.py runs/m59k5            # writes carried/m59k5.pt (commit it)
    fsvae-fpga train --resume carried/m59k5.pt --out runs/m59k5 --epochs 122   # next session

A run's ``last.pt`` holds float shadow weights and AdamW's moments (about 50 MB for the
paper model) and lives under the ignored ``runs/``, so a new checkout starts without it.
This writes the run's model in the shipped model's compact form (checkpoint.save_compact:
config with every override, history, epoch, the fixed-point weights as int8 + exponent;
about 4 MB), which ``--resume`` continues on the same schedule with a fresh AdamW.

It replaces an earlier carried file only when that file is the same run, fewer epochs along
(its history a prefix of this one's); anything else there is refused, never overwritten.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fsvae_fpga.training.checkpoint import CheckpointError, load_model, read_checkpoint, save_compact

ROOT = Path(__file__).resolve().parents[1]


def same_run_behind(existing: dict, ckpt: dict) -> bool:
    """existing is this run at fewer (or as many) epochs: its history a prefix of ckpt's."""
    old, new = existing.get("history") or [], ckpt.get("history") or []
    return len(old) <= len(new) and new[:len(old)] == old and existing["epoch"] <= ckpt["epoch"]


def carry(run: Path, dest: Path) -> Path:
    model, ckpt = load_model(run / "last.pt")
    if dest.exists():
        try:
            existing = read_checkpoint(dest)
        except CheckpointError as err:
            raise CheckpointError(f"{dest} exists and is not a carried checkpoint ({err}); "
                                  "give another destination with --dest") from None
        if not same_run_behind(existing, ckpt):
            raise CheckpointError(f"{dest} holds another run (its history is not the start of {run}'s); "
                                  "give another destination with --dest")
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_compact(dest, model, ckpt)
    return dest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="run folder (its last.pt is carried)")
    ap.add_argument("--dest", type=Path, help="default: carried/<run folder's name>.pt")
    args = ap.parse_args(argv)
    try:
        dest = carry(args.run, args.dest or ROOT / "carried" / f"{args.run.name}.pt")
    except CheckpointError as err:
        print(f"carry_run: error: {err}", file=sys.stderr)
        return 2
    ckpt = read_checkpoint(dest)
    print(f"{dest}: epoch {ckpt['epoch']}, {dest.stat().st_size / 2**20:.1f} MiB; "
          f"resume with: fsvae-fpga train --resume {dest} --out runs/{args.run.name} "
          f"--epochs {ckpt['config']['train']['epochs']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
