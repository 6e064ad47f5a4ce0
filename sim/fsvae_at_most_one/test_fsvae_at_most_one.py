"""cocotb bench of hw/rtl/fsvae_at_most_one.sv (combinational): y == (popcount(x) <= 1).

Every value for the narrow widths; for the wide ones zero, every one-hot and every two-hot
word (the flag's edge), all ones, and random words of every density.  Swept by pytest: W = 1,
a width that is not a power of two, and the emitter's and event lists' widths.
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

WIDTHS = [1, 5, 8, 32, 64]
N_RANDOM = 400


def words(w: int, rng: random.Random) -> list[int]:
    if w <= 10:
        return list(range(1 << w))
    out = [0, (1 << w) - 1]
    out += [1 << i for i in range(w)]
    out += [(1 << i) | (1 << j) for i in range(w) for j in range(i + 1, w)]
    for _ in range(N_RANDOM):
        density = rng.random()
        out.append(sum(1 << i for i in range(w) if rng.random() < density))
    return out


@cocotb.test()
async def run_words(dut):
    w = int(os.environ["FSVAE_W"])
    ones = zeros = 0
    for x in words(w, random.Random(3)):
        dut.x.value = x
        await Timer(1, unit="ns")
        want = int(bin(x).count("1") <= 1)
        assert int(dut.y.value) == want, f"W={w}: x={x:#x} ({bin(x).count('1')} set): y={int(dut.y.value)}, want {want}"
        ones, zeros = ones + want, zeros + (1 - want)
    assert ones and (zeros or w == 1)        # both answers were exercised


@pytest.mark.parametrize("W", WIDTHS)
def test_fsvae_at_most_one(W):
    import runner
    runner.run_bench("fsvae_at_most_one", sources("fsvae_at_most_one"), {"W": W})
