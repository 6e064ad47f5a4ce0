"""Hardware random source for the Bernoulli latent: the xorshift32-per-channel spec, version 1.

This module *is* the specification.  The numpy code below is the golden model; the C++
(Vitis HLS) and SystemVerilog implementations must reproduce it bit for bit.  It imports
numpy only (no torch) so that it can be read and run on its own.

What it produces
----------------
The FSVAE latent emits k spikes per latent channel and time step; the latent bit is the
spike at a random index in [0, k).  For a run of images (image index ``i`` = 0, 1, 2, ...
in the order the run produces them), latent channels ``c`` in [0, C) and time steps
``t`` in [0, T), this module defines that index ``index[t, i, c]``.

Parameters and ranges
---------------------
=============  ======================  ==========================================
``seed``       32-bit unsigned          user seed, 0 <= seed < 2**32 (0 is fine)
``image``      16-bit unsigned          0 <= image < 65536, index within one run
``channel``    16-bit unsigned          0 <= channel < C <= 65536
``k``          9-bit                    1 <= k <= 256 (spikes per channel)
=============  ======================  ==========================================

All arithmetic is on unsigned 32-bit words (mod 2**32); ``<<`` discards bits shifted
out of bit 31, ``>>`` is a logical shift (zeros come in).

1. Seeding hash (image start only): the murmur3 32-bit finaliser::

       fmix32(h):  h ^= h >> 16
                   h  = (h * 0x85EBCA6B) mod 2**32
                   h ^= h >> 13
                   h  = (h * 0xC2B2AE35) mod 2**32
                   h ^= h >> 16

   Known answers (the SMHasher MurmurHash3_x86_32 vectors of the empty key, whose hash
   is fmix32(seed)): fmix32(0) = 0, fmix32(1) = 0x514E28B7,
   fmix32(0xFFFFFFFF) = 0x81F16F39.

2. One independent stream per (image, channel), initial state::

       key = (image << 16) | channel
       s0  = fmix32(fmix32(key ^ 0x9E3779B9) ^ seed)
       if s0 == 0: s0 = 0x6A09E667

   xorshift's zero state is a fixed point; the replacement makes every seed (including 0)
   and every key give a live stream.

3. Generator: Marsaglia xorshift32, shifts (13, 17, 5)::

       xorshift32(x):  x ^= x << 13
                       x ^= x >> 17
                       x ^= x << 5

   It is linear over GF(2) (a relative of an LFSR).  Its 32x32 bit matrix M has
   M**(2**32-1) = I and M**((2**32-1)/p) != I for every prime p | 2**32-1
   (3, 5, 17, 257, 65537), so every nonzero state lies on one cycle of length 2**32-1
   and 0 never appears.  Known answer: xorshift32(1) = 0x00042021 (= 270369).

4. Draw: advance first, then map the new state to an index with a multiply-shift on its
   top 16 bits::

       x     = xorshift32(x)
       index = ((x >> 16) * k) >> 16            # in [0, k)

   Bias: of the 65536 values of ``x >> 16``, each index receives floor(65536/k) or
   ceil(65536/k) of them, so P(index) deviates from 1/k by less than 1/65536 absolute
   (relative deviation below k/65536 <= 1/256); zero when k is a power of two.

5. Draw order: at time step t (0..T-1) every (image, channel) stream draws exactly once,
   so ``index[t, i, c]`` is draw number t+1 of stream (i, c) (the seed state s0 itself is
   never used as an index).  Streams are independent, so hardware may visit channels in
   any order or in parallel lanes, as long as each stream advances once per step.

Hardware cost
-------------
* State: C words of 32 bits per image in flight (a BRAM, or registers for small C).
* Per draw: one xorshift32 = a fixed XOR/shift network (no multiplier, no carry chain),
  plus one 16x8 unsigned multiply for the index (a DSP slice or a small LUT multiplier;
  only bits [23:16] of the 24-bit product are kept).
* Per image start: per channel, two fmix32 = four 32x32 multiplies (keep the low 32
  bits), done once; can be pipelined or shared, off the per-step critical path.

Known answers of the whole pipeline are pinned in ``tests/test_sampler.py`` against an
independent plain-integer re-implementation of the text above.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SPEC", "fmix32", "xorshift32", "initial_states", "index_from_state",
           "LatentSampler", "indices"]

MASK32 = 0xFFFFFFFF
KEY_XOR = 0x9E3779B9
ZERO_STATE_REPLACEMENT = 0x6A09E667
FMIX_C1 = 0x85EBCA6B
FMIX_C2 = 0xC2B2AE35
SHIFTS = (13, 17, 5)
MAX_K = 256
MAX_CHANNELS = 1 << 16
MAX_IMAGES = 1 << 16
SEED_MAX = MASK32     # the project's one seed range, [0, SEED_MAX]: every command enforces it

SPEC: dict = {
    "name": "xorshift32-per-channel",
    "version": 1,
    "shifts": list(SHIFTS),
    "seed_hash": "murmur3-fmix32",
    "key": "(image << 16) | channel",
    "key_xor": KEY_XOR,
    "initial_state": "fmix32(fmix32(key ^ key_xor) ^ seed), 0 -> zero_state_replacement",
    "zero_state_replacement": ZERO_STATE_REPLACEMENT,
    "index": "((x >> 16) * k) >> 16",
    "draw_order": ("advance then index: x = xorshift32(x); index = ((x >> 16) * k) >> 16; "
                   "at time step t every (image, channel) stream draws exactly once, so "
                   "index[t, image, channel] is draw t+1 of stream (image, channel)"),
    "seed_bits": 32,
    "k_range": [1, MAX_K],
    "max_channels": MAX_CHANNELS,
    "max_images": MAX_IMAGES,
}


# ----------------------------------------------------------------------------- helpers

def _check_int(name: str, value, lo: int, hi: int, what: str) -> int:
    """value must be an int (not bool) with lo <= value <= hi."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer {what}, got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def _check_seed(seed) -> int:
    return _check_int("seed", seed, 0, SEED_MAX, "in [0, 2**32)")


