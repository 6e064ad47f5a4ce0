"""FSVAE loss: reconstruction MSE + MMD between posterior and prior Bernoulli processes.

The MMD uses the kernel of the paper: both probability sequences are filtered by the
postsynaptic potential (PSP) ``y[t] = y[t-1] + (r[t] - y[t-1]) / tau_s`` with tau_s = 2,
and the loss is the mean squared difference of the filtered sequences.

The prior stage of training (training/train.py, ``train.prior_epochs``) fits the prior
alone to the frozen posterior's codes with two terms: ``prior_nll``, the likelihood of the
posterior's bits under the teacher-forced prior, and ``batch_mmd``, a distance between the
prior's free-running samples and the posterior's codes as two sets, which a per-image loss
cannot be: it sees a digit class the prior never produces.

``spike_rate_penalty`` (``train.spike_rate_penalty``) adds weight x mean spike rate of
chosen decoder layers: the hardware's work is proportional to the spikes (events) a layer
hands to the next, so this is sparsity-aware training (benchmarks/sparsity_pareto.py).
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


def fsvae_loss(x, x_hat, r_q, r_p, mmd_weight: float = 1.0):
    """recon + mmd_weight x MMD (the paper and the authors' code: weight 1), recon, MMD."""
    recon = F.mse_loss(x_hat, x)
    mmd = mmd_loss(r_q, r_p)
    return recon + mmd_weight * mmd, recon, mmd


def prior_nll(r_p: torch.Tensor, z: torch.Tensor, k: int) -> torch.Tensor:
    """Mean negative log-likelihood of the bits z (T, B, C) under the prior's probabilities
    r_p (the mean of its k spikes), clamped to [1/2k, 1 - 1/2k] (the likelihood of a bit that
    none or all of the k spikes allow is finite)."""
    eps = 0.5 / k
    p = r_p.clamp(eps, 1 - eps)
    return -(z * torch.log(p) + (1 - z) * torch.log1p(-p)).mean()


def spike_rate_penalty(rates: dict, weights: dict) -> torch.Tensor:
    """Sum over the chosen layers of weight x mean spike rate (``train.spike_rate_penalty``).
    A layer's spikes are the next layer's input events, so the penalty trades reconstruction
    for fewer event-driven accumulates in the hardware; zero when no layer is chosen."""
    total = torch.zeros(())
    for name, w in weights.items():
        if w:
            total = total + w * rates[name]
    return total


BATCH_MMD_WIDTHS = (0.05, 0.1, 0.2, 0.4)


def set_mmd(x: torch.Tensor, y: torch.Tensor, widths=BATCH_MMD_WIDTHS, unbiased: bool = False) -> torch.Tensor:
    """Squared maximum mean discrepancy between two sets of points (N, D) and (M, D): the
    kernel a sum of Gaussians whose widths are fractions of the mean squared distance between
    all points (scale-free; the scale has no gradient).  Zero when the sets are the same; grows
    when one set has a mode the other lacks.  The training terms use the biased estimator, whose
    within-set means include the self-pairs (a floor of about 2/n x len(widths) for two draws
    of one distribution); ``unbiased`` leaves them out (scripts/batch_mmd_floor.py)."""
    d2 = torch.cdist(torch.cat([x, y]), torch.cat([x, y])).pow(2)
    scale = d2.detach().mean().clamp_min(1e-12)
    kern = sum(torch.exp(-d2 / (w * scale)) for w in widths)
    n = x.shape[0]
    kxx, kyy = kern[:n, :n], kern[n:, n:]
    if unbiased:
        kxx = kxx[~torch.eye(n, dtype=torch.bool, device=kern.device)]
        kyy = kyy[~torch.eye(kyy.shape[0], dtype=torch.bool, device=kern.device)]
    return kxx.mean() + kyy.mean() - 2 * kern[:n, n:].mean()


def batch_mmd(a: torch.Tensor, b: torch.Tensor, widths=BATCH_MMD_WIDTHS) -> torch.Tensor:
    """``set_mmd`` between two sets of latent sequences (T, B, C): each image's PSP-filtered
    sequence is one point."""
    return set_mmd(psp(a).permute(1, 0, 2).flatten(1), psp(b).permute(1, 0, 2).flatten(1), widths)


def image_mmd(a: torch.Tensor, b: torch.Tensor, widths=BATCH_MMD_WIDTHS) -> torch.Tensor:
    """``set_mmd`` between two sets of images (B, C, H, W), each image one point in pixel
    space: the prior stage's ``prior_image_mmd`` compares the decoded free-running samples
    with the decoded posterior codes, where a missing digit class is a missing cluster."""
    return set_mmd(a.flatten(1), b.flatten(1), widths)
