"""cocotb bench of hw/rtl/fsvae_stream_fifo.sv: AXI4-Stream beats through DEPTH entries.

Frames of random length (1 beat up to several FIFO depths) with random tdata over the whole
DATA_W range and a random tuser bit on every beat go in on s_axis_*; on m_axis_* every beat
must come out unchanged and in order, tlast exactly at the frame ends (the frames compared
whole, beat by beat, with ==), under input idle and output backpressure (none, regular,
random).  A second test fills the FIFO against a stalled output: exactly DEPTH beats are
taken, s_axis_tready stays low while it is full, and the beats then drain in order; a reset
with beats inside empties it.  A third sends one long frame with neither idle nor
backpressure: after the first beat one beat leaves every cycle.  DATA_W and DEPTH are swept
by pytest.  The deep FIFO's bench (sim/fsvae_event_fifo) runs these tests too, with the
capacity DEPTH + FSVAE_EXTRA_ENTRIES (its output buffer).
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

from common import StreamTB, cycle_pause, random_pause  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402
from cocotbext.axi import AxiStreamFrame  # noqa: E402

TIMEOUT_US = 400
N_FRAMES = 30
CONFIGS = [(8, 2), (5, 4), (13, 16)]     # (DATA_W, DEPTH)


def make_frames(data_w: int, depth: int, n: int, seed: int = 1) -> list[tuple[list[int], list[int]]]:
    """(tdata, tuser) per frame, one entry per beat."""
    rng = random.Random(seed * 100 + data_w)
    lengths = [1, 1, depth, depth + 1, 3 * depth + 2]
    lengths += [rng.randint(1, 3 * depth + 2) for _ in range(n - len(lengths))]
    rng.shuffle(lengths)
    return [([rng.getrandbits(data_w) for _ in range(k)], [rng.getrandbits(1) for _ in range(k)])
            for k in lengths[:n]]


class TB(StreamTB):
    def __init__(self, dut):
        super().__init__(dut, "s_axis", "m_axis")
        self.DATA_W, self.DEPTH = int(os.environ["FSVAE_DATA_W"]), int(os.environ["FSVAE_DEPTH"])
        self.CAPACITY = self.DEPTH + int(os.environ.get("FSVAE_EXTRA_ENTRIES", "0"))

    async def send(self, frames):
        for tdata, tuser in frames:
            await self.source.send(AxiStreamFrame(tdata=list(tdata), tuser=list(tuser)))

    async def check(self, frames, what: str = ""):
        for n, (tdata, tuser) in enumerate(frames):
            frame = await self.sink.recv(compact=False)
            got = (list(frame.tdata), [int(u) for u in frame.tuser])
            assert got == (tdata, tuser), f"{what}frame {n}: (tdata, tuser) {got} != sent {(tdata, tuser)}"


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
@cocotb.parametrize(idle_inserter=[None, cycle_pause, random_pause],
                    backpressure_inserter=[None, cycle_pause, random_pause])
async def run_test(dut, idle_inserter, backpressure_inserter):
    tb = TB(dut)
    tb.set_idle_generator(idle_inserter)
    tb.set_backpressure_generator(backpressure_inserter)
    await tb.reset()
    frames = make_frames(tb.DATA_W, tb.CAPACITY, N_FRAMES)
    cocotb.start_soon(tb.send(frames))
    await tb.check(frames)
    await ClockCycles(dut.clk, 4)
    assert tb.source.empty() and tb.sink.empty() and not int(dut.m_axis_tvalid.value)
    assert int(dut.s_axis_tready.value)


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_full_and_reset(dut):
    """CAPACITY beats fill it against a stalled output; a reset empties it."""
    tb = TB(dut)
    await tb.reset()
    taken = 0

    async def count():
        nonlocal taken
        while True:
            await RisingEdge(dut.clk)
            taken += int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value)
    cocotb.start_soon(count())
    tb.sink.pause = True
    frames = make_frames(tb.DATA_W, tb.CAPACITY, 4, seed=2)
    cocotb.start_soon(tb.send(frames))
    await ClockCycles(dut.clk, 3 * tb.CAPACITY + 5)
    assert taken == tb.CAPACITY and not int(dut.s_axis_tready.value) and int(dut.m_axis_tvalid.value)
    tb.sink.pause = False
    await tb.check(frames, "after the stall: ")
    tb.sink.pause = True
    await tb.send(frames[:1])
    await ClockCycles(dut.clk, len(frames[0][0]) + 3)
    await tb.reset()                    # the module; the bus models keep what they hold
    tb.source.clear()
    tb.sink.clear()
    assert not int(dut.m_axis_tvalid.value) and int(dut.s_axis_tready.value)
    tb.sink.pause = False
    frames = make_frames(tb.DATA_W, tb.CAPACITY, 6, seed=3)
    cocotb.start_soon(tb.send(frames))
    await tb.check(frames, "after the reset: ")


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_throughput(dut):
    """One frame of 4 x CAPACITY beats, no idle, no backpressure: from the first beat out, one
    beat leaves on every cycle until the last."""
    tb = TB(dut)
    await tb.reset()
    n = 4 * tb.CAPACITY
    frames = make_frames(tb.DATA_W, n, 1, seed=4)
    frames = [(frames[0][0][:1] * 0 + [random.Random(5).getrandbits(tb.DATA_W) for _ in range(n)], [0] * n)]
    out_cycles = []

    async def watch():
        cycle = 0
        while True:
            await RisingEdge(dut.clk)
            cycle += 1
            if int(dut.m_axis_tvalid.value) and int(dut.m_axis_tready.value):
                out_cycles.append(cycle)
    cocotb.start_soon(watch())
    cocotb.start_soon(tb.send(frames))
    await tb.check(frames)
    assert len(out_cycles) == n
    assert out_cycles[-1] - out_cycles[0] == n - 1, \
        f"{n} beats left over {out_cycles[-1] - out_cycles[0] + 1} cycles, not back to back"


# --- pytest wrapper ----------------------------------------------------------------------------
@pytest.mark.parametrize("DATA_W,DEPTH", CONFIGS)
def test_fsvae_stream_fifo(DATA_W, DEPTH):
    import runner
    runner.run_bench("fsvae_stream_fifo", sources("fsvae_stream_fifo"), {"DATA_W": DATA_W, "DEPTH": DEPTH})
