"""Sample quality of the golden model (LFSR sampler, numpy integers) vs the torch model.

Prints the Fréchet distances to the held-out images, in the feature spaces of both shipped
feature nets (classic: featurenet.py, kept for continuity; sharp: sharp_featurenet.py), of:
torch samples drawn with torch's generator, torch samples drawn with the hardware sampler,
and golden-model samples (which must equal the latter bit for bit: the hardware's images).
Usage: python benchmarks/golden_quality.py [--ckpt PATH] [--n 500]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from fsvae_fpga.contract import golden, hwmodel
    from fsvae_fpga.training.checkpoint import load_model
    from fsvae_fpga.data import load_images
    from fsvae_fpga.contract.export import export
    from fsvae_fpga.evaluation.featurenet import frechet_score, load_feature_net
    from fsvae_fpga.model.fsvae import pixels_to_unit
    from fsvae_fpga.evaluation.inference import featurenet_path, generate
    from fsvae_fpga.model.latent import LfsrIndexSource
    model, ckpt = load_model(args.ckpt)
    data = ckpt["config"]["data"]
    real = load_images(data["dataset"], "test", data["image_size"], data["root"]).images
    nets = {kind: load_feature_net(featurenet_path(data["dataset"], kind))[0] for kind in ("classic", "sharp")
            if featurenet_path(data["dataset"], kind).is_file()}
    with tempfile.TemporaryDirectory() as tmp:
        hw = hwmodel.load(export(model, Path(tmp) / "hw"))
        t0 = time.perf_counter()
        g = golden.generate(hw, args.n, args.seed)
        t_golden = time.perf_counter() - t0
    with torch.no_grad():
        lfsr = torch.cat([model.generate(min(64, args.n - i), src)
                          for src in [LfsrIndexSource(args.seed)] for i in range(0, args.n, 64)])
    t_rng = generate(model, args.n, args.seed, sampler="torch")
    equal = bool((lfsr.numpy() == g).all())
    samples = {"torch, torch generator": t_rng.numpy(), "torch, hardware sampler": lfsr.numpy(),
               "golden (numpy integers)": g}
    print(f"{args.n} samples, seed {args.seed}; golden time {t_golden:.1f} s")
    print(f"golden == torch with the hardware sampler, every pixel: {equal}")
    for kind, net in nets.items():
        print(f"feature net: {kind}")
        for name, p in samples.items():
            v = frechet_score(net, real, pixels_to_unit(torch.from_numpy(np.asarray(p))))
            print(f"  Frechet distance, {name:<26}: {v:.3f}")
        floor = frechet_score(net, real[: len(real) // 2], real[len(real) // 2:])
        print(f"  Frechet distance, held-out half vs half  : {floor:.3f} (noise floor)")


if __name__ == "__main__":
    main()
