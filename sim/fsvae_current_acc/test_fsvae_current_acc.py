"""cocotb bench of hw/rtl/fsvae_current_acc.sv: weight, bias and accumulator memories.

After the clearing pass the engines make (every word once), a random stream of cycles:
scatter adds (often back to back on the same word, the read-during-write case), update
reads (often right after an add to the same word), clears (also in the cycle of an add or
read of the same word), and idle cycles, with a reset in the middle (followed by a new
clearing pass).  A Python model applies each cycle's clear first, then its add or read, all
modulo 2^ACC_BITS; ``cur`` (sampled mid-cycle) must equal the model's acc + bias (``==``)
from the cycle after each read until the next add or read.  A clear is never asked in the
cycle after an add (the scatter write has priority; the engines never do that).  With
WEIGHT_LOAD = 1 the weights are first written through wl_* in random order.  Swept by
pytest: P, the depths (one accumulator word: every add hits the word being written), widths
with biases wider than ACC_BITS and weights that wrap, and WEIGHT_LOAD.

FUSED = 1 (membrane words): the model's read gives the word itself (no bias); ``cur`` is
checked after adds too (it is the word the add read, held); a clear writes
b + (last ? 0 : (cur >>> 2) * (1 - (cur > THRESHOLD))) with cur and b of the last read or
add (b of the last read), last counted by the model as the RTL counts it (WORDS clears a
step, T steps, step T-1 after reset); the clearing passes are the engine's fill: read word a
(bias word a mod BWORDS) and clear it in the next cycle.  The random clears land on any word,
the reads and adds around them, so the write-back meets the forwarding in every way.
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

from common import pack_words, to_signed, unpack_lanes  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.clock import Clock  # noqa: E402
from cocotb.triggers import FallingEdge, RisingEdge  # noqa: E402

W_BITS = 8
WEIGHT_FILE, BIAS_FILE = "weights.hex", "bias.hex"
KEYS = ("P", "ROWS", "WORDS", "BWORDS", "B_BITS", "ACC_BITS", "WEIGHT_LOAD")
CONFIGS = [(4, 8, 4, 2, 16, 10, 0), (1, 3, 1, 1, 12, 12, 1), (3, 6, 5, 3, 20, 9, 0)]
FUSED_KEYS = ("T", "THRESHOLD")
# FUSED = 1: (the KEYS, T, THRESHOLD); one word (every access forwarded), T = 1 (every step last)
FUSED_CONFIGS = [(3, 6, 5, 3, 20, 9, 0, 3, 5), (1, 3, 1, 1, 12, 12, 1, 2, -3), (2, 4, 3, 2, 10, 8, 0, 1, 0)]
N_CYCLES = 1500


def make_memories(c: dict, seed: int = 1):
    """weights (ROWS, P) in int8 range, biases (BWORDS, P) in the B_BITS range."""
    rng = random.Random(seed)
    lo, hi = -(1 << (c["B_BITS"] - 1)), (1 << (c["B_BITS"] - 1)) - 1
    w = [[rng.randint(-128, 127) for _ in range(c["P"])] for _ in range(c["ROWS"])]
    b = [[rng.randint(lo, hi) for _ in range(c["P"])] for _ in range(c["BWORDS"])]
    return w, b


def write_memory_files(directory: Path, c: dict):
    w, b = make_memories(c)
    (directory / WEIGHT_FILE).write_text("\n".join(pack_words(w, c["P"], W_BITS)) + "\n")
    (directory / BIAS_FILE).write_text("\n".join(pack_words(b, c["P"], c["B_BITS"])) + "\n")


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.c = {k: int(os.environ[f"FSVAE_{k}"]) for k in KEYS}
        self.fused = int(os.environ.get("FSVAE_FUSED", "0"))
        self.T, self.thr = (int(os.environ[f"FSVAE_{k}"]) for k in FUSED_KEYS) if self.fused else (1, 0)
        self.w, self.b = make_memories(self.c)
        self.acc = [[0] * self.c["P"] for _ in range(self.c["WORDS"])]     # the model
        self.expect = None          # cur after the last read (None after an add; FUSED: the held word)
        self.checked = 0
        self.held, self.b_held = None, None     # FUSED: the word of the last read or add, the last read's bias
        self.reset_count()
        for name in ("rst", "add_en", "add_waddr", "add_aaddr", "rd_en", "rd_aaddr", "rd_baddr", "clr_en",
                     "clr_addr", "wl_en", "wl_addr", "wl_data"):
            getattr(dut, name).value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    def wrap(self, v: int) -> int:
        return to_signed(v, self.c["ACC_BITS"])

    def reset_count(self):
        """FUSED: the RTL's count of clears: step T-1 (write b alone) after reset."""
        self.wb_w, self.wb_t = 0, self.T - 1

    def write_back(self) -> list[int]:
        """FUSED: a clear's data, b + (last ? 0 : (u >>> 2) * (1 - s)), and the count advanced."""
        last = self.wb_t == self.T - 1
        data = [self.wrap(b + (0 if last or u > self.thr else u >> 2)) for u, b in zip(self.held, self.b_held)]
        self.wb_w += 1
        if self.wb_w == self.c["WORDS"]:
            self.wb_w, self.wb_t = 0, (self.wb_t + 1) % self.T
        return data

    async def tick(self, add=None, rd=None, clr=None, rst=0):
        """One cycle: add = (weight row, word), rd = (word, bias word), clr = word."""
        dut = self.dut
        dut.rst.value = rst
        dut.add_en.value = add is not None
        dut.add_waddr.value, dut.add_aaddr.value = add or (0, 0)
        dut.rd_en.value = rd is not None
        dut.rd_aaddr.value, dut.rd_baddr.value = rd or (0, 0)
        dut.clr_en.value = clr is not None
        dut.clr_addr.value = clr or 0
        await FallingEdge(dut.clk)
        if self.expect is not None:
            got = unpack_lanes(int(dut.cur.value), self.c["P"], self.c["ACC_BITS"])
            assert got == self.expect, f"cur {got} != model {self.expect} (after add {add} rd {rd} clr {clr})"
            self.checked += 1
        if clr is not None:
            self.acc[clr] = self.write_back() if self.fused else [0] * self.c["P"]
        if add is not None:
            row, a = add
            self.held = list(self.acc[a])
            self.acc[a] = [self.wrap(x + y) for x, y in zip(self.acc[a], self.w[row])]
            self.expect = self.held if self.fused else None
        if rd is not None:
            a, bw = rd
            self.held, self.b_held = list(self.acc[a]), [self.wrap(x) for x in self.b[bw]]
            self.expect = self.held if self.fused else [self.wrap(x + y) for x, y in zip(self.acc[a], self.b[bw])]
        await RisingEdge(dut.clk)

    async def clear_all(self):
        """The engine's pass after reset: clears (FUSED: the fill, reads one cycle ahead)."""
        if not self.fused:
            for a in range(self.c["WORDS"]):
                await self.tick(clr=a)
            return
        n = self.c["WORDS"]
        for a in range(n + 1):      # the words read are not yet filled (RAM contents unknown)
            await self.tick(rd=(a, a % self.c["BWORDS"]) if a < n else None, clr=a - 1 if a else None)
            self.expect = None
        assert self.acc == [[self.wrap(x) for x in self.b[a % self.c["BWORDS"]]] for a in range(n)]

    async def load_weights(self, rng: random.Random):
        dut = self.dut
        for row in rng.sample(range(self.c["ROWS"]), self.c["ROWS"]):
            dut.wl_en.value, dut.wl_addr.value = 1, row
            dut.wl_data.value = int(pack_words(self.w[row], self.c["P"], W_BITS)[0], 16)
            await RisingEdge(dut.clk)
        dut.wl_en.value = 0


