"""Training-recipe ablations (docs/recipe-comparison.md): one training run per arm on the same
configuration, seed and number of epochs, then held-out reconstruction MSE and sample
Fréchet distances (classic and sharp feature nets; samples from the hardware sampler, i.e.
the images the hardware makes) for the float stage (float.pt) and the fixed-point stage
(last.pt).  Prints a Markdown table and writes OUT/ablations.json; a finished arm is not run
again (its run folder is reused) and an arm stopped part-way is resumed from its last.pt, so
the script can be stopped and started again.

    python benchmarks/recipe_ablations.py --config configs/small.yaml --epochs 4 --float-epochs 2 \\
        --out build/ablations [--arms baseline,D,G]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The recipe the arms are measured against: the firing regime and per-image MMD weight of the
# recipe the ablations began from, set explicitly so that an arm means the same change if a
# configuration file's defaults move to one of the arms.
BASE = ["network.bn_scale=1.0", "network.latent_bn_scale=1.0", "network.surrogate_centre=threshold",
        "train.mmd_weight=1.0", "train.fixed_point_lr=null"]

# the levers some arms combine (and their second seeds repeat)
AUTHORS_BN_SCALE = ["network.bn_scale=0.2", "network.latent_bn_scale=0.4"]
AUTHORS_FIRING = [*AUTHORS_BN_SCALE, "network.surrogate_centre=zero"]
NO_SCHEDULED_SAMPLING = "train.scheduled_sampling=[0.0,0.0]"
LIGHT_MMD = "train.mmd_weight=0.1"
# the fixed-point stage under the authors' firing regime: the fold leaves weights 5 times
# smaller, so its fresh AdamW starts at a fifth of train.lr
FIXED_POINT_LR = "train.fixed_point_lr=0.0002"

# arm -> (what it changes, --set overrides on top of BASE); letters as in docs/recipe-comparison.md
ARMS = {
    "baseline": ("the recipe before these ablations (BASE)", []),
    "S1": ("the baseline, another seed (the noise between runs)", ["train.seed=1"]),
    "A": ("no batch norm anywhere (fixed point from the start)", ["train.float_epochs=0"]),
    "B": ("no batch norm in the stepped posterior and prior", ["network.latent_batch_norm=false"]),
    "D": ("prior taught with the posterior's z detached", ["train.detach_teacher=true"]),
    "E": ("D, and no gradient through the posterior's fed-back z", ["train.detach_teacher=true",
                                                                     "train.detach_history=true"]),
    "F1": ("batch-norm output x 0.2 (x 0.4 in the latent nets), as the authors' tdBN; surrogate "
           "unchanged", AUTHORS_BN_SCALE),
    "F": ("F1, and the surrogate window centred at 0 (the authors' firing regime)", AUTHORS_FIRING),
    "F2": ("surrogate window centred at 0 only", ["network.surrogate_centre=zero"]),
    "G": ("scheduled sampling off", [NO_SCHEDULED_SAMPLING]),
    "H": ("scheduled sampling as the authors' code (a coin per step for the batch, the prior's "
          "arg-max bit without gradient, from step train.scheduled_from_step)", ["train.scheduled_sampling_mode=authors"]),
    "I": ("learning rate by the authors' rule (1e-3 x batch / 250)", ["train.lr=0.000128"]),
    "J": ("learning rate decayed by a cosine to 1e-4 over each stage", ["train.lr_final=0.0001"]),
    # levers found later on the paper-size model, here from the start of training
    "M": ("per-image MMD at weight 0.1 (the lever on reconstruction of the shipped model)",
          [LIGHT_MMD]),
    "M1": ("M with another seed (seed 1: the seed whose baseline collapsed on the paper configuration)",
           [LIGHT_MMD, "train.seed=1"]),
    "FM": ("F and M together (the authors' firing regime, per-image MMD at weight 0.1)",
           [*AUTHORS_FIRING, LIGHT_MMD]),
    "FL": ("F, and the fixed-point stage starting at lr 2e-4 (a fifth of train.lr)",
           [*AUTHORS_FIRING, FIXED_POINT_LR]),
    # levers on top of the new default (FL, configs/mnist.yaml): what the long run for the next
    # shipped model would add to it
    "FLM": ("FL and M together (the long-run recipe's per-image MMD at weight 0.1)",
            [*AUTHORS_FIRING, FIXED_POINT_LR, LIGHT_MMD]),
    "FLG": ("FL and G together (scheduled sampling off)", [*AUTHORS_FIRING, FIXED_POINT_LR, NO_SCHEDULED_SAMPLING]),
    "W": ("the prior stage's batch MMD at wide kernels (0.25-2 x the mean distance)",
          ["train.batch_mmd_widths=[0.25,0.5,1,2]"]),
}

# second seeds: arm + "S1" is the arm at seed 1 (one seed per arm shows only large effects;
# the baseline's own second seed is S1, M's is M1)
for _arm in ["F", "FL", "FLM", "F1", "G", "D", "E", "B", "I"]:
    ARMS[_arm + "S1"] = (f"{_arm} with another seed (seed 1)", [*ARMS[_arm][1], "train.seed=1"])


def cli(*args: str) -> str:
    exe = Path(sys.executable).with_name("fsvae-fpga")
    res = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        raise SystemExit(f"fsvae-fpga {' '.join(args)} failed:\n{res.stderr[-2000:]}")
    return res.stdout


def epochs_done(ckpt: Path) -> int:
    """The epochs a run's checkpoint holds (0 without one): an arm stopped part-way has a
    last.pt of fewer epochs than asked, and is resumed rather than scored."""
    if not ckpt.is_file():
        return 0
    from fsvae_fpga.training.checkpoint import read_checkpoint
    return int(read_checkpoint(ckpt)["epoch"])


def evaluate(ckpt: Path, samples: int) -> dict:
    out = json.loads(cli("evaluate", "--ckpt", str(ckpt), "--samples", str(samples), "--json").strip().splitlines()[-1])
    return {k: out[k] for k in ("stage", "epochs", "reconstruction_mse", "frechet_distance", "frechet_distance_sharp")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/small.yaml")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--float-epochs", type=int, default=2)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an override for every arm (e.g. train.prior_epochs=2), before the arm's own")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "ablations")
    args = ap.parse_args(argv)
    arms = args.arms.split(",")
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        ap.error(f"unknown arm(s) {unknown}; choose from {list(ARMS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "ablations.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for arm in arms:
        what, sets = ARMS[arm]
        key = ":".join([arm, args.config, str(args.epochs), str(args.float_epochs), *args.set])
        if key in results:
            continue
        run = args.out / arm
        sets = [f"train.epochs={args.epochs}", f"train.float_epochs={args.float_epochs}", *args.set, *BASE, *sets]
        if arm == "A":
            sets = [s for s in sets if not s.startswith("train.float_epochs=")] + ["train.float_epochs=0"]
        t0 = time.perf_counter()
        done = epochs_done(run / "last.pt")
        if done == 0:
            cli("train", "--config", args.config, "--out", str(run), *[a for s in sets for a in ("--set", s)])
        elif done < args.epochs:      # stopped part-way: continue it (its config is in the checkpoint)
            cli("train", "--resume", str(run / "last.pt"), "--out", str(run), "--epochs", str(args.epochs))
        seconds = time.perf_counter() - t0
        row = {"arm": arm, "what": what, "sets": sets, "train_seconds": round(seconds),
               **({"resumed_from_epoch": done} if 0 < done < args.epochs else {})}
        row["float"] = evaluate(run / "float.pt", args.samples) if (run / "float.pt").is_file() else None
        row["fixed_point"] = evaluate(run / "last.pt", args.samples)
        results[key] = row
        results_path.write_text(json.dumps(results, indent=1) + "\n")
        print(f"{arm}: done in {seconds:.0f} s", file=sys.stderr)
    print("| arm | change | float MSE | float FD (classic / sharp) | fixed-point MSE | fixed-point FD (classic / sharp) |")
    print("|---|---|---|---|---|---|")
    for row in results.values():
        f, q = row["float"], row["fixed_point"]
        fl = ("–", "–") if f is None else (f"{f['reconstruction_mse']:.4f}",
                                           f"{f['frechet_distance']:.1f} / {f['frechet_distance_sharp']:.1f}")
        print(f"| {row['arm']} | {row['what']} | {fl[0]} | {fl[1]} | {q['reconstruction_mse']:.4f} | "
              f"{q['frechet_distance']:.1f} / {q['frechet_distance_sharp']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
