"""The golden model: the hardware model run in numpy integer arithmetic (no torch).

Everything is an integer: int8 weights, int32 biases, 0/1 spikes, int8 image pixels,
int64 currents and membranes.  Synaptic sums are computed with float64 matrix products
of these integers, which is exact because every partial sum is bounded by the layer's
``current_range`` (< 2^24, checked by the hardware-model loader) and float64 represents
integers exactly up to 2^53; the results are converted back to int64.

Semantics, per layer and time step (see hwmodel.py for the fields):

* synapse:  I = W x + b  (x: spikes, or int8 pixels for encoder.0, which is computed
  once because the image does not change over time)
* LIF:      u = (u >> 2) * (1 - o) + I;  o = u > threshold;  u, o start at 0
* latent:   z[c] = o[c * k + index[t, image, c]] of the last posterior/prior layer,
  index from the sampler (sampler.py); prior input z_{t-1}, posterior [x_t, z_{t-1}],
  z_{-1} = 0
* output:   m = sum_t coef[t] * I_t;  pixel = #{p : m >= pixel_thresholds[p]}

Both passes are vectorised over images; tensors are time-major, channel-last inside.
"""
from __future__ import annotations

import numpy as np

from fsvae_fpga.contract.hwmodel import HwModel
from fsvae_fpga.contract.sampler import indices as sampler_indices


# --- synapses (integer in, int64 out) ---------------------------------------------------
def _matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Integer matrix product via float64 BLAS (exact: see module docstring)."""
    return np.rint(x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """x (N, in) -> (N, out); weight (out, in)."""
    return _matmul(x, weight.T) + bias.astype(np.int64)


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Channel-last x (N, H, W, C) -> (N, Ho, Wo, O); weight (O, C, K, K)."""
    n, h, w, c = x.shape
    o, _, K, _ = weight.shape
    ho, wo = (h + 2 * padding - K) // stride + 1, (w + 2 * padding - K) // stride + 1
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    out = np.zeros((n, ho, wo, o), dtype=np.int64)
    for kh in range(K):
        for kw in range(K):
            patch = xp[:, kh:kh + stride * (ho - 1) + 1:stride, kw:kw + stride * (wo - 1) + 1:stride, :]
            out += _matmul(patch.reshape(-1, c), weight[:, :, kh, kw].T).reshape(n, ho, wo, o)
    return out + bias.astype(np.int64)


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int, padding: int,
                     output_padding: int) -> np.ndarray:
    """Channel-last x (N, H, W, C) -> (N, Ho, Wo, O); weight (C, O, K, K).

    A scatter: input (ih, iw) adds its kernel slice to outputs (ih*s - p + kh, iw*s - p + kw)."""
    n, h, w, c = x.shape
    _, o, K, _ = weight.shape
    ho = (h - 1) * stride - 2 * padding + K + output_padding
    wo = (w - 1) * stride - 2 * padding + K + output_padding
    canvas = np.zeros((n, (h - 1) * stride + K + output_padding, (w - 1) * stride + K + output_padding, o),
                      dtype=np.int64)
    flat = x.reshape(-1, c)
    for kh in range(K):
        for kw in range(K):
            y = _matmul(flat, weight[:, :, kh, kw]).reshape(n, h, w, o)
            canvas[:, kh:kh + stride * (h - 1) + 1:stride, kw:kw + stride * (w - 1) + 1:stride, :] += y
    return canvas[:, padding:padding + ho, padding:padding + wo, :] + bias.astype(np.int64)


def synapse(hw: HwModel, name: str, x: np.ndarray) -> np.ndarray:
    """Current of layer ``name`` for a batch x: (N, F) or channel-last (N, H, W, C)."""
    layer = hw.layer(name)
    w, b = hw.weights[name], hw.biases[name]
    if layer["kind"] == "linear":
        return linear(x.reshape(x.shape[0], -1), w, b)
    if layer["kind"] == "conv":
        return conv2d(x, w, b, layer["stride"], layer["padding"])
    return conv_transpose2d(x, w, b, layer["stride"], layer["padding"], layer["output_padding"])