def _check_k(k) -> int:
    return _check_int("k", k, 1, MAX_K, f"in [1, {MAX_K}]")


def _check_channels(channels) -> int:
    return _check_int("channels", channels, 1, MAX_CHANNELS, f"in [1, {MAX_CHANNELS}]")


def _as_u32(x) -> np.ndarray:
    """Any integer scalar/array with values in [0, 2**32) -> uint32 array (a copy)."""
    a = np.asarray(x)
    if a.dtype == np.uint32:
        return a.copy()
    if a.dtype.kind not in "iu" and a.dtype != object:
        raise ValueError(f"expected unsigned 32-bit integers, got dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > MASK32):
        raise ValueError("values must be in [0, 2**32)")
    return a.astype(np.uint64).astype(np.uint32)


def _mul32(a: np.ndarray, c: int) -> np.ndarray:
    """(a * c) mod 2**32 through a uint64 intermediate."""
    return ((a.astype(np.uint64) * np.uint64(c)) & np.uint64(MASK32)).astype(np.uint32)


def _nonzero(state) -> np.ndarray:
    """Replace zero states by 0x6A09E667 (xorshift's zero state is a fixed point)."""
    s = _as_u32(state)
    return np.where(s == 0, np.uint32(ZERO_STATE_REPLACEMENT), s).astype(np.uint32)


# ----------------------------------------------------------------------------- spec

def fmix32(x) -> np.ndarray:
    """murmur3 32-bit finaliser, vectorised; uint32 in (int or array), uint32 array out."""
    h = _as_u32(x)
    h ^= h >> np.uint32(16)
    h = _mul32(h, FMIX_C1)
    h ^= h >> np.uint32(13)
    h = _mul32(h, FMIX_C2)
    h ^= h >> np.uint32(16)
    return h


def xorshift32(x) -> np.ndarray:
    """One Marsaglia xorshift32 step with shifts (13, 17, 5), vectorised, uint32."""
    x = _as_u32(x)
    a, b, c = (np.uint32(s) for s in SHIFTS)
    x ^= x << a          # uint32 shifts wrap mod 2**32
    x ^= x >> b
    x ^= x << c
    return x


def _image_array(images) -> np.ndarray:
    imgs = np.asarray(images)
    if imgs.ndim != 1:
        raise ValueError(f"images must be a 1-D sequence of image indices, got shape {imgs.shape}")
    if imgs.size and imgs.dtype.kind not in "iu":
        raise ValueError(f"image indices must be integers in [0, {MAX_IMAGES}), got dtype {imgs.dtype}")
    if imgs.size and (imgs.min() < 0 or imgs.max() >= MAX_IMAGES):
        raise ValueError(f"image indices must be in [0, {MAX_IMAGES}), got range "
                         f"[{imgs.min()}, {imgs.max()}]")
    return imgs.astype(np.uint32)


def initial_states(seed: int, images, channels: int) -> np.ndarray:
    """Seed states s0, shape (len(images), channels), uint32, never zero."""
    seed = _check_seed(seed)
    channels = _check_channels(channels)
    imgs = _image_array(images)
    key = (imgs[:, None] << np.uint32(16)) | np.arange(channels, dtype=np.uint32)[None, :]
    s0 = fmix32(fmix32(key ^ np.uint32(KEY_XOR)) ^ np.uint32(seed))
    return _nonzero(s0)


def index_from_state(x, k: int) -> np.ndarray:
    """Index in [0, k) from an (already advanced) state: ((x >> 16) * k) >> 16, int64."""
    k = _check_k(k)
    hi = (_as_u32(x) >> np.uint32(16)).astype(np.int64)
    return (hi * k) >> 16


class LatentSampler:
    """Stateful: streams for a block of images; draw() advances every stream once.

    Images ``first_image .. first_image + n_images - 1`` of the run, ``channels`` streams
    each.  The t-th call of draw() (t = 0, 1, ...) returns the indices of time step t.
    """

    def __init__(self, seed: int, channels: int, k: int, first_image: int = 0, n_images: int = 1):
        self.seed = _check_seed(seed)
        self.channels = _check_channels(channels)
        self.k = _check_k(k)
        self.first_image = _check_int("first_image", first_image, 0, MAX_IMAGES - 1,
                                      f"in [0, {MAX_IMAGES})")
        self.n_images = _check_int("n_images", n_images, 1, MAX_IMAGES - self.first_image,
                                   f"in [1, {MAX_IMAGES} - first_image] "
                                   f"(image indices must stay below {MAX_IMAGES})")
        self.state = initial_states(self.seed, range(self.first_image,
                                                     self.first_image + self.n_images),
                                    self.channels)
        self.step = 0

    def draw(self) -> np.ndarray:
        """(n_images, channels) int64 indices in [0, k) for the next time step."""
        self.state = xorshift32(self.state)
        self.step += 1
        return index_from_state(self.state, self.k)


def indices(seed: int, n_images: int, channels: int, k: int, steps: int,
            first_image: int = 0) -> np.ndarray:
    """All indices of a block: shape (steps, n_images, channels), int64 in [0, k)."""
    steps = _check_int("steps", steps, 0, 1 << 31, "a non-negative integer")
    sampler = LatentSampler(seed, channels, k, first_image, n_images)
    out = np.empty((steps, sampler.n_images, sampler.channels), dtype=np.int64)
    for t in range(steps):
        out[t] = sampler.draw()
    return out
