"""cocotb bench of hw/rtl/fsvae_weight_loader.sv: the load_weights word stream into N memories.

A random blob (random memory words, random bits in each last stream word's padding above the
memory's width) is built in the blob format of hw/interface.yaml: memory after memory, each
memory word as ceil(width / 32) little-endian 32-bit words.  The bench plays the run
controller: active from the start of a load until the cycle after done (the top's C_LOAD).
Every cycle (sampled mid-cycle) the outputs are recorded and compared with == against a
cycle-accurate Python model of the header's contract: tready = active, word_taken and done in
the cycle of the handshake, one write into memory i the cycle after its word's last stream
word (wl_addr and the low WIDTHS[i] bits of wl_data compared).  Independently, the words
written are collected per memory and must equal the blob's memory words after a load.
Input idle is swept (every cycle, random gaps, DMA-like bursts with long gaps); the loader
has no backpressure of its own (tready is active), so the controller's side is exercised
instead: words offered while not active are not taken, nor are words after the blob's last,
and a reset or a drop of active in the middle of a memory word restarts the next load at
memory 0, word 0.  Memory sets are swept by pytest (one memory of one stream word; several
memories of 1-3 stream words with a width not a multiple of 32; N not a power of two with
8-word memory words).
"""
from __future__ import annotations

import json
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
from cocotb.clock import Clock  # noqa: E402
from cocotb.triggers import FallingEdge, RisingEdge  # noqa: E402

TIMEOUT_US = 200  # a lost done fails the test instead of hanging it
CONFIGS = [                                 # memories as (depth, width in bits)
    [(3, 8)],
    [(5, 64), (2, 33), (4, 96), (1, 32)],
    [(16, 256), (3, 17), (7, 130)],
]


def _bits(n: int) -> int:
    """Index width for n values (codegen/rtl.py _bits)."""
    return max(1, (n - 1).bit_length())


def words_per_entry(width: int) -> int:
    return (width + 31) // 32


def params_of(mems: list[tuple[int, int]]) -> dict:
    """The module's parameters as the generator sets them (codegen/rtl.py _loader)."""
    n = len(mems)
    pack = lambda vals: f"{32 * n}'h" + "".join(f"{v:08x}" for v in reversed(vals))   # noqa: E731
    return {"N": n, "ADDR_W": max(_bits(d) for d, _ in mems), "DATA_W": max(w for _, w in mems),
            "DEPTHS": pack([d for d, _ in mems]), "WIDTHS": pack([w for _, w in mems])}


def make_blob(mems, rng: random.Random) -> tuple[list[list[int]], list[int]]:
    """Random memory contents and their blob: each memory word in ceil(width / 32) stream
    words, low bits first, the padding above the width random (the loader must not care)."""
    contents, blob = [], []
    for depth, width in mems:
        words = [rng.getrandbits(width) for _ in range(depth)]
        contents.append(words)
        k = words_per_entry(width)
        for w in words:
            padded = w | (rng.getrandbits(32 * k - width) << width) if 32 * k > width else w
            blob += [(padded >> (32 * j)) & 0xFFFFFFFF for j in range(k)]
    return contents, blob


class Model:
    """The loader's contract, cycle by cycle: outputs(inputs) for the current cycle, then
    clock(inputs) at the edge."""

    def __init__(self, mems):
        self.mems = mems
        self.m_mod = 1 << _bits(len(mems))               # the memory counter wraps at M_W bits
        self.m = self.a = self.k = 0
        self.buf = [0] * max(words_per_entry(w) for _, w in mems)
        self.wen, self.wmem, self.waddr, self.wdata = 0, None, None, None

    def _last(self):
        if self.m < len(self.mems):
            depth, width = self.mems[self.m]
            return depth - 1, words_per_entry(width) - 1
        return 0, 0                                      # past the last memory (never reached by a word)

    def outputs(self, rst, active, valid, data) -> tuple:
        hs = bool(valid and active)
        last_a, last_k = self._last()
        word_done = hs and self.k == last_k
        done = word_done and self.a == last_a and self.m == len(self.mems) - 1
        write = None
        if self.wen:
            write = (self.wen, self.waddr, self.wdata & ((1 << self.mems[self.wmem][1]) - 1))
        return int(bool(active)), int(hs), int(done), write

    def clock(self, rst, active, valid, data) -> None:
        hs = bool(valid and active)
        last_a, last_k = self._last()
        self.wen = 0
        if rst or not active:
            self.m = self.a = self.k = 0
        elif hs:
            self.buf[self.k] = data
            if self.k == last_k:
                self.wen, self.wmem, self.waddr = 1 << self.m, self.m, self.a
                self.wdata = sum(w << (32 * j) for j, w in enumerate(self.buf))
                self.k = 0
                if self.a == last_a:
                    self.a, self.m = 0, (self.m + 1) % self.m_mod
                else:
                    self.a += 1
            else:
                self.k += 1


def always_valid(rng):
    while True:
        yield True


def random_gaps(rng):
    while True:
        yield rng.random() < 0.5


def bursts(rng):
    """DMA-like transfers: 1-20 words back to back, then 0-30 idle cycles."""
    while True:
        for _ in range(rng.randint(1, 20)):
            yield True
        for _ in range(rng.choice([0, 0, 1, 5, 30])):
            yield False


