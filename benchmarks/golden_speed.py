"""Time the numpy golden model: 64 paper-size images (target: at most 10 s on 2 cores).

Usage: python benchmarks/golden_speed.py [--hwmodel DIR] [--n 64]
Without --hwmodel it exports the shipped model (or, if absent, a randomly initialised
fixed-point model of the paper configuration; speed does not depend on the weights).
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def paper_hwmodel(tmp: Path):
    from fsvae_fpga.training.checkpoint import SHIPPED_MODEL, load_model
    from fsvae_fpga.contract.export import export
    if SHIPPED_MODEL.is_file():
        model, _ = load_model(None)
    else:
        import torch
        from fsvae_fpga.config import CONFIG_DIR, load_config
        from fsvae_fpga.model.fsvae import FSVAE
        torch.manual_seed(0)
        model = FSVAE(load_config(CONFIG_DIR / "mnist.yaml")).eval().to_fixed_point()
    return export(model, tmp / "hw")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hwmodel")
    ap.add_argument("--n", type=int, default=64)
    args = ap.parse_args()
    from fsvae_fpga.contract import golden, hwmodel
    with tempfile.TemporaryDirectory() as tmp:
        hw = hwmodel.load(args.hwmodel or paper_hwmodel(Path(tmp)))
        print(f"model: T={hw.T} k={hw.k} latent={hw.C} image={hw.image_shape}")
        t0 = time.perf_counter()
        golden.generate(hw, args.n, seed=0)
        t_gen = time.perf_counter() - t0
        x = np.zeros((args.n, *hw.image_shape), dtype=np.int8)
        t0 = time.perf_counter()
        golden.reconstruct(hw, x, seed=0)
        t_rec = time.perf_counter() - t0
    print(f"generate    {args.n} images: {t_gen:.2f} s ({args.n / t_gen:.1f} images/s)")
    print(f"reconstruct {args.n} images: {t_rec:.2f} s ({args.n / t_rec:.1f} images/s)")


if __name__ == "__main__":
    main()
