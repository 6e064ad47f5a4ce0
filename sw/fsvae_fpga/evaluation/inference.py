"""Sampling, reconstruction and evaluation for any model kind (FSVAE or ANN VAE), batched.

Randomness: an FSVAE draws its latent indices from the hardware sampler by default
(``sampler="hardware"``, sampler.py), so a seed gives the same images here as in the golden
model, the RTL and the board; ``sampler="torch"`` uses torch's generator instead (training
does).  The ANN VAE's Gaussian latent always uses torch's generator.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from tqdm import tqdm

from fsvae_fpga.model.fsvae import FSVAE, pixels_to_unit
from fsvae_fpga.model.latent import LfsrIndexSource, TorchIndexSource

FEATURENET_DIR = Path(__file__).resolve().parents[1] / "shipped" / "featurenet"


SAMPLERS = ("hardware", "torch")


def default_sampler(model) -> str:
    return "hardware" if isinstance(model, FSVAE) else "torch"


def _randomness(model, seed: int, sampler: str | None):
    sampler = sampler or default_sampler(model)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if isinstance(model, FSVAE):
        return LfsrIndexSource(seed) if sampler == "hardware" else TorchIndexSource(seed)
    if sampler == "hardware":
        raise ValueError("the hardware sampler draws FSVAE latent indices; the ANN VAE's Gaussian latent "
                         "uses --sampler torch")
    g = torch.Generator()
    g.manual_seed(seed)
    return g


@torch.no_grad()
def generate(model, n: int, seed: int, batch_size: int = 64, progress: bool = False,
             sampler: str | None = None) -> torch.Tensor:
    """n images from the prior as uint8 pixels (n, C, H, W); reproducible for a seed."""
    model.eval()
    rnd = _randomness(model, seed, sampler)
    batches = tqdm(range(0, n, batch_size), desc="generate", unit="batch", file=sys.stderr,
                   disable=not progress or n <= batch_size, leave=False)
    parts = [model.generate(min(batch_size, n - i), rnd) for i in batches]
    return torch.cat(parts) if parts else torch.zeros(0, *model.image_shape, dtype=torch.uint8)


@torch.no_grad()
def reconstruct(model, images: torch.Tensor, seed: int, batch_size: int = 64,
                progress: bool = False, sampler: str | None = None) -> torch.Tensor:
    """Images in [-1, 1] -> reconstructions as uint8 pixels."""
    model.eval()
    rnd = _randomness(model, seed, sampler)
    batches = tqdm(range(0, images.shape[0], batch_size), desc="reconstruct", unit="batch", file=sys.stderr,
                   disable=not progress or images.shape[0] <= batch_size, leave=False)
    return torch.cat([model.reconstruct(images[i:i + batch_size], rnd) for i in batches])


@torch.no_grad()
def reconstruction_mse(model, images: torch.Tensor, seed: int = 0, progress: bool = False,
                       sampler: str | None = None) -> float:
    """Mean squared error on the [-1, 1] scale (the paper's measure) of the 8-bit output."""
    rec = reconstruct(model, images, seed, progress=progress, sampler=sampler)
    return float(torch.mean((pixels_to_unit(rec) - images) ** 2))


FEATURE_NETS = {"classic": "{dataset}.pt", "sharp": "{dataset}-sharp.pt"}   # shipped, by score name
# datasets scored on another's held-out images, so in its feature spaces (data.py)
SAME_HELD_OUT = {"mnist-59k": "mnist-embedded"}


def featurenet_path(dataset: str, kind: str = "classic") -> Path:
    """The shipped feature net of a dataset: "classic" (featurenet.py, the score kept for
    continuity) or "sharp" (sharp_featurenet.py)."""
    return FEATURENET_DIR / FEATURE_NETS[kind].format(dataset=SAME_HELD_OUT.get(dataset, dataset))


@torch.no_grad()
def sample_quality(model, real_images: torch.Tensor, n: int, seed: int, dataset: str,
                   progress: bool = False, sampler: str | None = None) -> dict[str, float | None]:
    """Fréchet distances between n generated images and real held-out images, in the feature
    space of each shipped feature net for the dataset ({"classic": ..., "sharp": ...}; None
    where there is none).  The same generated images go to both."""
    from fsvae_fpga.evaluation.featurenet import frechet_score, load_feature_net
    paths = {kind: featurenet_path(dataset, kind) for kind in FEATURE_NETS}
    if not any(p.is_file() for p in paths.values()):
        return {kind: None for kind in FEATURE_NETS}
    fake = pixels_to_unit(generate(model, n, seed, progress=progress, sampler=sampler))
    return {kind: frechet_score(load_feature_net(p)[0], real_images, fake) if p.is_file() else None
            for kind, p in paths.items()}
