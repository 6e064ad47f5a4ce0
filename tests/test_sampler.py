"""Tests of the hardware random source spec (fsvae_fpga.contract.sampler, xorshift32-per-channel v1)."""
import json
import math

import numpy as np
import pytest

from fsvae_fpga.contract import sampler
from fsvae_fpga.contract.sampler import (SPEC, LatentSampler, fmix32, index_from_state, indices, initial_states,
                                         xorshift32)

M32 = 0xFFFFFFFF


# --------------------------------------------------------------------- reference (plain ints)
# Written from the spec text only; no numpy, no code shared with the module.

def ref_fmix32(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def ref_xorshift32(x):
    x ^= (x << 13) & M32
    x ^= x >> 17
    x ^= (x << 5) & M32
    return x


def ref_indices(seed, n_images, channels, k, steps, first_image=0):
    """Nested lists [t][i][c]."""
    out = [[[0] * channels for _ in range(n_images)] for _ in range(steps)]
    for i in range(n_images):
        image = first_image + i
        for c in range(channels):
            key = (image << 16) | c
            x = ref_fmix32(ref_fmix32(key ^ 0x9E3779B9) ^ seed)
            if x == 0:
                x = 0x6A09E667
            for t in range(steps):
                x = ref_xorshift32(x)
                out[t][i][c] = ((x >> 16) * k) >> 16
    return out


# --------------------------------------------------------------------- known answers

def test_known_answers():
    # SMHasher MurmurHash3_x86_32 of the empty key with seed s is fmix32(s).
    assert fmix32(0) == 0
    assert fmix32(1) == 0x514E28B7
    assert fmix32(0xFFFFFFFF) == 0x81F16F39
    assert xorshift32(np.uint32(1)) == 270369           # Marsaglia xorshift32 from state 1
    assert fmix32(np.array([0, 1, 0xFFFFFFFF], dtype=np.uint32)).dtype == np.uint32


def test_spec_is_json_and_complete():
    spec = json.loads(json.dumps(SPEC))
    assert spec["name"] == "xorshift32-per-channel" and spec["version"] == 1
    assert spec["shifts"] == [13, 17, 5]
    assert spec["seed_hash"] == "murmur3-fmix32"
    assert spec["key"] == "(image << 16) | channel"
    assert spec["key_xor"] == 0x9E3779B9
    assert spec["zero_state_replacement"] == 0x6A09E667
    assert spec["index"] == "((x >> 16) * k) >> 16"
    assert "draw_order" in spec


# --------------------------------------------------------------------- equality with reference

@pytest.mark.parametrize("seed", [0, 1, 0xDEADBEEF, 2**32 - 1])
@pytest.mark.parametrize("k", [20, 256])
def test_equals_plain_int_reference(seed, k):
    for first_image, n_images, channels in [(0, 3, 5), (65533, 3, 2), (17, 1, 33)]:
        got = indices(seed, n_images, channels, k, 16, first_image=first_image)
        ref = np.array(ref_indices(seed, n_images, channels, k, 16, first_image), dtype=np.int64)
        assert got.shape == (16, n_images, channels) and got.dtype == np.int64
        assert (got == ref).all()


def test_vectorised_primitives_equal_reference():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2**32, size=2000, dtype=np.uint64).astype(np.uint32)
    assert [int(v) for v in fmix32(x)] == [ref_fmix32(int(v)) for v in x]
    assert [int(v) for v in xorshift32(x)] == [ref_xorshift32(int(v)) for v in x]
    for k in (1, 7, 20, 256):
        assert [int(v) for v in index_from_state(x, k)] == [((int(v) >> 16) * k) >> 16 for v in x]
    s0 = initial_states(99, range(3, 6), 4)
    for i, image in enumerate(range(3, 6)):
        for c in range(4):
            assert s0[i, c] == ref_fmix32(ref_fmix32(((image << 16) | c) ^ 0x9E3779B9) ^ 99)


def test_sampler_draw_sequence_equals_indices():
    all_idx = indices(7, 3, 10, 20, 12, first_image=5)
    s = LatentSampler(7, 10, 20, first_image=5, n_images=3)
    for t in range(12):
        assert (s.draw() == all_idx[t]).all()
    # an image's indices do not depend on which block it was drawn in
    assert (indices(7, 1, 10, 20, 12, first_image=6)[:, 0] == all_idx[:, 1]).all()


