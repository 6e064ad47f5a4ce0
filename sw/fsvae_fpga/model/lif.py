"""Leaky integrate-and-fire neurons with the exact integer semantics of the hardware.

One step, in integer membrane units (the layer's fixed-point scale ``s``)::

    u[t] = (u[t-1] >> 2) * (1 - o[t-1]) + I[t]      # leak tau = 0.25 is an arithmetic shift:
                                                    # floor, also for negative membranes
    o[t] = u[t] > theta                             # theta = floor(0.2 / s), integer:
                                                    # u > theta exactly when u * s > 0.2
    u[0] = 0, o[0] = 0                              # hard reset: a spike zeroes the next leak

The torch model computes the same thing on real values that are exact multiples of ``s``
(``floor(u * 0.25 / s) * s``): float32 arithmetic on such values is exact while
``|u / s| < 2^24``, so eval mode equals an integer implementation bit for bit.  Without a
scale (float pretraining) the leak is the plain ``0.25 * u`` and the threshold 0.2.

Gradients use the FSVAE surrogate: d o / d u = 1 where |u - theta| < 0.5, else 0; the
floor of the leak is passed straight through (gradient 0.25).
"""
from __future__ import annotations

import math
from fractions import Fraction

import torch

TAU = 0.25          # membrane leak factor; 0.25 = shift right by 2 in hardware
LEAK_SHIFT = 2
THRESHOLD = 0.2     # firing threshold in real units
SURROGATE_HALF_WIDTH = 0.5


THRESHOLD_RULES = ("floor", "round")


def quantized_threshold(scale: float | None, rule: str = "floor") -> float:
    """The threshold actually used, on the membrane's grid.  "floor" (the default): the
    largest grid value not above 0.2, so that a membrane on the grid spikes exactly when it
    exceeds 0.2, the paper's rule.  "round": round(0.2 / s), which fires late (u >= 27 units
    = 0.211 for s = 2^-7); models trained before config key quant.threshold use it."""
    if scale is None:
        return THRESHOLD
    return threshold_int(scale, rule) * scale


def threshold_int(scale: float, rule: str = "floor") -> int:
    """The integer threshold, in exact rational arithmetic (0.2 has no exact binary value)."""
    exact = Fraction(1, 5) / Fraction(scale)
    if rule == "floor":
        return math.floor(exact)
    if rule == "round":
        return int(round(exact))                    # never a tie: 0.2 / 2^-f is not a half
    raise ValueError(f"threshold rule must be one of {THRESHOLD_RULES}, got {rule!r}")


def leak(u: torch.Tensor, scale: float | None) -> torch.Tensor:
    """tau * u, floored to the membrane grid when quantized (no gradient through floor)."""
    if scale is None:
        return u * TAU
    decayed = u * TAU
    return decayed + (torch.floor(u * (TAU / scale)) * scale - decayed).detach()


class _SpikeFn(torch.autograd.Function):
    """Heaviside spike u > theta with the rectangular FSVAE surrogate gradient."""

    @staticmethod
    def forward(ctx, u, theta, centre):
        ctx.save_for_backward(u)
        ctx.centre = theta if centre is None else centre
        return (u > theta).to(u.dtype)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return grad * ((u - ctx.centre).abs() < SURROGATE_HALF_WIDTH).to(grad.dtype), None, None


def spike(u: torch.Tensor, theta: float, centre: float | None = None) -> torch.Tensor:
    """Spikes u > theta; the surrogate window is centred at ``centre`` (None: at theta, this
    project's default; 0.0: the authors' code)."""
    return _SpikeFn.apply(u, theta, centre)


def lif_step(current, u_prev, o_prev, scale: float | None, rule: str = "floor", centre: float | None = None):
    """One time step for stepped (autoregressive) networks; returns (spikes, u)."""
    u = current if u_prev is None else leak(u_prev, scale) * (1.0 - o_prev) + current
    return spike(u, quantized_threshold(scale, rule), centre), u


class _LIFSequence(torch.autograd.Function):
    """LIF over a whole sequence (T, ...) with a hand-written BPTT backward.

    Saves only the membranes (one tensor) and loops in C-contiguous time slices, which is
    much lighter than letting autograd record ~6 ops per step.
    """

    @staticmethod
    def forward(ctx, current, scale, rule, centre):
        theta = quantized_threshold(scale, rule)
        u_all = torch.empty_like(current)
        o_all = torch.empty_like(current)
        u = o = None
        for t in range(current.shape[0]):
            u = current[t] if u is None else leak(u, scale) * (1.0 - o) + current[t]
            o = (u > theta).to(current.dtype)
            u_all[t] = u
            o_all[t] = o
        ctx.save_for_backward(u_all, o_all)
        ctx.scale, ctx.centre = scale, theta if centre is None else centre
        return o_all

    @staticmethod
    def backward(ctx, grad_o):
        u_all, o_all = ctx.saved_tensors
        scale, centre = ctx.scale, ctx.centre
        grad_current = torch.empty_like(grad_o)
        du_next = None
        for t in reversed(range(grad_o.shape[0])):
            u, o = u_all[t], o_all[t]
            g_o = grad_o[t]
            if du_next is not None:
                # u[t+1] = leak(u[t]) * (1 - o[t]) + I[t+1]
                g_o = g_o - du_next * leak(u, scale)
            du = g_o * ((u - centre).abs() < SURROGATE_HALF_WIDTH).to(u.dtype)
            if du_next is not None:
                du = du + du_next * TAU * (1.0 - o)
            grad_current[t] = du
            du_next = du
        return grad_current, None, None, None


def lif_sequence(current: torch.Tensor, scale: float | None, rule: str = "floor",
                 centre: float | None = None) -> torch.Tensor:
    """Spikes (T, ...) of a LIF layer driven by input currents (T, ...); ``centre``: see spike."""
    return _LIFSequence.apply(current, scale, rule, centre)


def lif_sequence_with_membranes(current: torch.Tensor, scale: float | None, rule: str = "floor"):
    """Forward only (no gradient): spikes and membranes (T, ...), for traces and tests."""
    theta = quantized_threshold(scale, rule)
    spikes, membranes = [], []
    u = o = None
    with torch.no_grad():
        for t in range(current.shape[0]):
            u = current[t] if u is None else leak(u, scale) * (1.0 - o) + current[t]
            o = (u > theta).to(current.dtype)
            spikes.append(o)
            membranes.append(u)
    return torch.stack(spikes), torch.stack(membranes)
