"""Sampling, reconstruction and evaluation for any model kind (FSVAE or ANN VAE), batched."""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from tqdm import tqdm

from .fsvae import FSVAE, pixels_to_unit
from .latent import TorchIndexSource

FEATURENET_DIR = Path(__file__).resolve().parent / "shipped" / "featurenet"


def _randomness(model, seed: int):
    if isinstance(model, FSVAE):
        return TorchIndexSource(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


@torch.no_grad()
def generate(model, n: int, seed: int, batch_size: int = 64, progress: bool = False) -> torch.Tensor:
    """n images from the prior as uint8 pixels (n, C, H, W); reproducible for a seed."""
    model.eval()
    rnd = _randomness(model, seed)
    batches = tqdm(range(0, n, batch_size), desc="generate", unit="batch", file=sys.stderr,
                   disable=not progress or n <= batch_size, leave=False)
    parts = [model.generate(min(batch_size, n - i), rnd) for i in batches]
    return torch.cat(parts) if parts else torch.zeros(0, *model.image_shape, dtype=torch.uint8)


@torch.no_grad()
def reconstruct(model, images: torch.Tensor, seed: int, batch_size: int = 64,
                progress: bool = False) -> torch.Tensor:
    """Images in [-1, 1] -> reconstructions as uint8 pixels."""
    model.eval()
    rnd = _randomness(model, seed)
    batches = tqdm(range(0, images.shape[0], batch_size), desc="reconstruct", unit="batch", file=sys.stderr,
                   disable=not progress or images.shape[0] <= batch_size, leave=False)
    return torch.cat([model.reconstruct(images[i:i + batch_size], rnd) for i in batches])


@torch.no_grad()
def reconstruction_mse(model, images: torch.Tensor, seed: int = 0, progress: bool = False) -> float:
    """Mean squared error on the [-1, 1] scale (the paper's measure) of the 8-bit output."""
    return float(torch.mean((pixels_to_unit(reconstruct(model, images, seed, progress=progress)) - images) ** 2))


def featurenet_path(dataset: str) -> Path:
    return FEATURENET_DIR / f"{dataset}.pt"


@torch.no_grad()
def sample_quality(model, real_images: torch.Tensor, n: int, seed: int, dataset: str,
                   progress: bool = False) -> float | None:
    """Fréchet distance between n generated images and real held-out images, in the feature
    space of the project's shipped feature net for the dataset (None if there is none)."""
    from .featurenet import frechet_score, load_feature_net
    path = featurenet_path(dataset)
    if not path.is_file():
        return None
    net, _ = load_feature_net(path)
    fake = pixels_to_unit(generate(model, n, seed, progress=progress))
    return frechet_score(net, real_images, fake)
