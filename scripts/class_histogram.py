"""Which digits a model's samples are: mode coverage, as the sharp feature net classifies them.

    python scripts/class_histogram.py CKPT [CKPT ...] [--n 500] [--seed 0]
    (CKPT "shipped" is the shipped model; "held-out" classifies the 500 held-out digits)

A Fréchet distance says that samples and data differ, not how; a prior that misses modes
shows here as digits far above or below the held-out set's share (42-57 of each in 500).
Samples come from the hardware sampler (the images the hardware makes).
"""
from __future__ import annotations

import argparse
import sys

import torch

from fsvae_fpga.data import load_images
from fsvae_fpga.evaluation.featurenet import load_feature_net
from fsvae_fpga.evaluation.inference import featurenet_path, generate
from fsvae_fpga.model.fsvae import pixels_to_unit
from fsvae_fpga.training.checkpoint import load_model


@torch.no_grad()
def histogram(images: torch.Tensor, dataset: str) -> list[int]:
    net, _ = load_feature_net(featurenet_path(dataset, "sharp"))
    net.eval()
    classes = net(images).argmax(dim=1)
    return torch.bincount(classes, minlength=net.num_classes).tolist()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpts", nargs="+")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print("| images | " + " | ".join(str(d) for d in range(10)) + " | largest / smallest |")
    print("|---|" + "---|" * 11)
    for ckpt in args.ckpts:
        if ckpt == "held-out":
            data = load_images("mnist-embedded", "test", 32, None).images[:args.n]
            counts = histogram(data, "mnist-embedded")
        else:
            model, meta = load_model(None if ckpt == "shipped" else ckpt)
            images = pixels_to_unit(generate(model, args.n, args.seed))
            counts = histogram(images, meta["config"]["data"]["dataset"])
        print(f"| {ckpt} | " + " | ".join(map(str, counts)) + f" | {max(counts)} / {min(counts)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
