"""cocotb bench of hw/rtl/fsvae_event_list.sv: spike bitmap words in, ascending event indices out.

Expected output of a list = ``np.flatnonzero(bitmap)`` with tlast on its final event, or a
single empty beat (tuser = 1, also tlast) when no bit is set; ``done`` pulses once per list with
the event count.  Bitmaps at densities 0, 5 %, 50 % and 100 % stream back to back in random
order, with random idle on the input and random backpressure on the output; bits at or above
N in the last word are garbage that must be ignored; nothing may be left over at the end.
"""
from __future__ import annotations

import collections
import itertools
import os
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "sim", ROOT / "sw"):   # the simulator process does not run conftest.py
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.clock import Clock  # noqa: E402
from cocotb.simtime import get_sim_time  # noqa: E402
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge  # noqa: E402

DENSITIES = (0.0, 0.05, 0.5, 1.0)
CLK_NS = 10
LAST_WORD_LATENCY = 3   # last word accepted in cycle 0 -> its only event valid in cycle 3


def random_pause(p_pause: float, seed: int):
    rng = random.Random(seed)
    while True:
        yield rng.random() < p_pause


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.N = int(os.environ["FSVAE_N"])
        self.W = int(os.environ["FSVAE_W"])
        self.NW = -(-self.N // self.W)
        self.words: collections.deque[int] = collections.deque()
        self.beats: list[tuple[int, int, int]] = []     # (tdata, tlast, tuser)
        self.beat_cycles: list[int] = []
        self.dones: list[int] = []
        self.in_cycles: list[int] = []          # edges at which a word was accepted
        self.idle_gen = None
        self.pause_gen = None
        self.rng = random.Random(0)
        dut.rst.value = 0
        dut.s_axis_tvalid.value = 0
        dut.s_axis_tdata.value = 0
        dut.m_axis_tready.value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        cocotb.start_soon(self._source())
        cocotb.start_soon(self._sink())

    @staticmethod
    def now() -> int:
        return int(get_sim_time("ns")) // CLK_NS

    def set_idle_generator(self, generator=None) -> None:
        self.idle_gen = generator

    def set_backpressure_generator(self, generator=None) -> None:
        self.pause_gen = generator

    async def _source(self) -> None:
        dut = self.dut
        while True:
            idle = next(self.idle_gen) if self.idle_gen is not None else False
            await RisingEdge(dut.clk)
            if int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value) and self.words:
                self.words.popleft()
                self.in_cycles.append(self.now())
            if self.words and not idle:
                dut.s_axis_tdata.value = self.words[0]
                dut.s_axis_tvalid.value = 1
            else:
                dut.s_axis_tvalid.value = 0

    async def _sink(self) -> None:
        dut = self.dut
        while True:
            pause = next(self.pause_gen) if self.pause_gen is not None else False
            await RisingEdge(dut.clk)
            if int(dut.m_axis_tvalid.value) and int(dut.m_axis_tready.value):
                self.beats.append((int(dut.m_axis_tdata.value), int(dut.m_axis_tlast.value),
                                   int(dut.m_axis_tuser.value)))
                self.beat_cycles.append(self.now())
            if int(dut.done.value):
                self.dones.append(int(dut.done_count.value))
            dut.m_axis_tready.value = 0 if pause else 1

    async def reset(self) -> None:
        dut = self.dut
        self.words.clear()
        await RisingEdge(dut.clk)
        dut.rst.value = 1
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await ReadOnly()
        assert int(dut.m_axis_tvalid.value) == 0, "m_axis_tvalid must be low after reset"
        assert int(dut.done.value) == 0
        await RisingEdge(dut.clk)
        self.beats.clear()
        self.beat_cycles.clear()
        self.dones.clear()

    def bitmap(self, density: float) -> np.ndarray:
        return (np.array([self.rng.random() for _ in range(self.N)]) < density).astype(np.uint8)

    def send(self, bitmap: np.ndarray) -> None:
        """Queue one list as NW words; bits >= N of the last word are random garbage."""
        assert bitmap.shape == (self.N,)
        padded = np.zeros(self.NW * self.W, dtype=np.uint8)
        padded[:self.N] = bitmap
        for w in range(self.NW):
            word = sum(int(b) << i for i, b in enumerate(padded[w * self.W:(w + 1) * self.W]))
            if w == self.NW - 1:
                used = self.N - w * self.W
                word |= (self.rng.getrandbits(self.W) >> used) << used
            self.words.append(word)

    @staticmethod
    def expected(bitmaps) -> tuple[list[tuple[int, int, int]], list[int]]:
        beats, dones = [], []
        for bm in bitmaps:
            ev = np.flatnonzero(bm)
            if ev.size == 0:
                beats.append((0, 1, 1))
            else:
                beats += [(int(i), 0, 0) for i in ev[:-1]] + [(int(ev[-1]), 1, 0)]
            dones.append(int(ev.size))
        return beats, dones

    async def run_lists(self, bitmaps) -> None:
        """Stream the lists back to back; compare every beat and done; nothing left over."""
        want_beats, want_dones = self.expected(bitmaps)
        first_beat, first_done = len(self.beats), len(self.dones)
        for bm in bitmaps:
            self.send(bm)
        budget = 40 * (len(want_beats) + len(bitmaps) * self.NW) + 100
        while (len(self.beats) - first_beat < len(want_beats)
               or len(self.dones) - first_done < len(want_dones)):
            await RisingEdge(self.dut.clk)
            budget -= 1
            assert budget > 0, (f"stalled: {len(self.beats) - first_beat}/{len(want_beats)} beats, "
                                f"{len(self.dones) - first_done}/{len(want_dones)} lists")
        await ClockCycles(self.dut.clk, 8)      # anything extra would show up here
        got_beats = self.beats[first_beat:]
        got_dones = self.dones[first_done:]
        assert len(got_beats) == len(want_beats), "extra events after the last list"
        assert got_beats == want_beats, f"events:\n{got_beats}\n!=\n{want_beats}"
        assert got_dones == want_dones, f"done counts {got_dones} != {want_dones}"
        assert not self.words, "input words left unconsumed"
        await ReadOnly()
        assert int(self.dut.m_axis_tvalid.value) == 0, "m_axis_tvalid still high at the end"
        assert int(self.dut.s_axis_tready.value) == 1, "s_axis_tready low when idle"
        await RisingEdge(self.dut.clk)


