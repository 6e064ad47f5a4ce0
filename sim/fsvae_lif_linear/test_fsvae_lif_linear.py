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

from common import cycle_pause, pack_words  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.clock import Clock  # noqa: E402
from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource  # noqa: E402

from fsvae_fpga import golden  # noqa: E402
from fsvae_fpga.hwmodel import current_range, membrane_range, signed_bits  # noqa: E402

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
class TB:
    def __init__(self, dut):
        self.dut = dut
        env = os.environ
        self.IN, self.OUT, self.P = int(env["FSVAE_IN"]), int(env["FSVAE_OUT"]), int(env["FSVAE_P"])
        self.G = self.OUT // self.P
        self.B_BITS, self.THRESHOLD = int(env["FSVAE_B_BITS"]), int(env["FSVAE_THRESHOLD"])
        self.ACC_BITS, self.MEM_BITS = int(env["FSVAE_ACC_BITS"]), int(env["FSVAE_MEM_BITS"])
        self.case = env["FSVAE_CASE"]
        self.done_count = 0

        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_event"), dut.clk, dut.rst,
                                      byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_spike"), dut.clk, dut.rst,
                                  byte_lanes=1)
        dut.start.value = 0
        dut.first_step.value = 0
        dut.dbg_group.value = 0
        cocotb.start_soon(self._count_done())

    def set_idle_generator(self, generator=None):
        if generator:
            self.source.set_pause_generator(generator())

    def set_backpressure_generator(self, generator=None):
        if generator:
            self.sink.set_pause_generator(generator())

    async def _count_done(self):
        while True:
            await RisingEdge(self.dut.clk)
            if int(self.dut.done.value):
                self.done_count += 1

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await self.wait_idle()

    async def wait_idle(self):
        await RisingEdge(self.dut.clk)
        while int(self.dut.busy.value):
            await RisingEdge(self.dut.clk)

    async def step(self, events, first):
        """Queue the events (before start: the producer may run ahead), start, collect."""
        if events:
            await self.source.send(AxiStreamFrame(tdata=list(events), tuser=0))
        else:
            await self.source.send(AxiStreamFrame(tdata=[0], tuser=1))
        self.dut.first_step.value = int(first)
        self.dut.start.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.start.value = 0
        frame = await self.sink.recv()
        await self.wait_idle()
        tuser = frame.tuser if isinstance(frame.tuser, list) else [frame.tuser or 0] * len(frame.tdata)
        if any(tuser):
            assert tuser == [1] and frame.tdata == [0], f"empty marker must be alone: {frame}"
            return []
        return list(frame.tdata)

    async def read_membranes(self):
        """Through the debug port (busy low): all OUT membranes, signed."""
        u = []
        for g in range(self.G):
            self.dut.dbg_group.value = g
            await ClockCycles(self.dut.clk, 2)
            word = int(self.dut.dbg_membrane.value)
            for p in range(self.P):
                v = (word >> (p * self.MEM_BITS)) & ((1 << self.MEM_BITS) - 1)
                u.append(v - (1 << self.MEM_BITS) if v >> (self.MEM_BITS - 1) else v)
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
        got = await tb.step(events, first)
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
    events = list(range(tb.IN))
    await tb.source.send(AxiStreamFrame(tdata=events, tuser=0))
    dut.first_step.value = 1
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    await ClockCycles(dut.clk, 1 + (tb.IN * tb.G) // 2)
    await tb.reset()                                    # clears the source, sink and engine
    for t in range(3):
        got = await tb.step(*steps[t])
        assert got == expected[t][0], f"after reset, step {t}: {got} != {expected[t][0]}"
    assert np.array_equal(await tb.read_membranes(), expected[2][1])


# --- pytest wrapper ----------------------------------------------------------------------------
FILE_CHECK = ROOT / "hw" / "rtl" / "fsvae_file_check.sv"
RTL = ROOT / "hw" / "rtl" / "fsvae_lif_linear.sv"
WEIGHT_MEM = ROOT / "hw" / "rtl" / "fsvae_weight_mem.sv"


@pytest.mark.parametrize("IN,OUT,P", list(CONFIGS))
def test_fsvae_lif_linear(IN, OUT, P):
    import runner
    cfg = CONFIGS[(IN, OUT, P)]
    acc_bits, mem_bits = widths(IN, OUT, cfg["B_BITS"], cfg["THRESHOLD"])
    params = {"IN": IN, "OUT": OUT, "P": P, "W_BITS": W_BITS, "B_BITS": cfg["B_BITS"],
              "ACC_BITS": acc_bits, "MEM_BITS": mem_bits, "THRESHOLD": cfg["THRESHOLD"]}
    assert runner.lint([FILE_CHECK, RTL, WEIGHT_MEM], "fsvae_lif_linear", params) == ""
    build_name = "fsvae_lif_linear" + "".join(f"_{k}{v}" for k, v in sorted(params.items()))
    for case in CASES:
        w, b, _ = make_case(IN, OUT, cfg["B_BITS"], case)
        test_dir = runner.BUILD / build_name / f"run_{case}"
        test_dir.mkdir(parents=True, exist_ok=True)
        write_memory_files(test_dir, w, b, P, cfg["B_BITS"])
        env = {f"FSVAE_{k}": str(v) for k, v in params.items()}
        env["FSVAE_CASE"] = case
        runner.run("fsvae_lif_linear", [FILE_CHECK, RTL, WEIGHT_MEM], "test_fsvae_lif_linear", test_dir,
                   parameters={**params, "WEIGHT_FILE": f'"{WEIGHT_FILE}"', "BIAS_FILE": f'"{BIAS_FILE}"'},
                   extra_env=env, build_name=build_name)
