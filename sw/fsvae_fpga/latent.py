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