# --- neurons -----------------------------------------------------------------------------
class LIFState:
    """Membranes and last spikes of one layer, for stepped (autoregressive) use."""

    def __init__(self, threshold: int):
        self.threshold, self.u, self.o = threshold, None, None
        self.u_min, self.u_max = 0, 0

    def step(self, current: np.ndarray) -> np.ndarray:
        if self.u is None:
            self.u = current.copy()
        else:
            self.u = (self.u >> 2) * (1 - self.o) + current
        self.o = (self.u > self.threshold).astype(np.int64)
        self.u_min, self.u_max = min(self.u_min, int(self.u.min())), max(self.u_max, int(self.u.max()))
        return self.o


def lif(currents: np.ndarray, threshold: int) -> tuple[np.ndarray, LIFState]:
    """Spikes (T, ...) uint8 of a LIF layer driven by int64 currents (T, ...)."""
    state = LIFState(threshold)
    spikes = np.empty(currents.shape, dtype=np.uint8)
    for t in range(currents.shape[0]):
        spikes[t] = state.step(currents[t])
    return spikes, state


# --- tracing -------------------------------------------------------------------------------
def _record(trace, name, inputs, spikes, state, n_images):
    if trace is None:
        return
    trace[name] = {
        "input_events_per_image": float(inputs.sum()) / n_images if inputs is not None else None,
        "spikes": spikes,
        "spike_rate": float(spikes.mean()) if spikes is not None else None,
        "membrane_min": state.u_min if state is not None else None,
        "membrane_max": state.u_max if state is not None else None,
    }


# --- the passes ------------------------------------------------------------------------------
def _latent_step(hw, net, states, inputs, index_t, trace_steps):
    h = inputs
    for i, name in enumerate(hw.names(net)):
        h_in = h
        h = states[i].step(synapse(hw, name, h))
        if trace_steps is not None:
            trace_steps.setdefault(name, []).append((h_in, h))
    spikes = h.reshape(h.shape[0], hw.C, hw.k)
    return np.take_along_axis(spikes, index_t[..., None], axis=2)[..., 0]


def _finish_latent_trace(hw, net, states, trace_steps, trace, n):
    if trace is None:
        return
    for i, name in enumerate(hw.names(net)):
        ins = np.stack([s[0] for s in trace_steps[name]])
        outs = np.stack([s[1] for s in trace_steps[name]]).astype(np.uint8)
        _record(trace, name, ins, outs, states[i], n)


def _latents(hw, net, seed, n, enc=None, trace=None, first_image=0):
    """Stepped posterior (enc given) or prior: z (T, n, C) int64."""
    idx = sampler_indices(seed, n, hw.C, hw.k, hw.T, first_image=first_image)
    states = [LIFState(hw.layer(name)["threshold"]) for name in hw.names(net)]
    z_prev = np.zeros((n, hw.C), dtype=np.int64)
    zs, steps = [], ({} if trace is not None else None)
    for t in range(hw.T):
        inputs = z_prev if enc is None else np.concatenate([enc[t], z_prev], axis=1)
        z_prev = _latent_step(hw, net, states, inputs, idx[t], steps)
        zs.append(z_prev)
    _finish_latent_trace(hw, net, states, steps, trace, n)
    return np.stack(zs)


def _spiking_layer(hw, name, x, trace, n):
    """A whole layer over all T at once: x (T, n, ...) -> spikes (T, n, ...)."""
    T = x.shape[0]
    current = synapse(hw, name, x.reshape(T * n, *x.shape[2:]))
    current = current.reshape(T, n, *current.shape[1:])
    spikes, state = lif(current, hw.layer(name)["threshold"])
    _record(trace, name, x, spikes, state, n)
    return spikes


def encode(hw: HwModel, images: np.ndarray, trace=None) -> np.ndarray:
    """int8 images (n, C, H, W) -> encoder spikes (T, n, C_latent)."""
    n = images.shape[0]
    x = images.astype(np.int64).transpose(0, 2, 3, 1)
    current = synapse(hw, "encoder.0", x)                      # once: the image is constant
    spikes, state = lif(np.broadcast_to(current, (hw.T, *current.shape)), hw.layer("encoder.0")["threshold"])
    _record(trace, "encoder.0", None, spikes, state, n)
    h = spikes
    for name in hw.names("encoder")[1:]:
        if hw.layer(name)["kind"] == "linear":
            h = h.reshape(hw.T, n, -1) if h.ndim == 3 else _flatten_chw(h)
        h = _spiking_layer(hw, name, h, trace, n)
    return h.astype(np.int64)