def mixed_bitmaps(tb: TB, per_density: int) -> list[np.ndarray]:
    bms = [tb.bitmap(d) for d in DENSITIES for _ in range(per_density)]
    tb.rng.shuffle(bms)
    # an empty list straight after a full one (the list that ends in its last word)
    return bms + [tb.bitmap(1.0), tb.bitmap(0.0), tb.bitmap(0.0), tb.bitmap(1.0)]


@cocotb.test()
async def densities(dut):
    """Densities 0 / 5 / 50 / 100 %, back to back, under every idle/backpressure mix."""
    tb = TB(dut)
    await tb.reset()
    for n, (idle, bp) in enumerate(itertools.product((False, True), repeat=2)):
        tb.set_idle_generator(random_pause(0.4, 10 + n) if idle else None)
        tb.set_backpressure_generator(random_pause(0.4, 20 + n) if bp else None)
        await tb.run_lists(mixed_bitmaps(tb, 3))


@cocotb.test()
async def heavy_stalls(dut):
    """Mostly-stalled output and sparse input: the FIFO fills and drains repeatedly."""
    tb = TB(dut)
    await tb.reset()
    tb.set_idle_generator(random_pause(0.7, 31))
    tb.set_backpressure_generator(random_pause(0.8, 32))
    await tb.run_lists(mixed_bitmaps(tb, 2))


@cocotb.test()
async def throughput(dut):
    """All-ones lists back to back without stalls: one event per cycle, no bubbles."""
    tb = TB(dut)
    await tb.reset()
    bms = [tb.bitmap(1.0) for _ in range(4)]
    await tb.run_lists(bms)
    c = tb.beat_cycles
    assert c == list(range(c[0], c[0] + len(c))), f"bubbles in a dense stream: {c}"
    # latency: a list whose only event is bit N-1 (in the last word)
    bm = np.zeros(tb.N, dtype=np.uint8)
    bm[-1] = 1
    await tb.run_lists([bm])
    assert tb.beat_cycles[-1] - tb.in_cycles[-1] == LAST_WORD_LATENCY, \
        f"latency {tb.beat_cycles[-1] - tb.in_cycles[-1]}"


@cocotb.test()
async def reset_mid_list(dut):
    """Reset with words queued and events stalled in the module, then fresh lists."""
    tb = TB(dut)
    await tb.reset()
    tb.set_backpressure_generator(itertools.repeat(True))
    for _ in range(3):
        tb.send(tb.bitmap(0.5))
    await ClockCycles(dut.clk, 2 * tb.NW + 6)
    await tb.reset()
    tb.set_backpressure_generator(random_pause(0.3, 41))
    tb.set_idle_generator(random_pause(0.3, 42))
    await tb.run_lists(mixed_bitmaps(tb, 1))


# ----------------------------------------------------------------------------- pytest

SOURCES = sources("fsvae_event_list")


@pytest.mark.parametrize(("N", "W"), [(1, 32), (7, 4), (64, 8)])
def test_fsvae_event_list(N, W):
    import runner
    parameters = {"N": N, "W": W}
    assert runner.lint(SOURCES, "fsvae_event_list", parameters) == ""
    runner.run("fsvae_event_list", SOURCES, "test_fsvae_event_list", Path(__file__).parent,
               parameters=parameters, extra_env={"FSVAE_N": str(N), "FSVAE_W": str(W)})
