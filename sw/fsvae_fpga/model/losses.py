"""FSVAE loss: reconstruction MSE + MMD between posterior and prior Bernoulli processes.

The MMD uses the kernel of the paper: both probability sequences are filtered by the
postsynaptic potential (PSP) ``y[t] = y[t-1] + (r[t] - y[t-1]) / tau_s`` with tau_s = 2,
and the loss is the mean squared difference of the filtered sequences.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

TAU_S = 2.0


def psp(r: torch.Tensor, tau_s: float = TAU_S) -> torch.Tensor:
    """Filter a time-major sequence (T, ...) with the first-order PSP kernel."""
    out, y = [], torch.zeros_like(r[0])
    for t in range(r.shape[0]):
        y = y + (r[t] - y) / tau_s
        out.append(y)
    return torch.stack(out)


def mmd_loss(r_q: torch.Tensor, r_p: torch.Tensor, tau_s: float = TAU_S) -> torch.Tensor:
    """MMD between posterior and prior firing probabilities (T, B, C)."""
    return torch.mean((psp(r_q, tau_s) - psp(r_p, tau_s)) ** 2)


def fsvae_loss(x, x_hat, r_q, r_p):
    recon = F.mse_loss(x_hat, x)
    mmd = mmd_loss(r_q, r_p)
    return recon + mmd, recon, mmd