# --------------------------------------------------------------------- period

def _xorshift_n(x, shifts, bits):
    m = (1 << bits) - 1
    a, b, c = shifts
    x ^= (x << a) & m
    x ^= x >> b
    x ^= (x << c) & m
    return x


def _gf2_matrix(step, bits):
    """Columns (Python ints) of the GF(2) matrix of a linear map: col[j] = step(e_j)."""
    return [step(1 << j) for j in range(bits)]


def _gf2_apply(cols, v):
    r, j = 0, 0
    while v:
        if v & 1:
            r ^= cols[j]
        v >>= 1
        j += 1
    return r


def _gf2_mul(a, b):
    """Columns of A @ B."""
    return [_gf2_apply(a, col) for col in b]


def _gf2_pow(m, e):
    bits = len(m)
    result = [1 << j for j in range(bits)]
    while e:
        if e & 1:
            result = _gf2_mul(result, m)
        m = _gf2_mul(m, m)
        e >>= 1
    return result


def _full_period_by_matrix(step, bits, primes):
    n = (1 << bits) - 1
    assert math.prod(primes) == n                        # 2**bits - 1 is squarefree here
    m = _gf2_matrix(step, bits)
    ident = [1 << j for j in range(bits)]
    return _gf2_pow(m, n) == ident and all(_gf2_pow(m, n // p) != ident for p in primes)


def _cycle_length_from_1(step, bits):
    seen = bytearray(1 << bits)
    x, n = 1, 0
    while not seen[x]:
        seen[x] = 1
        x = step(x)
        n += 1
    return n, x, sum(seen)


def test_period_16bit_exhaustive_and_matrix_agree():
    step = lambda x: _xorshift_n(x, (7, 9, 8), 16)
    n, back, visited = _cycle_length_from_1(step, 16)
    assert (n, back, visited) == (2**16 - 1, 1, 2**16 - 1)   # every nonzero state once, back to 1
    assert _full_period_by_matrix(step, 16, [3, 5, 17, 257])
    # the matrix criterion also rejects a triple that is not full period
    bad = lambda x: _xorshift_n(x, (1, 1, 1), 16)
    assert _cycle_length_from_1(bad, 16)[0] < 2**16 - 1
    assert not _full_period_by_matrix(bad, 16, [3, 5, 17, 257])


def test_period_32bit_by_gf2_matrix():
    # the module's generator is linear over GF(2)
    rng = np.random.default_rng(2)
    a, b = (rng.integers(0, 2**32, size=100, dtype=np.uint64).astype(np.uint32) for _ in "ab")
    assert (xorshift32(a ^ b) == (xorshift32(a) ^ xorshift32(b))).all()
    step = lambda x: int(xorshift32(np.uint32(x)))
    assert _gf2_matrix(step, 32) == _gf2_matrix(ref_xorshift32, 32)
    # M^(2^32-1) = I and M^((2^32-1)/p) != I for p in 3, 5, 17, 257, 65537: period 2^32-1
    assert _full_period_by_matrix(ref_xorshift32, 32, [3, 5, 17, 257, 65537])


# --------------------------------------------------------------------- zero state

def test_zero_state_replacement():
    assert xorshift32(np.uint32(0)) == 0                # why the replacement is needed
    assert sampler._nonzero(0) == 0x6A09E667
    got = sampler._nonzero(np.array([0, 5, 0], dtype=np.uint32))
    assert got.tolist() == [0x6A09E667, 5, 0x6A09E667] and got.dtype == np.uint32


def test_seed_zero_is_live():
    s0 = initial_states(0, range(4), 256)
    assert (s0 != 0).all() and len(np.unique(s0)) == s0.size
    idx = indices(0, 2, 64, 20, 50)
    assert idx.min() == 0 and idx.max() == 19
    assert len(np.unique(idx)) == 20


# --------------------------------------------------------------------- statistics

def chi2_quantile_999(dof):
    """99.9 % quantile of chi-square(dof), Wilson-Hilferty approximation."""
    z = 3.090232306167813
    return dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3


def test_chi2_quantile_against_table():
    table = {1: 10.828, 2: 13.816, 6: 22.458, 15: 37.697, 19: 43.820, 99: 148.230, 255: 330.520}
    for dof, q in table.items():
        assert abs(chi2_quantile_999(dof) - q) / q < 0.04


def chi2(idx, k):
    counts = np.bincount(idx.ravel(), minlength=k)
    expected = idx.size / k
    return float(((counts - expected) ** 2 / expected).sum())


@pytest.mark.parametrize("k", [2, 3, 7, 16, 20, 100, 256])
def test_chi_square_uniformity(k):
    idx = indices(1000 + k, 4, 500, k, 100)                 # 200k draws
    assert idx.min() >= 0 and idx.max() < k
    assert chi2(idx, k) < chi2_quantile_999(k - 1)


def test_index_bias_bound():
    top = np.arange(65536, dtype=np.uint64) << np.uint64(16)
    x = top.astype(np.uint32)
    for k in range(1, 257):
        counts = np.bincount(index_from_state(x, k), minlength=k)
        assert len(counts) == k
        assert counts.min() >= 65536 // k and counts.max() <= -(-65536 // k)


def pearson(a, b):
    a = a.ravel().astype(np.float64)
    b = b.ravel().astype(np.float64)
    return float(np.corrcoef(a, b)[0, 1])


def r_threshold(n):
    # under independence r ~ N(0, 1/n): 4.5 sigma, a false failure has probability ~7e-6
    return 4.5 / math.sqrt(n)


def test_correlations():
    idx = indices(12345, 5, 256, 256, 160)                  # (T, I, C), 204800 draws
    pairs = {
        "neighbouring channels": (idx[:, :, :-1], idx[:, :, 1:]),
        "consecutive draws": (idx[:-1], idx[1:]),
        "neighbouring images": (idx[:, :-1], idx[:, 1:]),
        "seed s vs s+1": (idx, indices(12346, 5, 256, 256, 160)),
    }
    for name, (a, b) in pairs.items():
        n = a.size
        assert n >= 150_000, name
        r = pearson(a, b)
        assert abs(r) < r_threshold(n), (name, r, r_threshold(n))


# --------------------------------------------------------------------- argument checks

@pytest.mark.parametrize("call", [
    lambda: indices(-1, 1, 4, 20, 2),
    lambda: indices(2**32, 1, 4, 20, 2),
    lambda: indices(1.5, 1, 4, 20, 2),
    lambda: indices(True, 1, 4, 20, 2),
    lambda: indices(0, 1, 4, 0, 2),
    lambda: indices(0, 1, 4, 257, 2),
    lambda: indices(0, 1, 0, 20, 2),
    lambda: indices(0, 1, 65537, 20, 2),
    lambda: indices(0, 0, 4, 20, 2),
    lambda: indices(0, 2, 4, 20, 2, first_image=65535),
    lambda: indices(0, 1, 4, 20, 2, first_image=-1),
    lambda: indices(0, 1, 4, 20, -1),
    lambda: LatentSampler(0, 4, 20, first_image=65536),
    lambda: initial_states(0, [65536], 4),
    lambda: initial_states(0, [-1], 4),
    lambda: initial_states(2**32, [0], 4),
    lambda: index_from_state(np.uint32(5), 0),
    lambda: index_from_state(np.uint32(5), 300),
    lambda: fmix32(-1),
    lambda: xorshift32(2**32),
])
def test_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


def test_bad_argument_messages_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"\[0, 2\*\*32\)"):
        indices(-1, 1, 4, 20, 2)
    with pytest.raises(ValueError, match=r"\[1, 256\]"):
        indices(0, 1, 4, 257, 2)
    with pytest.raises(ValueError, match=r"\[1, 65536\]"):
        indices(0, 1, 65537, 20, 2)
    with pytest.raises(ValueError, match="65536"):
        initial_states(0, [70000], 4)


def test_edge_ranges_work():
    assert indices(2**32 - 1, 1, 65536, 1, 2, first_image=65535).shape == (2, 1, 65536)
    assert (indices(3, 2, 3, 1, 4) == 0).all()
    assert indices(3, 2, 3, 5, 0).shape == (0, 2, 3)