@cocotb.test()
async def run_test(dut):
    tb = TB(dut)
    c, rng = tb.c, random.Random(2)
    await tb.tick(rst=1)
    await tb.tick(rst=1)
    if c["WEIGHT_LOAD"]:
        await tb.load_weights(rng)
    await tb.clear_all()
    hot = 0                                     # a word the stream keeps coming back to
    last_add = False
    for n in range(N_CYCLES):
        if n == N_CYCLES // 2:                  # reset with an add in flight, then clear again
            await tb.tick(add=(0, hot))
            await tb.tick(rst=1)
            tb.expect = None
            tb.acc = [[0] * c["P"] for _ in range(c["WORDS"])]
            tb.reset_count()
            await tb.clear_all()
            last_add = False
            continue
        if rng.random() < 0.2:
            hot = rng.randrange(c["WORDS"])
        word = hot if rng.random() < 0.6 else rng.randrange(c["WORDS"])
        r = rng.random()
        add = (rng.randrange(c["ROWS"]), word) if r < 0.5 else None
        rd = (word, rng.randrange(c["BWORDS"])) if 0.5 <= r < 0.8 else None
        clr = None
        if not last_add and rng.random() < 0.12:
            clr = word if rng.random() < 0.5 else rng.randrange(c["WORDS"])
        await tb.tick(add=add, rd=rd, clr=clr)
        last_add = add is not None
    assert tb.checked > N_CYCLES // 4, f"only {tb.checked} cycles checked"


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_current_acc")


@pytest.mark.parametrize(",".join(KEYS), CONFIGS)
def test_fsvae_current_acc(P, ROWS, WORDS, BWORDS, B_BITS, ACC_BITS, WEIGHT_LOAD):
    import runner
    c = dict(zip(KEYS, (P, ROWS, WORDS, BWORDS, B_BITS, ACC_BITS, WEIGHT_LOAD)))
    params = {**c, "W_BITS": W_BITS}
    runner.run_cases("fsvae_current_acc", SOURCES, params, ("random",), lambda d, case: write_memory_files(d, c),
                     strings={"WEIGHT_FILE": WEIGHT_FILE, "BIAS_FILE": BIAS_FILE})


@pytest.mark.parametrize(",".join(KEYS + FUSED_KEYS), FUSED_CONFIGS)
def test_fsvae_current_acc_fused(P, ROWS, WORDS, BWORDS, B_BITS, ACC_BITS, WEIGHT_LOAD, T, THRESHOLD):
    import runner
    c = dict(zip(KEYS, (P, ROWS, WORDS, BWORDS, B_BITS, ACC_BITS, WEIGHT_LOAD)))
    params = {**c, "W_BITS": W_BITS, "FUSED": 1, "T": T, "THRESHOLD": THRESHOLD}
    runner.run_cases("fsvae_current_acc", SOURCES, params, ("random",), lambda d, case: write_memory_files(d, c),
                     strings={"WEIGHT_FILE": WEIGHT_FILE, "BIAS_FILE": BIAS_FILE})
