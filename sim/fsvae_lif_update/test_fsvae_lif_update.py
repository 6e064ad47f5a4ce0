"""cocotb bench of hw/rtl/fsvae_lif_update.sv against golden.LIFState.

Two images of T steps each stream in back to back (the bench queues every step at once, so
the module sees the next step's words while it still emits the last one's spikes).  Per
step the spike indices must equal ``np.flatnonzero(LIFState.step(current))`` (ascending
w*P + p, tlast on the last) or be the single empty beat (tuser = 1, tlast = 1, tdata = 0);
the membrane state is carried inside an image and restarts at its step 0, which the module
finds by counting steps.  Afterwards nothing is left (busy low, sink empty).

Image 0 ("extreme"): neuron 0 gets the most negative current every step, so its membrane
reaches the low end of hwmodel.membrane_range; neuron 1 gets THRESHOLD at step 0 (held, not
a spike) then the most positive current, the high end; the rest are random.  Image 1:
a random step, a quiet step (no spike at all), a step where every neuron spikes, then
random steps.  The module has no membrane port, so spikes must reveal a membrane that is off
by one: a third of the random currents (most of those after a negative carried membrane
whose leak floors differently from truncation) put u at exactly THRESHOLD or THRESHOLD + 1.
The bench asserts that the data has such floor cases, empty and full steps, and that
MEM_BITS (from membrane_range at the ACC_BITS limits) is needed to its last bit.  A second
test resets the module in the middle of a step and then checks a full run.

MASKS = 1 (the masks out, for fsvae_output_sum): per step exactly NW beats {w, mask} with
w = 0 .. NW-1 in order and tlast on the last, whose set bits w*P + p must be the golden
spikes; the spike ports stay idle.

STATELESS = 1 (the input words are membranes, MEM_BITS = ACC_BITS): the same two tests on
other data (make_stateless_case): steps of random membranes of which a third sit at exactly
THRESHOLD or THRESHOLD + 1, an "extreme" step with the ends of the ACC_BITS range,
THRESHOLD - 1, THRESHOLD and THRESHOLD + 1 in every word, a quiet step and an all-spike
step; the golden spikes are u > THRESHOLD.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "sim", ROOT / "sw"):   # the simulator process does not run conftest.py
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from common import StreamTB, cycle_pause, pack_words, random_pause, spike_indices  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402
from cocotbext.axi import AxiStreamFrame  # noqa: E402

from fsvae_fpga.contract import golden  # noqa: E402
from fsvae_fpga.contract.hwmodel import membrane_range, signed_bits  # noqa: E402

TIMEOUT_US = 200  # a lost beat fails the test instead of hanging it
KEYS = ("T", "NW", "P", "ACC_BITS", "THRESHOLD", "MASK_DEPTH", "MASKS")
CONFIGS = [
    # NW = 1: every word is a whole step, read at the edge that writes it (forwarded)
    (5, 1, 4, 10, 60, 8, 0),
    # P = 1, a negative threshold
    (4, 7, 1, 8, -6, 16, 0),
    # the smallest mask FIFO under steps full of spikes: s_axis_cur_tready drops
    (3, 5, 4, 12, 200, 4, 0),
    # two words per step (no forwarding, the addresses alternate), P = 3, THRESHOLD = 0
    (5, 2, 3, 16, 0, 4, 0),
    # wider words: the emitter's search over chunks of 8 (three, the last narrower; four)
    (4, 3, 20, 10, 60, 4, 0),
    (3, 2, 32, 12, 200, 8, 0),
    # the masks out: one word per step (forwarded), and the smallest FIFO under backpressure
    (5, 1, 4, 10, 60, 8, 1),
    (3, 5, 4, 12, 200, 4, 1),
]
# STATELESS = 1 (same KEYS): the smallest FIFO under full steps; the masks, one word, THRESHOLD < 0
STATELESS_CONFIGS = [(3, 5, 4, 12, 200, 4, 0), (4, 1, 4, 10, -6, 8, 1)]
STATELESS = int(os.environ.get("FSVAE_STATELESS", "0"))


def acc_range(acc_bits: int) -> tuple[int, int]:
    return -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1


def mem_bits(c: dict) -> int:
    lo, hi = acc_range(c["ACC_BITS"])
    return signed_bits(*membrane_range(lo, hi, c["THRESHOLD"], c["T"]))


# --- the test data (the pytest wrapper sizes MEM_BITS with mem_bits, the cocotb side checks it) ---
def make_case(c: dict, seed: int = 1):
    """2 images x T steps of (kind, currents (NW*P,)), neuron index w*P + p, made together
    with the golden run because some currents aim at the threshold: a third of the random
    neurons (most of those whose leak floors differently from truncation) get the current
    that puts u at exactly THRESHOLD (no spike) or THRESHOLD + 1 (spike), so that a membrane
    off by one (truncation for floor, a stale word) flips a spike.
    Returns the steps, the golden spike indices per step, every membrane value seen, and the
    count of "floor cases": a carried negative membrane whose leak floors differently from
    truncation, driven to exactly THRESHOLD (truncation would spike)."""
    t_steps, n, thr = c["T"], c["NW"] * c["P"], c["THRESHOLD"]
    assert t_steps >= 3 and n >= 2
    lo, hi = acc_range(c["ACC_BITS"])
    span = 1 << (c["ACC_BITS"] - 2)
    rng = np.random.default_rng([seed, *(abs(c[k]) for k in KEYS if k != "MASKS")])   # same data either way
    kinds = ["extreme"] * t_steps + ["random", "quiet", "all"] + ["random"] * (t_steps - 3)
    steps, spikes, membranes, floor_cases, state = [], [], [], 0, None
    for g, kind in enumerate(kinds):
        if g % t_steps == 0:
            state = golden.LIFState(thr)
        leak = np.zeros(n, np.int64) if state.u is None else (state.u >> 2) * (1 - state.o)
        if kind == "quiet":
            cur = rng.integers(lo, lo // 2 + 1, n)
        elif kind == "all":
            cur = np.full(n, hi)
        else:
            cur = rng.integers(max(lo, thr - 2 * span), min(hi, thr + span) + 1, n)
            differs = np.zeros(n, bool)
            if state.u is not None:
                u = state.u
                differs = (state.o == 0) & (u < 0) & ((u >> 2) != -((-u) // 4))
            edge = thr + np.where(differs, 0, rng.integers(0, 2, n)) - leak
            aim = (rng.random(n) < np.where(differs, 0.7, 1 / 3)) & (edge >= lo) & (edge <= hi)
            if kind == "extreme":                         # neurons 0 and 1: the range ends
                aim[:2] = False
                cur[0] = lo
                cur[1] = thr if g == 0 else hi
            cur = np.where(aim, edge, cur)
            floor_cases += int(np.sum(differs & aim))
        steps.append((kind, cur))
        spikes.append([int(i) for i in np.flatnonzero(state.step(cur.astype(np.int64)))])
        membranes.append(state.u.copy())
    return steps, spikes, np.concatenate(membranes), floor_cases


def make_stateless_case(c: dict, seed: int = 1):
    """STATELESS: 2*T steps of (kind, membranes (NW*P,)) and the golden spikes u > THRESHOLD."""
    n, thr = c["NW"] * c["P"], c["THRESHOLD"]
    lo, hi = acc_range(c["ACC_BITS"])
    rng = np.random.default_rng([seed, *(abs(c[k]) for k in KEYS if k != "MASKS")])
    edges = [lo, hi, thr - 1, thr, thr + 1, lo + 1, hi - 1]   # the range ends, the threshold's neighbours
    n_extreme = -(-len(edges) // n)
    kinds = ["extreme"] * n_extreme + ["random", "quiet", "all"] + ["random"] * max(0, 2 * c["T"] - 3 - n_extreme)
    steps, spikes = [], []
    for g, kind in enumerate(kinds):
        if kind == "quiet":
            u = rng.integers(lo, thr + 1, n)
        elif kind == "all":
            u = rng.integers(thr + 1, hi + 1, n)
        elif kind == "extreme":                     # every edge value, the rest of the word too
            u = np.array([edges[(g * n + i) % len(edges)] for i in range(n)])
        else:
            u = rng.integers(lo, hi + 1, n)
            u = np.where(rng.random(n) < 1 / 3, thr + rng.integers(0, 2, n), u)
        steps.append((kind, u))
        spikes.append([int(i) for i in np.flatnonzero(u > thr)])
    return steps, spikes


# --- cocotb side ---------------------------------------------------------------------------
def heavy_pause():
    return random_pause(0.7, 7)


class TB(StreamTB):
    def __init__(self, dut):
        self.cfg = {k: int(os.environ[f"FSVAE_{k}"]) for k in KEYS}
        self.out = "m_axis_mask" if self.cfg["MASKS"] else "m_axis_spike"
        super().__init__(dut, "s_axis_cur", self.out)
        self.MEM_BITS = int(os.environ["FSVAE_MEM_BITS"])
        self.accepted = 0                   # input words taken
        self.stalled = 0                    # cycles with s_axis_cur_tvalid and not s_axis_cur_tready
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        while True:
            await RisingEdge(self.dut.clk)
            if int(self.dut.s_axis_cur_tvalid.value):
                if int(self.dut.s_axis_cur_tready.value):
                    self.accepted += 1
                else:
                    self.stalled += 1

    async def send(self, steps):
        for _, cur in steps:
            words = [int(h, 16) for h in pack_words(cur, self.cfg["P"], self.cfg["ACC_BITS"])]
            await self.source.send(AxiStreamFrame(tdata=words))

    async def recv_step(self) -> list[int]:
        frame = await self.sink.recv()
        if not self.cfg["MASKS"]:
            return spike_indices(frame)
        nw, p = self.cfg["NW"], self.cfg["P"]
        words = list(frame.tdata)
        assert [w >> p for w in words] == list(range(nw)), f"mask words {[w >> p for w in words]}, not 0..{nw - 1}"
        return [w * p + i for w, word in enumerate(words) for i in range(p) if word >> i & 1]

    async def run_and_check(self, steps, expected):
        await self.send(steps)                      # every step queued: steps overlap inside
        for g, (kind, cur) in enumerate(steps):
            got = await self.recv_step()
            assert got == expected[g], (f"image {g // self.cfg['T']} step {g % self.cfg['T']} ({kind}): "
                                        f"spikes {got} != golden {expected[g]} (currents {list(cur)})")

    async def check_drained(self):
        await ClockCycles(self.dut.clk, 4)
        assert self.source.empty() and self.sink.empty(), "beats left over"
        assert not int(self.dut.m_axis_spike_tvalid.value) and not int(self.dut.m_axis_mask_tvalid.value)
        assert not int(self.dut.busy.value), "busy after the last spike"


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
@cocotb.parametrize(idle_inserter=[None, cycle_pause], backpressure_inserter=[None, cycle_pause, heavy_pause])
async def run_test(dut, idle_inserter, backpressure_inserter):
    tb = TB(dut)
    tb.set_idle_generator(idle_inserter)
    tb.set_backpressure_generator(backpressure_inserter)
    await tb.reset()
    n = tb.cfg["NW"] * tb.cfg["P"]
    if STATELESS:
        steps, expected = make_stateless_case(tb.cfg)
        every = np.concatenate([u for _, u in steps])
        thr, (lo, hi) = tb.cfg["THRESHOLD"], acc_range(tb.cfg["ACC_BITS"])
        assert {lo, hi, thr, thr + 1} <= set(int(v) for v in every), "the edge values are missing"
    else:
        steps, expected, membranes, floor_cases = make_case(tb.cfg)
        # The data must exercise what the widths, the leak and the emitter are about.
        assert floor_cases > 0, "no carried negative membrane where floor != truncation decides a spike"
        assert signed_bits(int(membranes.min()), int(membranes.max())) == tb.MEM_BITS > tb.cfg["ACC_BITS"]
    assert any(not s for s in expected), "no step without spikes"
    assert any(len(s) == n for s in expected), "no step where every neuron spikes"

    await tb.run_and_check(steps, expected)
    await tb.check_drained()
    assert tb.accepted == len(steps) * tb.cfg["NW"]
    if tb.cfg["MASK_DEPTH"] == 4 and idle_inserter is None and (backpressure_inserter or not tb.cfg["MASKS"]):
        assert tb.stalled > 0, "the mask FIFO never filled"    # words faster than spikes (or the sink)


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_reset_mid_step(dut):
    """A reset with words half taken and spikes pending restarts at step 0 of an image."""
    tb = TB(dut)
    await tb.reset()
    steps, expected = make_stateless_case(tb.cfg) if STATELESS else make_case(tb.cfg)[:2]
    nw = tb.cfg["NW"]
    full = [s for s in steps if s[0] == "all"]
    tb.sink.pause = True                            # spikes pile up: the FIFO holds masks
    await tb.send(full * 3)
    while tb.accepted < nw + nw // 2 + 1 and tb.stalled < 4:
        await RisingEdge(dut.clk)
    assert int(dut.busy.value)
    tb.sink.pause = False
    await tb.reset()                                # the module; the bus models keep their queues
    tb.source.clear()
    tb.sink.clear()
    assert not int(dut.busy.value) and not int(getattr(dut, f"{tb.out}_tvalid").value)
    tb.accepted = 0
    await tb.run_and_check(steps, expected)
    await tb.check_drained()


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_lif_update")


@pytest.mark.parametrize(",".join(KEYS), CONFIGS)
def test_fsvae_lif_update(T, NW, P, ACC_BITS, THRESHOLD, MASK_DEPTH, MASKS):
    import runner
    c = dict(zip(KEYS, (T, NW, P, ACC_BITS, THRESHOLD, MASK_DEPTH, MASKS)))
    runner.run_bench("fsvae_lif_update", SOURCES, {**c, "MEM_BITS": mem_bits(c)})


@pytest.mark.parametrize(",".join(KEYS), STATELESS_CONFIGS)
def test_fsvae_lif_update_stateless(T, NW, P, ACC_BITS, THRESHOLD, MASK_DEPTH, MASKS):
    import runner
    c = dict(zip(KEYS, (T, NW, P, ACC_BITS, THRESHOLD, MASK_DEPTH, MASKS)))
    runner.run_bench("fsvae_lif_update", SOURCES, {**c, "MEM_BITS": ACC_BITS, "STATELESS": 1})
