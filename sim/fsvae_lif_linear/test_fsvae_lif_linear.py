"""cocotb bench of hw/rtl/fsvae_lif_linear.sv against golden.linear + golden.LIFState.

Each simulation loads one weight set through $readmemh (the hex files are written here, by
the pytest wrapper, in the format documented in the RTL header) and runs several time
steps that carry membrane state, with a restart (first_step) in the middle.  Per step the
spike indices must equal the golden spikes (``==``), the membranes read back through the
debug port must equal golden ``LIFState.u``, done must pulse once, and, without stalls,
``cycles`` must equal the formula in the RTL header.

Weight sets: "random" (random int8 weights, small biases: membranes go negative, where the
leak's floor differs from truncation) and "extreme" (output columns of all +127 or all -127
weights with biases at the edge of B_BITS, so the currents reach +-(2^(B_BITS-1) - 1)).
ACC_BITS / MEM_BITS come from hwmodel.current_range / membrane_range over both sets, and
the bench checks that the extreme set really needs every one of those bits.

Weight stream (WEIGHT_STREAM = 1, every config, both weight sets, no weight file written):
a cocotb source plays fsvae_weight_stream: from each step's events it computes the weight
rows (G words per event, the WEIGHT_FILE words) and sends them in event order.  A monitor
counts the handshakes (exactly E * G per step) and the starved cycles (tready && !tvalid).
run_test drives the stream without pauses: never starved, ``cycles`` equal to the formula.
run_stream_stalls pauses it at random: alone ("stall": cycles = formula + starved cycles,
and both back-to-back issues and issues after a stall occur, which with G = 1 is the
accumulator forwarding's case), and with random event idle and spike backpressure ("all").
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

from common import EngineTB, cycle_pause, pack_words, random_pause, spike_indices, unpack_lanes  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSource  # noqa: E402

from fsvae_fpga.contract import golden  # noqa: E402
from fsvae_fpga.contract.hwmodel import current_range, membrane_range, signed_bits  # noqa: E402

W_BITS = 8
# Densities of the steps (0 %, 10 %, 50 %, 100 %); restart (first_step) at steps 0 and 5.
DENSITIES = [0.5, 1.0, 1.0, 0.0, 0.1, 1.0, 0.5, 1.0, 1.0, 0.0, 0.1]
FIRST_STEPS = {0, 5}
_STARTS = sorted(FIRST_STEPS)
T_MAX = max(e - s for s, e in zip(_STARTS, _STARTS[1:] + [len(DENSITIES)]))   # steps per restart
WEIGHT_FILE, BIAS_FILE = "weights.hex", "bias.hex"

# (IN, OUT, P) -> bias width and threshold (a negative threshold in one build); each is
# built with weights from memory (WEIGHT_STREAM = 0) and from the stream (1): G = 8, 3, 1
CONFIGS = {
    (5, 8, 1): {"B_BITS": 12, "THRESHOLD": -20},
    (16, 12, 4): {"B_BITS": 20, "THRESHOLD": 100},
    (33, 16, 16): {"B_BITS": 32, "THRESHOLD": 150},
}
CASES = ("random", "extreme")


# --- the test data (one definition, used by the pytest wrapper and by the cocotb side) ---
def make_case(n_in: int, n_out: int, b_bits: int, kind: str, seed: int = 1):
    """weight (OUT, IN) int64 in int8 range, bias (OUT,) int64 in the B_BITS range, steps."""
    rng = np.random.default_rng([seed, n_in, n_out, CASES.index(kind)])
    if kind == "random":
        w = rng.integers(-128, 128, (n_out, n_in))
        b = rng.integers(-300, 301, n_out)
    else:
        bx = (1 << (b_bits - 1)) - 1 - 127 * n_in      # |bias| + 127 IN = 2^(B_BITS-1) - 1
        w, b = np.empty((n_out, n_in), np.int64), np.empty(n_out, np.int64)
        patterns = [(127, bx), (-127, -bx), (127, -bx), (-127, bx), (127, -127 * n_in // 2)]
        for o in range(n_out):
            sign, bias = patterns[o % len(patterns)]
            w[o], b[o] = sign, bias
    steps = []
    for t, d in enumerate(DENSITIES):
        n = int(round(d * n_in))
        events = rng.choice(n_in, n, replace=False)
        if t % 2:
            events = np.sort(events)      # as a chained layer sends them; else any order
        steps.append(([int(e) for e in events], t in FIRST_STEPS))
    return w.astype(np.int64), b.astype(np.int64), steps


def golden_run(w, b, steps, threshold):
    """Per step: (spike indices, membranes, currents); plus the floor-vs-truncation count."""
    out, state, floor_cases = [], None, 0
    for events, first in steps:
        x = np.zeros((1, w.shape[1]), np.int64)
        x[0, events] = 1
        current = golden.linear(x, w, b)[0]
        if first:
            state = golden.LIFState(threshold)
        elif state.u is not None:
            carried = (state.o == 0) & (state.u < 0)
            floor_cases += int(np.sum(carried & ((state.u >> 2) != -((-state.u) // 4))))
        spikes = state.step(current)
        out.append(([int(i) for i in np.flatnonzero(spikes)], state.u.copy(), current))
    return out, floor_cases


def widths(n_in, n_out, b_bits, threshold):
    """ACC_BITS, MEM_BITS exactly sufficient for every case of this build."""
    lo, hi = 0, 0
    for kind in CASES:
        w, b, _ = make_case(n_in, n_out, b_bits, kind)
        clo, chi = current_range("linear", w, b, 0, 1)
        lo, hi = min(lo, clo), max(hi, chi)
    return signed_bits(lo, hi), signed_bits(*membrane_range(lo, hi, threshold, T_MAX))


def write_memory_files(directory: Path, w, b, p, b_bits, weight_file: bool = True):
    """WEIGHT_FILE: line i*G + g = W[g*P + p][i]; BIAS_FILE: line g = b[g*P + p].
    weight_file=False (weight stream): no weight file (an old one is removed), so a weight
    memory left in the build would fail its file check."""
    if weight_file:
        (directory / WEIGHT_FILE).write_text("\n".join(pack_words(w.T, p, W_BITS)) + "\n")
    else:
        (directory / WEIGHT_FILE).unlink(missing_ok=True)
    (directory / BIAS_FILE).write_text("\n".join(pack_words(b, p, b_bits)) + "\n")


def weight_rows(w, p):
    """The weight stream's words per input i: G ints, word g = W[g*P + p][i] (WEIGHT_FILE
    line i*G + g)."""
    return [[int(h, 16) for h in pack_words(w[:, i], p, W_BITS)] for i in range(w.shape[1])]


def scatters(n_events, pairs):
    """Scatters of a step (the RTL header): one per event, or per pair of events with PAIRS =
    1, which costs one cycle more for its holding register when the step has events."""
    if not pairs or n_events == 0:
        return n_events, 0
    return (n_events + 1) // 2, 1


def expected_cycles(n_events, spikes, n_out, p, pairs=0):
    g_count = n_out // p
    k = np.bincount(np.asarray(spikes, dtype=np.int64) // p, minlength=g_count)
    n, extra = scatters(n_events, pairs)
    return 4 + extra + (n + 1) * g_count + int(np.maximum(k[:-1] - 1, 0).sum()) + int(k[-1])


# --- cocotb side ---------------------------------------------------------------------------
def mask_spikes(words, n_out, p) -> list[int]:
    """MASKS = 1: a step's frame of {g, mask} words (every group, ascending) -> its spikes."""
    assert [w >> p for w in words] == list(range(n_out // p)), f"mask words {words}: not every group in order"
    return [(w >> p) * p + i for w in words for i in range(p) if (w >> i) & 1]


def expected_mask_cycles(n_events, n_out, p, pairs=0):
    """MASKS = 1 (the RTL header): no emitter; stage C's register is the output beat, so the
    last group leaves one cycle after its update, one cycle sooner than the emitter's path."""
    n, extra = scatters(n_events, pairs)
    return 3 + extra + (n + 1) * (n_out // p)


class TB(EngineTB):
    def __init__(self, dut):
        self.masks = int(os.environ.get("FSVAE_MASKS", "0"))
        super().__init__(dut, "m_axis_mask" if self.masks else "m_axis_spike")
        env = os.environ
        self.IN, self.OUT, self.P = int(env["FSVAE_IN"]), int(env["FSVAE_OUT"]), int(env["FSVAE_P"])
        self.G = self.OUT // self.P
        self.B_BITS, self.THRESHOLD = int(env["FSVAE_B_BITS"]), int(env["FSVAE_THRESHOLD"])
        self.ACC_BITS, self.MEM_BITS = int(env["FSVAE_ACC_BITS"]), int(env["FSVAE_MEM_BITS"])
        self.case = env["FSVAE_CASE"]
        self.stream = int(env.get("FSVAE_WEIGHT_STREAM", "0"))
        self.pairs = int(env.get("FSVAE_PAIRS", "0"))
        dut.first_step.value = 0
        dut.dbg_group.value = 0
        # weight stream monitor: handshakes, starved cycles, and how issues follow each other
        self.w_hs = self.w_starved = self.w_back_to_back = self.w_after_stall = 0
        if self.stream:
            self.rows = weight_rows(make_case(self.IN, self.OUT, self.B_BITS, self.case)[0], self.P)
            self.wsource = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_weight"), dut.clk, dut.rst,
                                           byte_lanes=1)
            cocotb.start_soon(self.count_weights())
        else:
            dut.s_axis_weight_tdata.value = 0
            dut.s_axis_weight_tvalid.value = 0

    async def count_weights(self):
        prev = None      # the previous cycle: "hs", "starved" or None
        while True:
            await RisingEdge(self.dut.clk)
            ready, valid = int(self.dut.s_axis_weight_tready.value), int(self.dut.s_axis_weight_tvalid.value)
            now = ("hs" if valid else "starved") if ready else None
            if now == "hs":
                self.w_hs += 1
                self.w_back_to_back += prev == "hs"
                self.w_after_stall += prev == "starved"
            elif now == "starved":
                self.w_starved += 1
            prev = now

    def set_weight_pause(self, generator=None):
        if generator:
            self.wsource.set_pause_generator(generator())

    async def start(self, events, **inputs):
        """Weight stream: the step's rows, in event order, queued with the events."""
        if self.stream and len(events):
            await self.wsource.send(AxiStreamFrame(tdata=[word for i in events for word in self.rows[i]]))
        await super().start(events, **inputs)

    async def reset(self):
        if self.stream:
            self.wsource.clear()        # queued rows; the one in flight is dropped by the reset
        await super().reset()

    async def spikes(self, events, first):
        frame = await self.step(events, first_step=first)
        if self.masks:                  # (the sink ends a frame at tlast: G words, tlast on the last)
            return mask_spikes(list(frame.tdata), self.OUT, self.P)
        return spike_indices(frame)

    async def read_membranes(self):
        """Through the debug port (busy low): all OUT membranes, signed."""
        u = []
        for g in range(self.G):
            self.dut.dbg_group.value = g
            await ClockCycles(self.dut.clk, 2)
            u += unpack_lanes(int(self.dut.dbg_membrane.value), self.P, self.MEM_BITS)
        return np.array(u, dtype=np.int64)

    def data(self):
        w, b, steps = make_case(self.IN, self.OUT, self.B_BITS, self.case)
        expected, floor_cases = golden_run(w, b, steps, self.THRESHOLD)
        return w, b, steps, expected, floor_cases


@cocotb.test()
@cocotb.parametrize(idle_inserter=[None, cycle_pause], backpressure_inserter=[None, cycle_pause])
async def run_test(dut, idle_inserter, backpressure_inserter):
    tb = TB(dut)
    tb.set_idle_generator(idle_inserter)
    tb.set_backpressure_generator(backpressure_inserter)
    await tb.reset()
    w, b, steps, expected, floor_cases = tb.data()

    # The data must exercise what the widths and the leak are about.
    if tb.case == "random":
        assert floor_cases > 0, "no negative carried membrane where floor != truncation"
    else:
        cur = np.concatenate([c for _, _, c in expected])
        mem = np.concatenate([u for _, u, _ in expected])
        assert signed_bits(int(cur.min()), int(cur.max())) == tb.ACC_BITS
        assert signed_bits(int(mem.min()), int(mem.max())) == tb.MEM_BITS

    await run_steps(tb, steps, expected, exact=idle_inserter is None and backpressure_inserter is None)
    if tb.stream:
        assert tb.w_starved == 0, f"an unpaused weight stream starved {tb.w_starved} cycles"


async def run_steps(tb, steps, expected, exact):
    """All steps against golden; exact: no event idle, no spike backpressure, so ``cycles``
    must equal the header formula plus the weight stream's starved cycles."""
    dut = tb.dut
    for t, ((events, first), (spikes, u, _)) in enumerate(zip(steps, expected)):
        done_before, hs_before, starved_before = tb.done_count, tb.w_hs, tb.w_starved
        got = await tb.spikes(events, first)
        membranes = await tb.read_membranes()
        assert got == spikes, f"step {t}: spikes {got} != golden {spikes} (membranes {membranes} vs {u})"
        assert np.array_equal(membranes, u), f"step {t}: membranes {membranes} != golden {u}"
        assert tb.done_count == done_before + 1, f"step {t}: done pulsed {tb.done_count - done_before} times"
        if tb.stream:
            words = tb.w_hs - hs_before
            assert words == len(events) * tb.G, f"step {t}: {words} weight words, want {len(events)} * {tb.G}"
        if exact:
            cycles = int(dut.cycles.value)
            starved = tb.w_starved - starved_before
            want = expected_mask_cycles(len(events), tb.OUT, tb.P, tb.pairs) if tb.masks else \
                expected_cycles(len(events), spikes, tb.OUT, tb.P, tb.pairs)
            assert cycles == want + starved, f"step {t}: {cycles} cycles, formula {want} + {starved} starved"

    await ClockCycles(dut.clk, 4)
    assert tb.source.empty() and tb.sink.empty()
    if tb.stream:
        assert tb.wsource.empty() and tb.wsource.idle(), "weight words left over"
        assert not int(dut.s_axis_weight_tready.value)
    assert not int(dut.m_axis_spike_tvalid.value) and not int(dut.busy.value)
    assert not int(dut.m_axis_mask_tvalid.value)


@cocotb.test(skip=os.environ.get("FSVAE_WEIGHT_STREAM", "0") == "0")
@cocotb.parametrize(mode=["stall", "all"])
async def run_stream_stalls(dut, mode):
    """Weight stream with random pauses: "stall" alone (cycles = formula + starved cycles),
    "all" with random event idle and spike backpressure too (values only)."""
    tb = TB(dut)
    tb.set_weight_pause(random_pause)
    if mode == "all":
        tb.set_idle_generator(lambda: random_pause(0.4, seed=11))
        tb.set_backpressure_generator(lambda: random_pause(0.4, seed=13))
    await tb.reset()
    w, b, steps, expected, _ = tb.data()
    await run_steps(tb, steps, expected, exact=mode == "stall")
    dut._log.info(f"weight stream ({mode}): {tb.w_hs} words, {tb.w_starved} starved cycles, "
                  f"{tb.w_back_to_back} issues back to back, {tb.w_after_stall} right after a stall")
    assert tb.w_starved > 0, "the weight stream never starved"
    # issues right after the previous one (forwarding) and after a stall (the RAM holds the sum)
    assert tb.w_back_to_back > 0 and tb.w_after_stall > 0, (tb.w_back_to_back, tb.w_after_stall)


@cocotb.test()
async def run_reset_mid_step(dut):
    """A reset in the middle of a step leaves the layer ready for a fresh first step."""
    tb = TB(dut)
    await tb.reset()
    w, b, steps, expected, _ = tb.data()
    await tb.start(list(range(tb.IN)), first_step=1)
    await ClockCycles(dut.clk, 1 + (tb.IN * tb.G) // 2)
    await tb.reset()                                    # clears the sources, sink and engine
    for t in range(3):
        hs_before = tb.w_hs
        got = await tb.spikes(*steps[t])
        assert got == expected[t][0], f"after reset, step {t}: {got} != {expected[t][0]}"
        assert tb.w_hs - hs_before == (len(steps[t][0]) * tb.G if tb.stream else 0)
    assert np.array_equal(await tb.read_membranes(), expected[2][1])


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_lif_linear")


@pytest.mark.parametrize("WEIGHT_STREAM", [0, 1])
@pytest.mark.parametrize("IN,OUT,P", list(CONFIGS))
def test_fsvae_lif_linear(IN, OUT, P, WEIGHT_STREAM):
    import runner
    cfg = CONFIGS[(IN, OUT, P)]
    acc_bits, mem_bits = widths(IN, OUT, cfg["B_BITS"], cfg["THRESHOLD"])
    params = {"IN": IN, "OUT": OUT, "P": P, "W_BITS": W_BITS, "B_BITS": cfg["B_BITS"],
              "ACC_BITS": acc_bits, "MEM_BITS": mem_bits, "THRESHOLD": cfg["THRESHOLD"]}
    if WEIGHT_STREAM:       # else the default (0), in the build of before
        params["WEIGHT_STREAM"] = 1
    runner.run_cases("fsvae_lif_linear", SOURCES, params, CASES,
                     lambda d, case: write_memory_files(d, *make_case(IN, OUT, cfg["B_BITS"], case)[:2], P,
                                                        cfg["B_BITS"], weight_file=not WEIGHT_STREAM),
                     strings={"WEIGHT_FILE": WEIGHT_FILE, "BIAS_FILE": BIAS_FILE})


@pytest.mark.parametrize("IN,OUT,P", list(CONFIGS)[:3])
def test_fsvae_lif_linear_masks(IN, OUT, P):
    """MASKS = 1: the same steps, the spikes read from the mask words, the header's cycles."""
    import runner
    cfg = CONFIGS[(IN, OUT, P)]
    acc_bits, mem_bits = widths(IN, OUT, cfg["B_BITS"], cfg["THRESHOLD"])
    params = {"IN": IN, "OUT": OUT, "P": P, "W_BITS": W_BITS, "B_BITS": cfg["B_BITS"],
              "ACC_BITS": acc_bits, "MEM_BITS": mem_bits, "THRESHOLD": cfg["THRESHOLD"], "MASKS": 1}
    runner.run_cases("fsvae_lif_linear", SOURCES, params, CASES,
                     lambda d, case: write_memory_files(d, *make_case(IN, OUT, cfg["B_BITS"], case)[:2], P,
                                                        cfg["B_BITS"]),
                     strings={"WEIGHT_FILE": WEIGHT_FILE, "BIAS_FILE": BIAS_FILE})


@pytest.mark.parametrize("MASKS", [0, 1])
@pytest.mark.parametrize("IN,OUT,P", [c for c in CONFIGS if c[1] // c[2] >= 2])   # G >= 2 (the RTL's check)
def test_fsvae_lif_linear_pairs(IN, OUT, P, MASKS):
    """PAIRS = 1: events scattered two at a time through the weight memory's two ports, the
    same steps (odd and even event counts, empty steps) against golden, bit for bit, with
    event idle and spike backpressure, and the header's cycles (ceil(E / 2) scatters)."""
    import runner
    cfg = CONFIGS[(IN, OUT, P)]
    acc_bits, mem_bits = widths(IN, OUT, cfg["B_BITS"], cfg["THRESHOLD"])
    params = {"IN": IN, "OUT": OUT, "P": P, "W_BITS": W_BITS, "B_BITS": cfg["B_BITS"],
              "ACC_BITS": acc_bits, "MEM_BITS": mem_bits, "THRESHOLD": cfg["THRESHOLD"], "MASKS": MASKS,
              "PAIRS": 1}
    runner.run_cases("fsvae_lif_linear", SOURCES, params, CASES,
                     lambda d, case: write_memory_files(d, *make_case(IN, OUT, cfg["B_BITS"], case)[:2], P,
                                                        cfg["B_BITS"]),
                     strings={"WEIGHT_FILE": WEIGHT_FILE, "BIAS_FILE": BIAS_FILE})