def _flatten_chw(h):
    """(T, n, H, W, C) channel-last -> (T, n, C*H*W) in torch's (C, H, W) order."""
    return h.transpose(0, 1, 4, 2, 3).reshape(h.shape[0], h.shape[1], -1)


def decode(hw: HwModel, z: np.ndarray, trace=None) -> np.ndarray:
    """Latent spikes (T, n, C) -> uint8 images (n, C_img, H, W)."""
    T, n, _ = z.shape
    h = _spiking_layer(hw, "decoder_fc", z, trace, n)
    c0, hh, ww = hw.layer("decoder.0")["in_shape"]
    h = h.reshape(T, n, c0, hh, ww).transpose(0, 1, 3, 4, 2)   # to channel-last
    for name in hw.names("decoder")[1:]:
        h = _spiking_layer(hw, name, h, trace, n)
    current = synapse(hw, "output", h.reshape(T * n, *h.shape[2:]))
    current = current.reshape(T, n, *current.shape[1:])
    if trace is not None:
        trace["output"] = {"input_events_per_image": float(h.sum()) / n,
                           "current_min": int(current.min()), "current_max": int(current.max())}
    out = hw.desc["output"]
    m = np.tensordot(np.asarray(out["decay_coefficients"], dtype=np.int64), current, axes=(0, 0))
    pixels = np.searchsorted(np.asarray(out["pixel_thresholds"], dtype=np.int64), m, side="right")
    return pixels.astype(np.uint8).transpose(0, 3, 1, 2)


def spike_weights(hw: HwModel, spikes: np.ndarray) -> np.ndarray:
    """S = sum_t decay_coefficients[t] * s_t of the output layer's input spikes (T, n, H, W, C):
    (n, H, W, C) int64, each in [0, sum(decay_coefficients)]."""
    coef = np.asarray(hw.desc["output"]["decay_coefficients"], dtype=np.int64)
    return np.tensordot(coef, spikes.astype(np.int64), axes=(0, 0))


def output_sum_reordered(hw: HwModel, spikes: np.ndarray) -> np.ndarray:
    """The output sum m by the exact reordering m = W * S + b * sum(coef) (the hwmodel spec's
    "Output, reordered"): equal to decode's sum_t coef[t] * (W * s_t + b), integer for
    integer; channel-last (n, H, W, C_img)."""
    layer, coef_sum = hw.layer("output"), int(sum(hw.desc["output"]["decay_coefficients"]))
    return conv_transpose2d(spike_weights(hw, spikes), hw.weights["output"], hw.biases["output"] * coef_sum,
                            layer["stride"], layer["padding"], layer["output_padding"])


def generate(hw: HwModel, n: int, seed: int, trace: dict | None = None, first_image: int = 0) -> np.ndarray:
    """n images sampled from the prior, uint8 (n, C, H, W).  Pass a dict as ``trace`` to get
    per-layer spike trains, event counts and membrane extremes."""
    z = _latents(hw, "prior", seed, n, trace=trace, first_image=first_image)
    if trace is not None:
        trace["latent"] = {"spikes": z.astype(np.uint8)}
    return decode(hw, z, trace)


def reconstruct(hw: HwModel, images: np.ndarray, seed: int, trace: dict | None = None,
                first_image: int = 0) -> np.ndarray:
    """int8 images (n, C, H, W) (see quantize_images) -> reconstructions, uint8."""
    images = np.asarray(images)
    if images.dtype != np.int8 or images.shape[1:] != hw.image_shape:
        raise ValueError(f"images must be int8 of shape (n, {', '.join(map(str, hw.image_shape))}); "
                         f"got {images.dtype} {images.shape} (use golden.quantize_images)")
    enc = encode(hw, images, trace)
    z = _latents(hw, "posterior", seed, images.shape[0], enc=enc, trace=trace, first_image=first_image)
    if trace is not None:
        trace["latent"] = {"spikes": z.astype(np.uint8)}
    return decode(hw, z, trace)


def quantize_images(images: np.ndarray, frac_bits: int = 7) -> np.ndarray:
    """Float images in [-1, 1] -> int8 fixed point: clamp(round_half_even(x * 2^f), ...)."""
    one = 1 << frac_bits
    q = np.clip(np.round(np.asarray(images, dtype=np.float32) * np.float32(one)), -one, one - 1)
    return q.astype(np.int8)
