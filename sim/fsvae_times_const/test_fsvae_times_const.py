"""cocotb bench of hw/rtl/fsvae_times_const.sv (combinational): y == (x * C) mod 2^W.

Every x for the narrow widths, the ends and random values for the wide ones.  Swept by pytest:
C = 0, 1, a power of two, the transposed convs' 9 * G, prior.2's G = 80, and a constant with
many set bits whose product wraps modulo 2^W.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "sim", ROOT / "sw"):   # the simulator process does not run conftest.py
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.triggers import Timer  # noqa: E402

CONFIGS = [(6, 0), (6, 1), (8, 16), (12, 18), (14, 80), (10, 1023), (17, 9 * 8)]


@cocotb.test()
async def run_values(dut):
    w, c = int(os.environ["FSVAE_W"]), int(os.environ["FSVAE_C"])
    rng = random.Random(5)
    xs = list(range(1 << w)) if w <= 10 else [0, 1, (1 << w) - 1] + [rng.randrange(1 << w) for _ in range(500)]
    for x in xs:
        dut.x.value = x
        await Timer(1, unit="ns")
        want = (x * c) % (1 << w)
        assert int(dut.y.value) == want, f"W={w} C={c}: x={x}: y={int(dut.y.value)}, want {want}"


@pytest.mark.parametrize("W,C", CONFIGS)
def test_fsvae_times_const(W, C):
    import runner
    runner.run_bench("fsvae_times_const", sources("fsvae_times_const"), {"W": W, "C": C})
