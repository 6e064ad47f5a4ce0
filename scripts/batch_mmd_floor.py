"""How much of the batch MMD is signal: the logged (biased) value against the unbiased one.

    python scripts/batch_mmd_floor.py CKPT [--n 64,256] [--widths 0.05,0.1,0.2,0.4 ...]
    (CKPT "shipped" is the shipped model)

losses.set_mmd is the biased estimator: each within-set mean includes the n self-pairs, whose
kernel is the number of widths, so two samples of one distribution score about
2 / n x (widths - mean kernel of two distinct points) above zero.  When the widths are narrow
against the distances between codes, the kernel of two distinct codes is near 0, so the term
is nearly all that floor and its gradient sees only near neighbours, not how the codes are
spread over digits.  For each set of widths and set size this prints both estimators for the
prior's free-running samples against the posterior's codes of held-out digits, and for the
posterior's codes of training digits against the same (two draws of one distribution: the
noise level).
"""
from __future__ import annotations

import argparse
import sys

import torch

from fsvae_fpga.data import load_images
from fsvae_fpga.model.latent import TorchIndexSource
from fsvae_fpga.model.losses import psp, set_mmd
from fsvae_fpga.training.checkpoint import load_model


def mmd_both(x: torch.Tensor, y: torch.Tensor, widths) -> tuple[float, float]:
    """(biased, unbiased) losses.set_mmd of two point sets."""
    return float(set_mmd(x, y, widths)), float(set_mmd(x, y, widths, unbiased=True))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt")
    ap.add_argument("--n", default="64,256", help="set sizes, comma-separated")
    ap.add_argument("--widths", nargs="+", default=["0.05,0.1,0.2,0.4", "0.25,0.5,1,2", "0.5,1,2,4"])
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.n.split(",")]
    model, meta = load_model(None if args.ckpt == "shipped" else args.ckpt)
    model.eval()
    dataset, size = meta["config"]["data"]["dataset"], meta["config"]["data"]["image_size"]
    eval_set = "mnist-embedded" if dataset.startswith("mnist") else dataset
    m = max(sizes)
    held_out = load_images(eval_set, "test", size, None).images[:m]
    train = load_images(eval_set, "train", size, None).images[:m]
    torch.manual_seed(0)
    with torch.no_grad():
        source = TorchIndexSource(1)
        codes = model.posterior_latents(model.encode(held_out), source)[0]
        free = model.prior_latents(source, m)[0]
        codes_train = model.posterior_latents(model.encode(train), source)[0]
    points = [psp(a).permute(1, 0, 2).flatten(1) for a in (codes, free, codes_train)]
    print("| widths | n | prior vs held-out: biased / unbiased | training vs held-out: biased / unbiased |")
    print("|---|---|---|---|")
    for spec in args.widths:
        widths = [float(w) for w in spec.split(",")]
        for n in sizes:
            a, b, c = (p[:n] for p in points)
            pb, pu = mmd_both(b, a, widths)
            tb, tu = mmd_both(c, a, widths)
            print(f"| {spec} | {n} | {pb:.4f} / {pu:.4f} | {tb:.4f} / {tu:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
