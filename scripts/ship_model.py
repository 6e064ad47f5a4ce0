"""Copy a trained run into the shipped model folder (sw/fsvae_fpga/shipped/mnist/).

Writes model.pt (config, history and weights, the fixed-point ones as int8 + exponent, which
keeps it near 4 MB; no optimizer state), config.yaml,
training_log.jsonl, evaluate.json, samples.png, reconstructions.png and loss.png.
Usage: python scripts/ship_model.py RUN_DIR [--force]

Refuses a run that is not better than the shipped model on reconstruction and on both
Fréchet distances, each as the mean over sampler seeds 0-4 on the same held-out set
(scripts/compare_models.py: one seed's 500 samples move the classic distance by about 10),
unless --force is given.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from fsvae_fpga.training.checkpoint import SHIPPED_DIR, load_model, save_compact


def main():
    run = Path(sys.argv[1])
    model, ckpt = load_model(run / "last.pt")
    if ckpt["stage"] != "quant":
        sys.exit("only a fixed-point checkpoint can be shipped")
    if "--force" not in sys.argv[2:]:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from compare_models import better_on_every_score, scores
        verdict = better_on_every_score(scores(str(run / "last.pt")), scores("shipped"))
        if not verdict["beats"]:
            sys.exit(f"not shipped: the run is not better on every score's mean over seeds 0-4 "
                     f"({verdict['better']}); --force to ship anyway")
    SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
    save_compact(SHIPPED_DIR / "model.pt", model, ckpt)
    (SHIPPED_DIR / "config.yaml").write_text(yaml.safe_dump(ckpt["config"], sort_keys=False))
    shutil.copy(run / "log.jsonl", SHIPPED_DIR / "training_log.jsonl")
    shutil.copy(run / "loss.png", SHIPPED_DIR / "loss.png")
    cli = [sys.executable, "-m", "fsvae_fpga.cli"]
    result = subprocess.run(cli + ["evaluate", "--json"], capture_output=True, text=True, check=True)
    (SHIPPED_DIR / "evaluate.json").write_text(json.dumps(json.loads(result.stdout), indent=1) + "\n")
    subprocess.run(cli + ["sample", "--n", "64", "--seed", "0", "--out", str(SHIPPED_DIR / "samples.png")], check=True)
    subprocess.run(cli + ["reconstruct", "--n", "32", "--out", str(SHIPPED_DIR / "reconstructions.png")], check=True)
    print(result.stdout)


if __name__ == "__main__":
    main()
