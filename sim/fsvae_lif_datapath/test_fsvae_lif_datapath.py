"""cocotb bench of hw/rtl/fsvae_lif_datapath.sv (combinational, P lanes) against golden.LIFState.

Each vector sets first / cur / u_old / s_old and compares u_new and s_new with == against
one golden.LIFState.step from that state (a fresh LIFState for first = 1).  Directed vectors
cover what the update is about: first ignoring a garbage state, the hard reset after a
spike, negative membranes whose floor differs from truncation (-5 >>> 2 = -2), u exactly at
THRESHOLD (no spike) and THRESHOLD + 1 (spike), and the range ends (u_old and cur at their
extremes, MEM_BITS > CUR_BITS so that the golden result always fits).  Then random vectors.
Swept by pytest: P, the widths (one MEM_BITS above 32, where the comparison widens) and a
negative, zero and large threshold.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "sim", ROOT / "sw"):   # the simulator process does not run conftest.py
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from common import pack_words, unpack_lanes  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.triggers import Timer  # noqa: E402

from fsvae_fpga.contract import golden  # noqa: E402

KEYS = ("P", "CUR_BITS", "MEM_BITS", "THRESHOLD")
CONFIGS = [(4, 8, 9, 20), (1, 12, 14, -5), (3, 33, 35, 100000)]
N_RANDOM = 300


def model(first: int, cur, u_old, s_old, threshold: int):
    """golden.LIFState.step from (u_old, s_old), or from nothing when first."""
    state = golden.LIFState(threshold)
    if not first:
        state.u, state.o = np.array(u_old, np.int64), np.array(s_old, np.int64)
    s_new = state.step(np.array(cur, np.int64))
    return [int(v) for v in state.u], [int(v) for v in s_new]


def vectors(c: dict, rng: random.Random):
    """(first, cur, u_old, s_old) per vector, lists of P ints each."""
    p, thr = c["P"], c["THRESHOLD"]
    c_lo, c_hi = -(1 << (c["CUR_BITS"] - 1)), (1 << (c["CUR_BITS"] - 1)) - 1
    u_lo, u_hi = -(1 << (c["MEM_BITS"] - 1)), (1 << (c["MEM_BITS"] - 1)) - 1

    def lanes(f):
        return [f(i) for i in range(p)]
    rand_cur, rand_u = (lambda i: rng.randint(c_lo, c_hi)), (lambda i: rng.randint(u_lo // 2, u_hi // 2))
    out = [
        (1, lanes(rand_cur), lanes(lambda i: rng.randint(u_lo, u_hi)), lanes(lambda i: rng.randint(0, 1))),
        (0, lanes(lambda i: 7), lanes(lambda i: -5), lanes(lambda i: 0)),          # floor: -2, not -1
        (0, lanes(lambda i: 3), lanes(lambda i: -1), lanes(lambda i: 0)),          # -1 >>> 2 = -1
        (0, lanes(rand_cur), lanes(lambda i: u_hi // 2), lanes(lambda i: 1)),      # spiked: reset
        (0, lanes(lambda i: thr + 2), lanes(lambda i: -7 + 8 * i), lanes(lambda i: 0)),
    ]
    for dv in (0, 1):                    # u_new = THRESHOLD + dv from a carried membrane
        for u in (-9, -4, 0, 12):
            out.append((0, lanes(lambda i: thr + dv - (u >> 2)), lanes(lambda i: u), lanes(lambda i: 0)))
    for u in (u_lo, u_hi):               # range ends
        for cur in (c_lo, c_hi):
            out.append((0, lanes(lambda i: cur), lanes(lambda i: u), lanes(lambda i: 0)))
    for _ in range(N_RANDOM):
        out.append((int(rng.random() < 0.1), lanes(rand_cur), lanes(rand_u), lanes(lambda i: rng.randint(0, 1))))
    return [v for v in out if all(c_lo <= x <= c_hi for x in v[1])]


@cocotb.test()
async def run_vectors(dut):
    c = {k: int(os.environ[f"FSVAE_{k}"]) for k in KEYS}
    p, mem = c["P"], c["MEM_BITS"]
    rng = random.Random(1)
    vs = vectors(c, rng)
    assert len(vs) > N_RANDOM
    for n, (first, cur, u_old, s_old) in enumerate(vs):
        dut.first.value = first
        dut.cur.value = int(pack_words(cur, p, c["CUR_BITS"])[0], 16)
        dut.u_old.value = int(pack_words(u_old, p, mem)[0], 16)
        dut.s_old.value = sum(b << i for i, b in enumerate(s_old))
        await Timer(1, unit="ns")
        got_u = unpack_lanes(int(dut.u_new.value), p, mem)
        got_s = [(int(dut.s_new.value) >> i) & 1 for i in range(p)]
        want_u, want_s = model(first, cur, u_old, s_old, c["THRESHOLD"])
        assert all(-(1 << (mem - 1)) <= u < (1 << (mem - 1)) for u in want_u), f"vector {n} leaves MEM_BITS"
        assert (got_u, got_s) == (want_u, want_s), (
            f"vector {n}: first={first} cur={cur} u_old={u_old} s_old={s_old}: "
            f"u {got_u} s {got_s}, golden u {want_u} s {want_s}")


# --- pytest wrapper ----------------------------------------------------------------------------
@pytest.mark.parametrize(",".join(KEYS), CONFIGS)
def test_fsvae_lif_datapath(P, CUR_BITS, MEM_BITS, THRESHOLD):
    import runner
    params = dict(zip(KEYS, (P, CUR_BITS, MEM_BITS, THRESHOLD)))
    runner.run_bench("fsvae_lif_datapath", sources("fsvae_lif_datapath"), params)
