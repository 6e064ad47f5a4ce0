"""The LIF linear layer with its weight rows in DDR (hls/fsvae/lif_linear.h lif_linear_step_ddr)
equals the golden model bit for bit in C simulation, for every way an engine word of P x W bits
meets a DDR beat (a beat holds several words, exactly one, or a word spans beats; rows with
padding between them and rows that end inside a beat).  The DDR image is packed as the
generators pack it (design.pack_lanes, design.row_stride); padding holds junk, which the
engine must not use.  Testbench hls/tb/tb_lif_linear_ddr.cpp."""
from __future__ import annotations

import numpy as np
import pytest

from fsvae_fpga.codegen.design import pack_lanes, row_stride

from .tb import bench
from .test_lif_linear import lif_check, lif_expected

# The testbench's instantiations: config -> (IN, OUT, P, current bits, membrane bits,
# beat bits, row stride in beats).
DDR_CONFIGS = {0: (64, 48, 4, 25, 26, 64, 8), 1: (16, 8, 8, 40, 42, 64, 1), 2: (20, 96, 32, 25, 26, 64, 16),
               3: (12, 6, 2, 25, 26, 64, 1), 4: (20, 7, 1, 25, 26, 32, 2)}
W_BITS = 8


@pytest.fixture(scope="module")
def tb():
    return bench("lif_linear_ddr")


def ddr_image(config, weight, rng):
    """weight (OUT, IN) as the hardware model -> the bytes of the layer's rows: row i = the
    OUT weights of input i, W_BITS each, lane 0 (output 0) in the low bits, little-endian,
    rows STRIDE beats apart; junk in the padding."""
    IN, OUT, P, _, _, beat_bits, stride = DDR_CONFIGS[config]
    beat = beat_bits // 8
    useful = OUT * W_BITS // 8
    assert row_stride(useful, beat, 16 * beat) == stride * beat, "the instantiation's stride is the generators'"
    image = bytearray(rng.integers(0, 256, IN * stride * beat, dtype=np.uint8).tobytes())    # junk
    for i in range(IN):
        image[i * stride * beat:i * stride * beat + useful] = pack_lanes(weight[:, i], W_BITS).to_bytes(useful, "little")
    return np.frombuffer(bytes(image), dtype=np.uint8).astype(np.int64)


def case(config, weight, bias, threshold, x, rng, first=None):
    IN, OUT = DDR_CONFIGS[config][:2]
    T = x.shape[0]
    first = np.eye(1, T, dtype=np.int64)[0] if first is None else np.asarray(first)
    c = {"config": config, "threshold": threshold, "ddr": ddr_image(config, weight, rng), "bias": bias,
         "membrane0": rng.integers(-(1 << 20), 1 << 20, OUT), "spikes0": np.ones(OUT, dtype=np.int64),
         "first": first, "x": x}
    return c, (weight, bias, threshold, x, first)


def test_lif_ddr_equals_golden(tb, tmp_path):
    rng = np.random.default_rng(7)
    cases, spikes_seen = [], 0
    for config, (IN, OUT, *_rest) in DDR_CONFIGS.items():
        for density in (0.0, 0.1, 0.5, 1.0):
            weight = rng.integers(-128, 128, (OUT, IN))
            weight[0, :] = -128                                      # sign extension of every lane position
            bias = rng.integers(-(1 << 10), 1 << 10, OUT)
            T = 10
            x = (rng.random((T, IN)) < density).astype(np.int64)
            first = np.zeros(T, dtype=np.int64)
            first[[0, 6]] = 1
            scale = int(np.sqrt(IN * density + 1) * 74)
            for threshold in (int(rng.integers(-scale, scale)), scale // 2):
                c, spec = case(config, weight, bias, threshold, x, rng, first)
                cases.append((c, spec))
                spikes_seen += sum(o.sum() for _, _, o in lif_expected(*spec))
    assert spikes_seen > 0
    results = tb.run(tmp_path, {"lif": [c for c, _ in cases]})
    assert len(results["lif"]) == len(cases)
    for got, (_, spec) in zip(results["lif"], cases):
        lif_check(got, spec)


def test_lif_ddr_reads_the_rows_it_is_given(tb, tmp_path):
    """A flipped bit in one used row changes that step's membranes; the same flip in the
    padding after the row changes nothing."""
    rng = np.random.default_rng(8)
    config = 0
    IN, OUT, _, _, _, beat_bits, stride = DDR_CONFIGS[config]
    weight = rng.integers(-128, 128, (OUT, IN))
    bias = rng.integers(-(1 << 10), 1 << 10, OUT)
    x = np.zeros((1, IN), dtype=np.int64)
    x[0, 5] = 1
    c, spec = case(config, weight, bias, 0, x, rng)
    row5 = 5 * stride * beat_bits // 8
    good = tb.run(tmp_path, {"lif": [c]})["lif"][0]
    lif_check(good, spec)
    bad_row, bad_pad = dict(c), dict(c)
    bad_row["ddr"] = c["ddr"].copy()
    bad_row["ddr"][row5 + 3] ^= 0x40                              # output 3 of input 5
    bad_pad["ddr"] = c["ddr"].copy()
    bad_pad["ddr"][row5 + OUT] ^= 0x40                            # the first padding byte after row 5
    got_row, got_pad = (tb.run(tmp_path, {"lif": [v]})["lif"][0] for v in (bad_row, bad_pad))
    diff = np.flatnonzero(got_row["membrane"][0] != good["membrane"][0])
    assert list(diff) == [3]
    lif_check(got_pad, spec)
