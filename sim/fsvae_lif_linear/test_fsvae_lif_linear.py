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

from common import EngineTB, cycle_pause, pack_words, spike_indices, unpack_lanes  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.triggers import ClockCycles  # noqa: E402

from fsvae_fpga.contract import golden  # noqa: E402
from fsvae_fpga.contract.hwmodel import current_range, membrane_range, signed_bits  # noqa: E402

W_BITS = 8
# Densities of the steps (0 %, 10 %, 50 %, 100 %); restart (first_step) at steps 0 and 5.
DENSITIES = [0.5, 1.0, 1.0, 0.0, 0.1, 1.0, 0.5, 1.0, 1.0, 0.0, 0.1]
FIRST_STEPS = {0, 5}
_STARTS = sorted(FIRST_STEPS)
T_MAX = max(e - s for s, e in zip(_STARTS, _STARTS[1:] + [len(DENSITIES)]))   # steps per restart
WEIGHT_FILE, BIAS_FILE = "weights.hex", "bias.hex"

# (IN, OUT, P) -> bias width and threshold (a negative threshold in one build)
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


def write_memory_files(directory: Path, w, b, p, b_bits):
    """WEIGHT_FILE: line i*G + g = W[g*P + p][i]; BIAS_FILE: line g = b[g*P + p]."""
    (directory / WEIGHT_FILE).write_text("\n".join(pack_words(w.T, p, W_BITS)) + "\n")
    (directory / BIAS_FILE).write_text("\n".join(pack_words(b, p, b_bits)) + "\n")


def expected_cycles(n_events, spikes, n_out, p):
    g_count = n_out // p
    k = np.bincount(np.asarray(spikes, dtype=np.int64) // p, minlength=g_count)
    return 3 + (n_events + 1) * g_count + int(np.maximum(k[:-1] - 1, 0).sum()) + int(k[-1])


# --- cocotb side ---------------------------------------------------------------------------
class TB(EngineTB):
    def __init__(self, dut):
        super().__init__(dut, "m_axis_spike")
        env = os.environ
        self.IN, self.OUT, self.P = int(env["FSVAE_IN"]), int(env["FSVAE_OUT"]), int(env["FSVAE_P"])
        self.G = self.OUT // self.P
        self.B_BITS, self.THRESHOLD = int(env["FSVAE_B_BITS"]), int(env["FSVAE_THRESHOLD"])
        self.ACC_BITS, self.MEM_BITS = int(env["FSVAE_ACC_BITS"]), int(env["FSVAE_MEM_BITS"])
        self.case = env["FSVAE_CASE"]
        dut.first_step.value = 0
        dut.dbg_group.value = 0

    async def spikes(self, events, first):
        return spike_indices(await self.step(events, first_step=first))

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

    for t, ((events, first), (spikes, u, _)) in enumerate(zip(steps, expected)):
        done_before = tb.done_count
        got = await tb.spikes(events, first)
        membranes = await tb.read_membranes()
        assert got == spikes, f"step {t}: spikes {got} != golden {spikes} (membranes {membranes} vs {u})"
        assert np.array_equal(membranes, u), f"step {t}: membranes {membranes} != golden {u}"
        assert tb.done_count == done_before + 1, f"step {t}: done pulsed {tb.done_count - done_before} times"
        if idle_inserter is None and backpressure_inserter is None:
            cycles = int(dut.cycles.value)
            want = expected_cycles(len(events), spikes, tb.OUT, tb.P)
            assert cycles == want, f"step {t}: {cycles} cycles, formula {want}"

    await ClockCycles(dut.clk, 4)
    assert tb.source.empty() and tb.sink.empty()
    assert not int(dut.m_axis_spike_tvalid.value) and not int(dut.busy.value)


@cocotb.test()
async def run_reset_mid_step(dut):
    """A reset in the middle of a step leaves the layer ready for a fresh first step."""
    tb = TB(dut)
    await tb.reset()
    w, b, steps, expected, _ = tb.data()
    await tb.start(list(range(tb.IN)), first_step=1)
    await ClockCycles(dut.clk, 1 + (tb.IN * tb.G) // 2)
    await tb.reset()                                    # clears the source, sink and engine
    for t in range(3):
        got = await tb.spikes(*steps[t])
        assert got == expected[t][0], f"after reset, step {t}: {got} != {expected[t][0]}"
    assert np.array_equal(await tb.read_membranes(), expected[2][1])


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_lif_linear")


@pytest.mark.parametrize("IN,OUT,P", list(CONFIGS))
def test_fsvae_lif_linear(IN, OUT, P):
    import runner
    cfg = CONFIGS[(IN, OUT, P)]
    acc_bits, mem_bits = widths(IN, OUT, cfg["B_BITS"], cfg["THRESHOLD"])
    params = {"IN": IN, "OUT": OUT, "P": P, "W_BITS": W_BITS, "B_BITS": cfg["B_BITS"],
              "ACC_BITS": acc_bits, "MEM_BITS": mem_bits, "THRESHOLD": cfg["THRESHOLD"]}
    runner.run_cases("fsvae_lif_linear", SOURCES, params, CASES,
                     lambda d, case: write_memory_files(d, *make_case(IN, OUT, cfg["B_BITS"], case)[:2], P,
                                                        cfg["B_BITS"]),
                     strings={"WEIGHT_FILE": WEIGHT_FILE, "BIAS_FILE": BIAS_FILE})
