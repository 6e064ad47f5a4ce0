"""The latent sampler (hls/fsvae/sampler.h) equals the golden sampler bit for bit in C
simulation: fmix32 / xorshift32 on known answers and random words, whole index streams
(sampler.indices), and the latent pick of every channel; testbench hls/tb/tb_sampler.cpp."""
from __future__ import annotations

import numpy as np
import pytest

from fsvae_fpga.contract import sampler

from .tb import assert_equal, bench


@pytest.fixture(scope="module")
def tb():
    return bench("sampler")


def test_sampler_known_answers_and_hashes(tb, tmp_path):
    rng = np.random.default_rng(5)
    values = np.concatenate([[0, 1, 2, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x6A09E667],
                             rng.integers(0, 1 << 32, 500, dtype=np.uint64)]).astype(np.int64)
    got = tb.run(tmp_path, {"hash": [{"v": values}]})["hash"][0]
    assert got["fmix32"][1] == 0x514E28B7 and got["fmix32"][0] == 0 and got["fmix32"][3] == 0x81F16F39
    assert got["xorshift32"][1] == 270369
    u32 = values.astype(np.uint32)
    assert_equal(got, {"fmix32": sampler.fmix32(u32).astype(np.int64),
                       "xorshift32": sampler.xorshift32(u32).astype(np.int64)}, "hashes")


def zero_state_seed(image: int, channel: int) -> int:
    seed = int(sampler.fmix32(((image << 16) | channel) ^ sampler.KEY_XOR))
    key = np.array([(image << 16) | channel], dtype=np.uint32)
    assert int(sampler.fmix32(sampler.fmix32(key ^ np.uint32(sampler.KEY_XOR)) ^ np.uint32(seed))[0]) == 0
    return seed


def test_sampler_index_sequences(tb, tmp_path):
    steps = 12
    streams = []
    for seed in (0, 1, 12345, 0xDEADBEEF, 0xFFFFFFFF):
        for image in (0, 1, 777, 65535):
            for channel in (0, 3, 255, 65535):
                for k in (20, 256, 1, 255):
                    streams.append((seed, image, channel, k))
    # fmix32 is a bijection, so seed = fmix32(key ^ key_xor) makes s0 zero: the replacement
    for image, channel in ((0, 0), (9, 4), (65535, 65535)):
        seed = zero_state_seed(image, channel)
        streams += [(seed, image, channel, 20), (seed, image, channel, 256)]
    got = tb.run(tmp_path, {"stream": [{"streams": np.array(streams), "steps": steps}]})["stream"][0]
    s0, states, indices = [], [], []
    for seed, image, channel, k in streams:
        s0.append(int(sampler.initial_states(seed, [image], channel + 1)[0, channel]))
        x, row = np.uint32(s0[-1]), []
        for _ in range(steps):
            x = sampler.xorshift32(x)
            row.append(int(x))
        states.append(row)
        indices.append(sampler.indices(seed, 1, channel + 1, k, steps, first_image=image)[:, 0, channel])
    assert sampler.ZERO_STATE_REPLACEMENT in s0              # the zero-state streams did replace
    assert_equal(got, {"s0": s0, "state": states, "index": np.array(indices)}, "index streams")


def test_pick_latent(tb, tmp_path):
    rng = np.random.default_rng(6)
    cases = []
    for C, K in ((4, 20), (3, 256), (5, 1)):
        for seed, image in ((0, 0), (42, 3), (0xFFFFFFFF, 65535), (zero_state_seed(7, 2), 7)):
            T = 10
            spikes = (rng.random((T, C * K)) < 0.5).astype(np.int64)
            cases.append({"seed": seed, "image": image, "spikes": spikes.reshape(T, C, K)})
    results = tb.run(tmp_path, {"pick": cases})["pick"]
    for case, got in zip(cases, results):
        seed, image, spikes = case["seed"], case["image"], case["spikes"]
        T, C, K = spikes.shape
        idx = sampler.indices(seed, 1, C, K, T, first_image=image)[:, 0, :]
        expected = np.take_along_axis(spikes, idx[..., None], axis=2)[..., 0]
        assert_equal(got, {"states0": sampler.initial_states(seed, [image], C)[0].astype(np.int64),
                           "z": expected}, f"pick C={C} K={K} seed={seed} image={image}")
