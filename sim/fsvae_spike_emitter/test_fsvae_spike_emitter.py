"""cocotb bench of hw/rtl/fsvae_spike_emitter.sv: spike words in, spike indices out.

Steps of words (ascending bases, not always adjacent, like fsvae_lif_update's FIFO entries;
densities from empty to full words, steps without any spike, single-word steps; and words
that matter to the chunked search of REG_OUT = 1: one bit in the last chunk, one bit per
chunk, the lowest bit alone, all ones, empty words inside a step and as its last word)
stream back to back.  Per step the output frame must equal the Python model (``==``): the
ascending indices base + p of the set bits, tlast on the last, or the single empty beat
(tuser = 1, tdata = 0).  Without idle and backpressure the handshake cycles must follow the
header's contract: REG_OUT = 0: word i+1 taken max(k_i, 1) cycles after word i (k_i its
spikes), the end beat k + 1 cycles after the step's last word, the next step's first word
k + 2 cycles after it; REG_OUT = 1: the cycles of the header's stages (pipelined_cycles, a
model of their handshakes), and no slower than the single-stage emitter it replaced (k_i + 1
cycles a word): each step ends at most LATENCY cycles later, the last no later.  Input idle
and output backpressure (regular and random) are swept by cocotb; a second test resets in
the middle of a step.  P, REG_OUT and CHUNK (REG_OUT = 1: P > CHUNK gives several chunks)
are swept by pytest.
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

from common import cycle_pause, random_pause, spike_indices  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.clock import Clock  # noqa: E402
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge  # noqa: E402
from cocotbext.axi import AxiStreamBus, AxiStreamSink  # noqa: E402

TIMEOUT_US = 100
KEYS = ("P", "OUT_W", "REG_OUT", "CHUNK")
CONFIGS = [(4, 7, 0, 8), (3, 7, 1, 8), (1, 5, 0, 8),
           (1, 5, 1, 8),            # REG_OUT = 1, one bit a word
           (20, 9, 1, 8),           # three chunks, the last one narrower (8, 8, 4)
           (8, 9, 1, 2)]            # four chunks of two bits (OUT_W = 8 would make tdata bytes)
MAX_WORD = 24                       # bases below MAX_WORD * P < 2^OUT_W
LATENCY = 4                         # REG_OUT = 1: the stages V, U, T and S, in cycles


def special_steps(p: int, chunk: int):
    """Words for the chunked search: a bit in the last chunk only, the lowest bit alone, one
    bit per chunk, all ones, empty words inside a step and as its last word."""
    full = (1 << p) - 1
    per_chunk = sum(1 << i for i in range(0, p, chunk))
    return [[(1 << (p - 1), 0, 1)],
            [(1, p, 0), (1 << (p - 1), 2 * p, 0), (0, 3 * p, 0), (full, 4 * p, 1)],
            [(per_chunk, 0, 0), (per_chunk << (min(chunk, p) - 1) & full, p, 0), (0, 5 * p, 1)],
            [(full, 0, 0), (full, p, 1)],
            [(0, 0, 0), (0, p, 1)]]


def make_steps(p: int, n_steps: int, seed: int = 1, chunk: int = 8):
    """Steps as lists of (mask, base, last) words."""
    rng = random.Random(seed)
    steps = [[(0, 0, 1)], [((1 << p) - 1, p * (MAX_WORD - 1), 1)]]       # empty step; full last word
    steps += special_steps(p, chunk)
    for _ in range(n_steps):
        n_words = rng.randint(1, 6)
        bases = sorted(rng.sample(range(MAX_WORD), n_words))
        density = rng.choice([0.0, 0.2, 0.5, 1.0])
        words = [(sum(1 << i for i in range(p) if rng.random() < density), w * p, 0) for w in bases]
        words[-1] = (words[-1][0], words[-1][1], 1)
        steps.append(words)
    return steps


def model(words) -> list[int]:
    return [base + i for mask, base, _ in words for i in range(len(bin(mask))) if (mask >> i) & 1]


def pipelined_cycles(steps, p: int, chunk: int, first_take: int):
    """REG_OUT = 1, no idle, no backpressure: the cycles in which each word is taken and each
    step's last beat leaves, from the handshakes of the header's stages V, U, W, T, S, hold and
    the output register (bit counts only: a chunk is its number of set bits)."""
    c = min(p, chunk)
    words = []
    for ws in steps:
        for mask, _, last in ws:
            counts = [bin(mask >> (j * c) & ((1 << c) - 1)).count("1") for j in range(-(-p // c))]
            words.append(([k for k in counts if k] or [0], last))       # an empty word: one empty chunk
    takes, ends = [], []
    v = u = w = None                # V, U: a word; W: [chunks left, end]
    t = []                          # T: (bits, the step ends after it), at most two
    n_s, end_q, hold_v, o_v, o_last = 0, False, False, False, False
    nxt, cycle = 0, first_take
    while nxt < len(words) or v or u or w or t or n_s or end_q or hold_v or o_v:
        assert cycle < first_take + 100 * len(words) + 100, "the model does not finish"
        if o_v and o_last:
            ends.append(cycle)
        c_last = n_s == 0
        c_valid = (n_s > 0 or end_q) if hold_v else (c_last and end_q)
        move = n_s > 0 and (not hold_v or c_valid)
        s_take = bool(t) and (not end_q or (c_valid and c_last)) and (n_s == 0 or (n_s == 1 and move))
        t_take = w is not None and len(t) < 2
        w_load = u is not None and (w is None or (len(w[0]) == 1 and len(t) < 2))
        u_load = v is not None and (u is None or w_load)
        v_take = nxt < len(words) and (v is None or u_load)
        o_v, o_last = c_valid, c_last
        hold_v = True if move else (False if c_valid else hold_v)
        if s_take:
            n_s, end_q = t[0][0], t[0][1]
            t = t[1:]
        else:
            n_s -= move
            end_q = end_q and not (c_valid and c_last)
        if t_take:
            t.append((w[0][0], w[1] and len(w[0]) == 1))
            w = [w[0][1:], w[1]] if len(w[0]) > 1 else None
        if w_load:
            w, u = [list(u[0]), u[1]], None
        if u_load:
            u, v = v, None
        if v_take:
            takes.append(cycle)
            v = words[nxt]
            nxt += 1
        cycle += 1
    return takes, ends


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.P, self.OUT_W, self.REG_OUT, self.CHUNK = (int(os.environ[f"FSVAE_{k}"]) for k in KEYS)
        self.idle = None
        self.cycle = 0
        self.takes: list[int] = []          # cycles in which a word was taken
        self.ends: list[int] = []           # cycles in which a step's last beat left
        dut.s_axis_mask_tvalid.value = 0
        dut.s_axis_mask_tdata.value = 0
        dut.s_axis_mask_tlast.value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_spike"), dut.clk, dut.rst, byte_lanes=1)
        cocotb.start_soon(self._monitor())

    def set_idle_generator(self, generator=None):
        self.idle = generator() if generator else None

    def set_backpressure_generator(self, generator=None):
        if generator:
            self.sink.set_pause_generator(generator())

    async def _monitor(self):
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)      # mid-cycle: everything settled
            if int(dut.s_axis_mask_tvalid.value) and int(dut.s_axis_mask_tready.value):
                self.takes.append(self.cycle)
            if int(dut.m_axis_spike_tvalid.value) and int(dut.m_axis_spike_tready.value) \
                    and int(dut.m_axis_spike_tlast.value):
                self.ends.append(self.cycle)
            await RisingEdge(dut.clk)
            self.cycle += 1

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def send(self, steps):
        """Offer the words in order, each held until taken; idle cycles from the generator."""
        dut = self.dut
        for mask, base, last in (w for words in steps for w in words):
            while self.idle is not None and next(self.idle):
                dut.s_axis_mask_tvalid.value = 0
                await RisingEdge(dut.clk)
            dut.s_axis_mask_tdata.value = (base << self.P) | mask      # {base, mask}
            dut.s_axis_mask_tlast.value, dut.s_axis_mask_tvalid.value = last, 1
            while True:
                await FallingEdge(dut.clk)
                taken = int(dut.s_axis_mask_tready.value)
                await RisingEdge(dut.clk)
                if taken:
                    break
        dut.s_axis_mask_tvalid.value = 0

    def check_timing(self, steps, first_take: int):
        """The header's cycle contract, without idle or backpressure."""
        takes, ends, t = [], [], first_take
        for words in steps:
            for mask, _, last in words:
                takes.append(t)
                k = bin(mask).count("1")
                if last:                    # the end beat, then the next step's first word
                    ends.append(t + k + 1 + self.REG_OUT)
                    t += k + 2
                else:
                    t += k + 1 if self.REG_OUT else max(k, 1)
        if self.REG_OUT:
            want = pipelined_cycles(steps, self.P, self.CHUNK, first_take)
            assert (self.takes, self.ends) == want, (
                f"takes {self.takes} ends {self.ends}, contract {want[0]} {want[1]}")
            # against the single-stage emitter this replaced (k + 1 cycles a word, the cycles
            # above): a step ends at most LATENCY cycles later, and the run no later
            late = [(n, got, old) for n, (got, old) in enumerate(zip(self.ends, ends)) if got > old + LATENCY]
            assert not late and self.ends[-1] <= ends[-1], (
                f"slower than the single-stage emitter: steps (number, end, its end) {late}, "
                f"last end {self.ends[-1]} against {ends[-1]}")
        else:
            assert (self.takes, self.ends) == (takes, ends), (
                f"takes {self.takes} ends {self.ends}, contract {takes} {ends}")


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
@cocotb.parametrize(idle_inserter=[None, cycle_pause, random_pause],
                    backpressure_inserter=[None, cycle_pause, random_pause])
