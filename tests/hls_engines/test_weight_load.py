"""The run-time weight loader (hls/fsvae/weight_load.h) reads the RTL's blob format in C
simulation: words packed by the RTL writer's packer (rtl.pack_lanes, as in write_weight_blob)
land in weight[row][g*P + p], sign-extended, for memory words of 1, 2 and 8 stream words;
testbench hls/tb/tb_weight_load.cpp."""
from __future__ import annotations

import numpy as np
import pytest

from .tb import assert_equal, bench

# (ROWS, COUT, P, W_BITS), as instantiated in the testbench
LOAD_CONFIGS = [(5, 6, 3, 4), (3, 14, 7, 6), (2, 64, 32, 8)]


@pytest.fixture(scope="module")
def tb():
    return bench("weight_load", opt="-O1")


def blob(rng):
    """Random weights of every memory (the extremes included) and their blob words."""
    from fsvae_fpga.codegen.rtl import pack_lanes
    weights, words = [], []
    for rows, cout, p, bits in LOAD_CONFIGS:
        w = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=(rows, cout))
        w[0, :2] = [-(1 << (bits - 1)), (1 << (bits - 1)) - 1]
        weights.append(w)
        chunks = (p * bits + 31) // 32
        for row in w.reshape(-1, p):
            data = pack_lanes(row, bits).to_bytes(4 * chunks, "little")
            words += [int.from_bytes(data[4 * i:4 * i + 4], "little") for i in range(chunks)]
    return weights, words


def n_words(rows, cout, p, bits):
    return rows * cout // p * ((p * bits + 31) // 32)


def test_weight_loader_reads_the_rtl_blob(tb, tmp_path):
    weights, words = blob(np.random.default_rng(7))
    memories = [{"shape": cfg, "taken0": 0} for cfg in LOAD_CONFIGS]
    results = tb.run(tmp_path, {"memory": memories}, stream=words)
    for cfg, w, got in zip(LOAD_CONFIGS, weights, results["memory"]):
        n = n_words(*cfg)
        assert_equal(got, {"weight": w, "taken": n, "progress": n}, f"memory {cfg}")   # taken, progress
    assert results["left"] == 0


def test_word_count_goes_on_from_memory_to_memory(tb, tmp_path):
    """taken counts on across the memories of one run (the core's progress register)."""
    weights, words = blob(np.random.default_rng(8))
    start = 0xFFFFFFF0 - n_words(*LOAD_CONFIGS[0])          # ends past 2^32 - 1: wraps as ap_uint<32>
    memories, taken = [], start
    for cfg in LOAD_CONFIGS:
        memories.append({"shape": cfg, "taken0": taken})
        taken = (taken + n_words(*cfg)) % (1 << 32)
    results = tb.run(tmp_path, {"memory": memories}, stream=words)
    for m, w, got in zip(memories, weights, results["memory"]):
        end = (m["taken0"] + n_words(*m["shape"])) % (1 << 32)
        assert_equal(got, {"weight": w, "taken": end, "progress": end}, f"memory {m['shape']}")
    assert results["left"] == 0


def test_testbench_rejects_a_short_blob(tb, tmp_path):
    _, words = blob(np.random.default_rng(7))
    proc = tb.run_raw(tmp_path, {"memory": [{"shape": cfg, "taken0": 0} for cfg in LOAD_CONFIGS]},
                      stream=words[:-1])
    assert proc.returncode == 2 and "stream underflow" in proc.stderr
