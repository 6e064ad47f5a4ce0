"""Helpers shared by the cocotb benches (sim/<module>/test_<module>.py).

The $readmemh word format is the generator's (fsvae_fpga.codegen.rtl.pack_words), so the
benches and the generated designs cannot drift apart.  The TB classes hold the scaffolding
every stream bench repeats (clock, stream models, idle and backpressure, reset); the engine
benches add their data and checks on top.
"""
from __future__ import annotations

import itertools
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from fsvae_fpga.codegen.rtl import pack_words  # noqa: F401  (re-exported for the benches)


def cycle_pause():
    """A pause generator for cocotbext-axi: three cycles paused, one free, repeating."""
    return itertools.cycle([1, 1, 1, 0])


def random_pause(p_pause: float = 0.7, seed: int = 7):
    """A pause generator: paused with probability p_pause, reproducibly."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < p_pause


def to_signed(v: int, bits: int) -> int:
    """The two's-complement value of the low `bits` bits of v."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def unpack_lanes(word: int, lanes: int, bits: int) -> list[int]:
    """A memory or stream word -> its signed lanes, lane 0 in the low bits."""
    return [to_signed(word >> (p * bits), bits) for p in range(lanes)]


def convt_weights(rng, kind: str, cin: int, cout: int, k: int, b_bits: int):
    """A transposed convolution's test weights (CIN, COUT, K, K) and biases (COUT,), int64:
    "random" (int8 weights, small biases) or "extreme" (output channels of all +127 or all
    -127 weights, biases at the edge of B_BITS, so the currents need every accumulator bit)."""
    if kind == "random":
        return rng.integers(-128, 128, (cin, cout, k, k)).astype(np.int64), rng.integers(-300, 301, cout).astype(np.int64)
    edge = 1 << (b_bits - 1)
    bx = edge - 1 - 127 * cin * k * k            # |bias| + 127 CIN K K = 2^(B_BITS-1) - 1
    w, b = np.empty((cin, cout, k, k), np.int64), np.empty(cout, np.int64)
    patterns = [(127, -edge), (-127, edge - 1), (127, bx), (-127, -bx), (127, -127 * cin * k * k // 2)]
    for o in range(cout):
        sign, bias = patterns[o % len(patterns)]
        w[:, o], b[o] = sign, bias
    return w, b


def event_frame(events) -> AxiStreamFrame:
    """One step's events as the engines take them: the indices, or the single empty beat."""
    if len(events):
        return AxiStreamFrame(tdata=[int(e) for e in events], tuser=0)
    return AxiStreamFrame(tdata=[0], tuser=1)


def spike_indices(frame) -> list[int]:
    """One step's spike frame -> its indices ([] for the empty beat, which must come alone)."""
    tuser = frame.tuser if isinstance(frame.tuser, list) else [frame.tuser or 0] * len(frame.tdata)
    if any(tuser):
        assert tuser == [1] and frame.tdata == [0], f"empty marker must be alone: {frame}"
        return []
    return list(frame.tdata)


class StreamTB:
    """A module with clk, rst, one AXI-stream input and one output (cocotbext-axi models):
    the clock, the idle (input) and backpressure (output) generators, reset."""

    def __init__(self, dut, source: str, sink: str, sink_bytes: int = 1):
        self.dut = dut
        self.done_count = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, source), dut.clk, dut.rst, byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, sink), dut.clk, dut.rst, byte_lanes=sink_bytes)

    def count_done(self):
        """Count the module's `done` pulses in ``done_count`` from now on."""
        async def count():
            while True:
                await RisingEdge(self.dut.clk)
                if int(self.dut.done.value):
                    self.done_count += 1
        cocotb.start_soon(count())

    def set_idle_generator(self, generator=None):
        if generator:
            self.source.set_pause_generator(generator())

    def set_backpressure_generator(self, generator=None):
        if generator:
            self.sink.set_pause_generator(generator())

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)


class EngineTB(StreamTB):
    """An event-driven layer engine: start / busy / done / cycles, events in on s_axis_event,
    its output on `sink`.  Counts done pulses; `step` runs one time step."""

    def __init__(self, dut, sink: str, source: str = "s_axis_event"):
        super().__init__(dut, source, sink)
        dut.start.value = 0
        self.count_done()

    def frame(self, events) -> AxiStreamFrame:
        """One step's input frame (an engine that takes another input format overrides it)."""
        return event_frame(events)

    async def reset(self):
        """Reset, then wait for the accumulator clearing to end."""
        await super().reset()
        await self.wait_idle()

    async def wait_idle(self):
        await RisingEdge(self.dut.clk)
        while int(self.dut.busy.value):
            await RisingEdge(self.dut.clk)

    async def start(self, events, **inputs):
        """Queue the events (before start: the producer may run ahead), set the other inputs
        (e.g. first_step) and pulse start."""
        await self.source.send(self.frame(events))
        for name, value in inputs.items():
            getattr(self.dut, name).value = int(value)
        self.dut.start.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.start.value = 0

    async def step(self, events, **inputs):
        """One time step: start, collect the output frame, wait until busy drops."""
        await self.start(events, **inputs)
        frame = await self.sink.recv()
        await self.wait_idle()
        return frame