async def run_test(dut, idle_inserter, backpressure_inserter):
    tb = TB(dut)
    tb.set_idle_generator(idle_inserter)
    tb.set_backpressure_generator(backpressure_inserter)
    await tb.reset()
    steps = make_steps(tb.P, 40, chunk=tb.CHUNK)
    assert any(not model(s) for s in steps) and any(len(model(s)) > tb.P for s in steps)
    cocotb.start_soon(tb.send(steps))
    for n, words in enumerate(steps):
        got = spike_indices(await tb.sink.recv())
        assert got == model(words), f"step {n}: {got} != model {model(words)} (words {words})"
    await ClockCycles(dut.clk, 4)
    assert tb.sink.empty() and not int(dut.busy.value) and not int(dut.m_axis_spike_tvalid.value)
    if idle_inserter is None and backpressure_inserter is None:
        tb.check_timing(steps, tb.takes[0])


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_reset_mid_step(dut):
    """A reset with a word half emitted and the end pending: the next steps are exact."""
    tb = TB(dut)
    await tb.reset()
    tb.sink.pause = True
    sender = cocotb.start_soon(tb.send([[((1 << tb.P) - 1, 0, 0), ((1 << tb.P) - 1, tb.P, 1)]]))
    await ClockCycles(dut.clk, 3)
    assert int(dut.busy.value)
    sender.cancel()
    dut.s_axis_mask_tvalid.value = 0
    await tb.reset()
    tb.sink.pause = False
    tb.sink.clear()
    assert not int(dut.busy.value) and not int(dut.m_axis_spike_tvalid.value)
    steps = make_steps(tb.P, 8, seed=2, chunk=tb.CHUNK)
    cocotb.start_soon(tb.send(steps))
    for n, words in enumerate(steps):
        got = spike_indices(await tb.sink.recv())
        assert got == model(words), f"after reset, step {n}: {got} != model {model(words)}"


# --- pytest wrapper ----------------------------------------------------------------------------
@pytest.mark.parametrize(",".join(KEYS), CONFIGS)
def test_fsvae_spike_emitter(P, OUT_W, REG_OUT, CHUNK):
    import runner
    runner.run_bench("fsvae_spike_emitter", sources("fsvae_spike_emitter"), dict(zip(KEYS, (P, OUT_W, REG_OUT, CHUNK))))
