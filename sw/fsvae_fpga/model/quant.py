"""Synapses (linear, conv, transposed conv) that train in float and then in fixed point.

A layer lives in one of two stages:

* ``float``: float weights and bias, optional batch norm (statistics over batch x time,
  since time is folded into the batch).
* ``quant``: batch norm folded into weight and bias (:meth:`Synapse.fold_batch_norm`), the
  weight quantized by Brevitas to signed integers with a power-of-two per-tensor scale
  (``Int8WeightPerTensorFixedPoint``, bit width 8 or 4), the bias rounded to the layer's
  membrane scale.  The input current is then ``s * (sum(W_int * x_int) + b_int)`` with
  ``s = weight_scale * input_scale`` a power of two, so a hardware layer computes a plain
  integer sum.  Spikes have input scale 1; the image layer gets ``2^-(input_bits-1)``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

KINDS = ("linear", "conv", "convT")


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half to even (torch.round) with a straight-through gradient."""
    return x + (torch.round(x) - x).detach()


def quantize_input_image(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Pixels in [-1, 1] to signed fixed point with scale 2^-(bits-1) (values stay real)."""
    one = 2 ** (bits - 1)
    return torch.clamp(torch.round(x * one), -one, one - 1) / one


class Synapse(nn.Module):
    """Weighted input current of a layer, float or fixed point; see the module docstring."""

    def __init__(self, kind: str, in_features: int, out_features: int, *, batch_norm: bool,
                 weight_bits: int = 8, bias_bits: int = 16, input_scale: float = 1.0,
                 kernel_size: int = 3, stride: int = 1, padding: int = 0, output_padding: int = 0,
                 threshold_rule: str = "floor", bn_scale: float = 1.0, surrogate_centre: float | None = None):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.stride, self.padding, self.output_padding = kind, stride, padding, output_padding
        self.in_features, self.out_features, self.kernel_size = in_features, out_features, kernel_size
        self.weight_bits, self.bias_bits, self.input_scale = weight_bits, bias_bits, input_scale
        self.threshold_rule = threshold_rule        # lif.threshold_int: how 0.2 meets the grid
        # imported here, not with the module: Brevitas pulls in torch._dynamo (2.4 s), which
        # every command paid before it could even refuse a bad argument
        from brevitas.nn import QuantConv2d, QuantConvTranspose2d, QuantLinear
        from brevitas.quant import Int8WeightPerTensorFixedPoint
        quant = dict(bias=False, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=weight_bits)
        if kind == "linear":
            self.layer = QuantLinear(in_features, out_features, **quant)
        elif kind == "conv":
            self.layer = QuantConv2d(in_features, out_features, kernel_size, stride=stride,
                                     padding=padding, **quant)
        else:
            self.layer = QuantConvTranspose2d(in_features, out_features, kernel_size, stride=stride,
                                              padding=padding, output_padding=output_padding, **quant)
        fan_in = in_features * (1 if kind == "linear" else kernel_size * kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        if kind == "convT":
            # torch's default init takes a transposed conv's fan-in from its *output*
            # channels (weight dim 1): 9 instead of 288 for the 32 -> 1 output layer.  Those
            # 6x larger weights saturate the tanh of the membrane output and training stalls
            # at the all-background image (measured: MSE 0.41 after 2 epochs).  Use the true
            # fan-in, as torch's init does for every other layer.
            with torch.no_grad():
                self.layer.weight.uniform_(-bound, bound)
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        bn_type = nn.BatchNorm1d if kind == "linear" else nn.BatchNorm2d
        self.bn = bn_type(out_features) if batch_norm else None
        # batch norm output times a constant (the authors' tdBN scales by alpha * Vth: 0.2 in
        # encoder and decoder, 0.4 in the latent nets; 1.0 here unless the config says so)
        self.bn_scale = float(bn_scale)
        self.surrogate_centre = surrogate_centre    # lif.spike: None = at the threshold
        self.quantized = False
        self._frozen = None     # (weight, bias, scale) computed once per model pass

    def freeze(self) -> None:
        """Quantize weight and bias once for the coming pass (the stepped latent networks
        call a synapse T times per pass; re-quantizing each time would dominate)."""
        self._frozen = self._quantized_params() if self.quantized else None

    def unfreeze(self) -> None:
        self._frozen = None

    def _quantized_params(self):
        q = self.layer.quant_weight()
        s = q.scale * self.input_scale
        lim = self.bias_limit()
        bias = torch.clamp(round_ste(self.bias / s), -lim, lim) * s
        return q.value, bias, float(s.detach())

    # --- stage changes -------------------------------------------------------------
    @torch.no_grad()
    def fold_batch_norm(self) -> None:
        """Merge batch norm (running statistics) into weight and bias, then drop it."""
        if self.bn is None:
            return
        bn = self.bn
        gain = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shape = [1] * self.layer.weight.dim()
        out_dim = 1 if self.kind == "convT" else 0      # ConvTranspose weight is (in, out, k, k)
        shape[out_dim] = -1
        self.layer.weight.mul_((gain * self.bn_scale).view(shape))
        self.bias.copy_(((self.bias - bn.running_mean) * gain + bn.bias) * self.bn_scale)
        self.bn = None

    def set_quantized(self, quantized: bool) -> None:
        if quantized and self.bn is not None:
            raise RuntimeError("fold batch norm before quantizing (Synapse.fold_batch_norm)")
        self.quantized = quantized

    # --- fixed-point view ------------------------------------------------------------
    def weight_scale(self) -> float:
        return float(self.layer.quant_weight().scale.detach())

    def membrane_scale(self) -> float | None:
        """The layer's fixed-point unit s (a power of two), or None in float stage."""
        if not self.quantized:
            return None
        if self._frozen is not None:
            return self._frozen[2]
        return self.weight_scale() * self.input_scale

    def bias_limit(self) -> int:
        return 2 ** (self.bias_bits - 1) - 1

    @torch.no_grad()
    def int_weight(self) -> torch.Tensor:
        return self.layer.quant_weight().int().to(torch.int32)

    @torch.no_grad()
    def int_bias(self) -> torch.Tensor:
        s = self.membrane_scale()
        lim = self.bias_limit()
        return torch.clamp(torch.round(self.bias / s), -lim, lim).to(torch.int32)

    # --- computation -------------------------------------------------------------------
    def _synapse_op(self, x, weight, bias):
        if self.kind == "linear":
            return F.linear(x, weight, bias)
        if self.kind == "conv":
            return F.conv2d(x, weight, bias, stride=self.stride, padding=self.padding)
        return F.conv_transpose2d(x, weight, bias, stride=self.stride, padding=self.padding,
                                  output_padding=self.output_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Input current for a batch (time folded into the batch by the caller)."""
        if not self.quantized:
            y = self._synapse_op(x, self.layer.weight, self.bias)
            return self.bn(y) * self.bn_scale if self.bn is not None else y
        weight, bias, _ = self._frozen if self._frozen is not None else self._quantized_params()
        return self._synapse_op(x, weight, bias)
