"""Time one FSVAE training step (forward + backward + AdamW) on the CPU.

Reference: the paper's own code takes about 8.8 s per step here (paper MNIST config,
batch 64, 2 cores).  Usage: python benchmarks/train_step.py [--config configs/mnist.yaml]
[--batch 64] [--steps 3] [--stage float|quant]
"""
import argparse
import time

import torch

from fsvae_fpga.config import load_config
from fsvae_fpga.model.fsvae import FSVAE
from fsvae_fpga.model.latent import TorchIndexSource
from fsvae_fpga.model.losses import fsvae_loss

PAPER_CODE_SECONDS_PER_STEP = 8.8


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/mnist.yaml")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--stage", choices=["float", "quant"], default="quant")
    args = ap.parse_args()
    torch.manual_seed(0)
    cfg = load_config(args.config)
    model = FSVAE(cfg)
    if args.stage == "quant":
        model.to_fixed_point()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
    source = TorchIndexSource(0)
    x = torch.rand(args.batch, *model.image_shape) * 2 - 1
    times = []
    for i in range(args.steps + 1):
        t0 = time.perf_counter()
        out = model(x, source, scheduled_p=0.2, scheduled_from=cfg["train"]["scheduled_from_step"])
        loss = fsvae_loss(x, out["x_hat"], out["r_q"], out["r_p"])[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - t0)
    best, mean = min(times), sum(times) / len(times)
    print(f"config={args.config} stage={args.stage} batch={args.batch} threads={torch.get_num_threads()}")
    print(f"seconds/step: mean {mean:.2f}  best {best:.2f}")
    print(f"speed-up vs the paper's code ({PAPER_CODE_SECONDS_PER_STEP} s/step): {PAPER_CODE_SECONDS_PER_STEP / mean:.2f}x")


if __name__ == "__main__":
    main()
