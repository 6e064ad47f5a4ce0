"""The Bernoulli latent: one of k output spikes per latent channel and time step.

The posterior and prior networks emit k spikes per latent channel; the latent bit is the
spike at a uniformly random index in [0, k).  The mean of the k spikes is the Bernoulli
probability the MMD loss compares.  Where the random indices come from is pluggable
(an *index source*): torch's generator for training, and the hardware's LFSR sampler
(specified by the hardware contract) when torch must draw exactly the golden model's bits.
"""
from __future__ import annotations

from typing import Protocol

import torch


class IndexSource(Protocol):
    def draw(self, step: int, batch: int, channels: int, k: int, device) -> torch.Tensor:
        """Indices (batch, channels) in [0, k) for time step ``step``."""


class TorchIndexSource:
    """Uniform indices from a torch generator (seeded for reproducibility)."""

    def __init__(self, seed: int | None = None):
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(seed)

    def draw(self, step, batch, channels, k, device):
        idx = torch.randint(0, k, (batch, channels), generator=self.generator)
        return idx.to(device)


def pick_one_of_k(spikes: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """spikes (B, C, k), index (B, C) -> the chosen spikes (B, C); gradient flows to them."""
    return torch.gather(spikes, 2, index.unsqueeze(-1)).squeeze(-1)


def bernoulli_probability(spikes: torch.Tensor) -> torch.Tensor:
    """(..., C, k) spikes -> (..., C) firing probability of the latent bit."""
    return spikes.mean(dim=-1)


class LfsrIndexSource:
    """The hardware sampler (sampler.py) as an index source, so that the torch model draws
    exactly the golden model's and the hardware's latent bits.

    Images are numbered in the order they pass: each call with ``step == 0`` starts a new
    block of ``batch`` images after the previous block.  Steps must come in order.
    """

    def __init__(self, seed: int, first_image: int = 0):
        self.seed, self.next_image = seed, first_image
        self._sampler, self._step = None, None

    def draw(self, step, batch, channels, k, device):
        from fsvae_fpga.contract.sampler import LatentSampler
        if step == 0:
            self._sampler = LatentSampler(self.seed, channels, k, first_image=self.next_image, n_images=batch)
            self.next_image += batch
            self._step = 0
        elif self._sampler is None or step != self._step + 1:
            raise RuntimeError("LfsrIndexSource: time steps must be drawn in order from step 0")
        self._step = step
        return torch.from_numpy(self._sampler.draw()).to(device)