class TB:
    def __init__(self, dut, seed: int = 1):
        self.dut = dut
        self.mems = [tuple(m) for m in json.loads(os.environ["FSVAE_MEMS"])]
        self.rng = random.Random(seed)
        self.model = Model(self.mems)
        self.written = [dict() for _ in self.mems]     # memory -> {address: word}, from the DUT
        self.cycle = 0
        dut.rst.value = 1
        dut.active.value = 0
        dut.s_axis_tvalid.value = 0
        dut.s_axis_tdata.value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def tick(self, rst=0, active=0, valid=0, data=None) -> tuple:
        """One cycle with these inputs (data random when None); returns the DUT's outputs."""
        dut = self.dut
        data = self.rng.getrandbits(32) if data is None else data
        dut.rst.value, dut.active.value, dut.s_axis_tvalid.value, dut.s_axis_tdata.value = \
            int(rst), int(active), int(valid), data
        await FallingEdge(dut.clk)
        wen = int(dut.wl_en.value)
        write = None
        if wen:
            assert wen & (wen - 1) == 0, f"cycle {self.cycle}: wl_en {wen:b} not one-hot"
            i = wen.bit_length() - 1
            addr, word = int(dut.wl_addr.value), int(dut.wl_data.value) & ((1 << self.mems[i][1]) - 1)
            self.written[i][addr] = word
            write = (wen, addr, word)
        got = (int(dut.s_axis_tready.value), int(dut.word_taken.value), int(dut.done.value), write)
        want = self.model.outputs(rst, active, valid, data)
        assert got == want, f"cycle {self.cycle}: (tready, word_taken, done, write) {got}, model {want}"
        self.model.clock(rst, active, valid, data)
        self.cycle += 1
        await RisingEdge(dut.clk)
        return got

    async def reset(self, cycles: int = 2, active: int = 0):
        for _ in range(cycles):
            await self.tick(rst=1, active=active, valid=self.rng.random() < 0.5)

    async def idle(self, cycles: int, offered: bool = True):
        """Not loading; words offered (tvalid high) must not be taken."""
        for _ in range(cycles):
            _, taken, _, _ = await self.tick(active=0, valid=offered)
            assert not taken

    async def load(self, blob: list[int], valid_gen, stop_after: int | None = None, extra: int = 3,
                   leave: bool = True) -> int:
        """The controller's load: active until the cycle after done (or until stop_after words
        are taken: an abort); `extra` words beyond the blob are offered and must not be taken.
        leave: one more cycle with active low (the controller has left its load state); without
        it, a stopped load is still active.  Returns the words taken."""
        words = blob + [self.rng.getrandbits(32) for _ in range(extra)]
        i, taken, active = 0, 0, 1
        while active:
            valid = next(valid_gen)
            _, hs, done, _ = await self.tick(active=1, valid=valid, data=words[i] if valid else None)
            if hs:
                i += 1
                taken += 1
            if done or (stop_after is not None and taken == stop_after):
                active = 0
            assert i <= len(blob), "a word beyond the blob was taken"
        if leave:
            await self.tick(active=0, valid=1, data=words[i])
        return taken

    def check_contents(self, contents):
        for i, (want, got) in enumerate(zip(contents, self.written)):
            assert [got.get(a) for a in range(len(want))] == want, f"memory {i} differs from the blob"
            assert sorted(got) == list(range(len(want))), f"memory {i}: writes outside its depth: {sorted(got)}"


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
@cocotb.parametrize(valid_gen=[always_valid, random_gaps, bursts])
async def run_loads(dut, valid_gen):
    """Two full loads of different blobs, with idle offers before, between and after."""
    tb = TB(dut)
    gen = valid_gen(tb.rng)
    await tb.reset()
    await tb.idle(5)
    for n in range(2):
        contents, blob = make_blob(tb.mems, tb.rng)
        tb.written = [dict() for _ in tb.mems]
        taken = await tb.load(blob, gen)
        assert taken == len(blob)
        tb.check_contents(contents)
        await tb.idle(tb.rng.randint(1, 6))
        dut._log.info("load %d: %d words, %d memories, %d cycles compared", n, len(blob), len(tb.mems), tb.cycle)


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_restart(dut):
    """A reset, and a drop of active, in the middle of a memory word (or of the blob): the
    next load starts from memory 0, word 0 and fills every memory from the new blob."""
    tb = TB(dut, seed=2)
    await tb.reset()
    for how in ("reset", "drop"):
        _, blob = make_blob(tb.mems, tb.rng)
        # stop inside a memory word where there is one of several words, else mid-blob
        k0 = words_per_entry(tb.mems[0][1])
        stop = k0 + 1 if k0 > 1 else max(1, len(blob) // 2)
        stop = min(stop, len(blob) - 1) if len(blob) > 1 else 0
        if stop:          # "reset": active stays high into the reset, as in the top's C_LOAD
            assert await tb.load(blob, random_gaps(tb.rng), stop_after=stop, leave=how == "drop") == stop
        if how == "reset":
            await tb.reset(active=1)
        contents, blob = make_blob(tb.mems, tb.rng)
        tb.written = [dict() for _ in tb.mems]
        assert await tb.load(blob, bursts(tb.rng)) == len(blob)
        tb.check_contents(contents)


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_weight_loader")


@pytest.mark.parametrize("config", range(len(CONFIGS)))
def test_fsvae_weight_loader(config):
    import runner
    mems = CONFIGS[config]
    params = params_of(mems)
    assert runner.lint(SOURCES, "fsvae_weight_loader", params) == ""
    build_name = f"fsvae_weight_loader_c{config}"
    runner.run("fsvae_weight_loader", SOURCES, "test_fsvae_weight_loader", runner.BUILD / build_name,
               parameters=params, extra_env={"FSVAE_MEMS": json.dumps(mems)}, build_name=build_name)
