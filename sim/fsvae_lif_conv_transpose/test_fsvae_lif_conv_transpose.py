"""cocotb bench of hw/rtl/fsvae_lif_conv_transpose.sv against golden.conv_transpose2d + LIFState.

Each simulation loads one weight set through $readmemh (the hex files are written here, by
the pytest wrapper, in the format documented in the RTL header) and runs several time
steps that carry membrane state, with a restart (first_step) in the middle.  Input events
are channel-last indices in ascending order at densities 0 %, 10 %, 50 % and 100 %.
SPIKING = 1: per step the spike indices must equal the golden spikes (``==``), the
membranes read back through the debug port must equal golden ``LIFState.u``.  SPIKING = 0:
the streamed currents must equal golden.conv_transpose2d.  Always: done pulses once per
step and, without stalls, ``cycles`` equals the formula in the RTL header.

Weight sets: "random" (random int8 weights, small biases: membranes go negative, where the
leak's floor differs from truncation) and "extreme" (output channels of all +127 or all
-127 weights with biases at the edge of B_BITS, so the currents reach -2^(B_BITS-1) and
2^(B_BITS-1) - 1).  ACC_BITS / MEM_BITS come from hwmodel.current_range("convT", ...) /
membrane_range over both sets, and the bench checks that the extreme set needs every bit.
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

from common import cycle_pause, pack_words, to_signed  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.clock import Clock  # noqa: E402
from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource  # noqa: E402

from fsvae_fpga import golden  # noqa: E402
from fsvae_fpga.hwmodel import current_range, membrane_range, signed_bits  # noqa: E402

W_BITS = 8
# Densities of the steps (0 %, 10 %, 50 %, 100 %); restart (first_step) at steps 0 and 5.
DENSITIES = [0.5, 1.0, 0.0, 0.1, 1.0, 0.0, 0.5, 1.0, 0.1]
FIRST_STEPS = {0, 5}
_STARTS = sorted(FIRST_STEPS)
T_MAX = max(e - s for s, e in zip(_STARTS, _STARTS[1:] + [len(DENSITIES)]))   # steps per restart
WEIGHT_FILE, BIAS_FILE = "weights.hex", "bias.hex"
KEYS = ("CIN", "COUT", "IH", "IW", "K", "S", "PAD", "OUTPAD", "P", "SPIKING")

# (CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, SPIKING) -> bias width and threshold
CONFIGS = {
    (3, 4, 2, 2, 3, 2, 1, 1, 2, 1): {"B_BITS": 16, "THRESHOLD": 60},
    (4, 4, 4, 4, 3, 2, 1, 1, 4, 1): {"B_BITS": 24, "THRESHOLD": -20},
    (4, 1, 4, 4, 3, 1, 1, 0, 1, 0): {"B_BITS": 20, "THRESHOLD": 0},
    # K = 1, G = 1: the input channels of one pixel hit the same word 1 iteration apart
    (2, 2, 3, 3, 1, 2, 0, 0, 2, 1): {"B_BITS": 12, "THRESHOLD": 30},
}
CASES = ("random", "extreme")


def out_size(n, k, s, pad, outpad):
    return (n - 1) * s - 2 * pad + k + outpad


# --- the test data (one definition, used by the pytest wrapper and by the cocotb side) ---
def make_case(c: dict, b_bits: int, kind: str, seed: int = 1):
    """weight (CIN, COUT, K, K) in int8 range, bias (COUT,) in the B_BITS range, steps."""
    cin, cout, k = c["CIN"], c["COUT"], c["K"]
    n_in = c["IH"] * c["IW"] * cin
    rng = np.random.default_rng([seed, *(c[key] for key in KEYS), CASES.index(kind)])
    if kind == "random":
        w = rng.integers(-128, 128, (cin, cout, k, k))
        b = rng.integers(-300, 301, cout)
    else:
        edge = 1 << (b_bits - 1)
        bx = edge - 1 - 127 * cin * k * k            # |bias| + 127 CIN K K = 2^(B_BITS-1) - 1
        w, b = np.empty((cin, cout, k, k), np.int64), np.empty(cout, np.int64)
        patterns = [(127, -edge), (-127, edge - 1), (127, bx), (-127, -bx), (127, -127 * cin * k * k // 2)]
        for o in range(cout):
            sign, bias = patterns[o % len(patterns)]
            w[:, o], b[o] = sign, bias
    steps = []
    for t, d in enumerate(DENSITIES):
        n = int(round(d * n_in))
        events = np.sort(rng.choice(n_in, n, replace=False))
        steps.append(([int(e) for e in events], t in FIRST_STEPS))
    return w.astype(np.int64), b.astype(np.int64), steps


def golden_run(c: dict, w, b, steps, threshold):
    """Per step: (spike indices, membranes, currents), all channel-last flattened; plus the
    floor-vs-truncation count."""
    out, state, floor_cases = [], None, 0
    for events, first in steps:
        x = np.zeros((1, c["IH"], c["IW"], c["CIN"]), np.int64)
        x.reshape(-1)[events] = 1
        current = golden.conv_transpose2d(x, w, b, c["S"], c["PAD"], c["OUTPAD"])[0].reshape(-1)
        if first:
            state = golden.LIFState(threshold)
        elif state.u is not None:
            carried = (state.o == 0) & (state.u < 0)
            floor_cases += int(np.sum(carried & ((state.u >> 2) != -((-state.u) // 4))))
        spikes = state.step(current)
        out.append(([int(i) for i in np.flatnonzero(spikes)], state.u.copy(), current))
    return out, floor_cases


def widths(c: dict, b_bits, threshold):
    """ACC_BITS, MEM_BITS exactly sufficient for every case of this build."""
    lo, hi = 0, 0
    for kind in CASES:
        w, b, _ = make_case(c, b_bits, kind)
        clo, chi = current_range("convT", w, b, 0, 1)
        lo, hi = min(lo, clo), max(hi, chi)
    return signed_bits(lo, hi), signed_bits(*membrane_range(lo, hi, threshold, T_MAX))


def write_memory_files(directory: Path, w, b, p, b_bits):
    """WEIGHT_FILE: line ((ci*K + kh)*K + kw)*G + g = W[ci][g*P + p][kh][kw]; BIAS_FILE: line g."""
    rows = w.transpose(0, 2, 3, 1).reshape(-1, w.shape[1])
    (directory / WEIGHT_FILE).write_text("\n".join(pack_words(rows, p, W_BITS)) + "\n")
    (directory / BIAS_FILE).write_text("\n".join(pack_words(b, p, b_bits)) + "\n")


def expected_cycles(c: dict, n_events, spikes):
    g_count = c["COUT"] // c["P"]
    oh = out_size(c["IH"], c["K"], c["S"], c["PAD"], c["OUTPAD"])
    ow = out_size(c["IW"], c["K"], c["S"], c["PAD"], c["OUTPAD"])
    nw = oh * ow * g_count
    scatter = n_events * c["K"] * c["K"] * g_count
    if not c["SPIKING"]:
        return 2 + scatter + nw
    k = np.bincount(np.asarray(spikes, dtype=np.int64) // c["P"], minlength=nw)
    return 3 + scatter + nw + int(np.maximum(k[:-1] - 1, 0).sum()) + int(k[-1])


# --- cocotb side ---------------------------------------------------------------------------
class TB:
    def __init__(self, dut):
        self.dut = dut
        env = os.environ
        self.cfg = {k: int(env[f"FSVAE_{k}"]) for k in KEYS}
        self.P, self.SPIKING = self.cfg["P"], self.cfg["SPIKING"]
        oh = out_size(self.cfg["IH"], self.cfg["K"], self.cfg["S"], self.cfg["PAD"], self.cfg["OUTPAD"])
        ow = out_size(self.cfg["IW"], self.cfg["K"], self.cfg["S"], self.cfg["PAD"], self.cfg["OUTPAD"])
        self.NW = oh * ow * self.cfg["COUT"] // self.P
        self.B_BITS, self.THRESHOLD = int(env["FSVAE_B_BITS"]), int(env["FSVAE_THRESHOLD"])
        self.ACC_BITS, self.MEM_BITS = int(env["FSVAE_ACC_BITS"]), int(env["FSVAE_MEM_BITS"])
        self.case = env["FSVAE_CASE"]
        self.done_count = 0

        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_event"), dut.clk, dut.rst,
                                      byte_lanes=1)
        out = "m_axis_spike" if self.SPIKING else "m_axis_cur"
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, out), dut.clk, dut.rst, byte_lanes=1)
        if not self.SPIKING:
            dut.m_axis_spike_tready.value = 0
        else:
            dut.m_axis_cur_tready.value = 0
        dut.start.value = 0
        dut.first_step.value = 0
        dut.dbg_addr.value = 0
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
        """Queue the events (before start: the producer may run ahead), start, collect:
        spike indices (SPIKING) or the NPOS*COUT currents (channel-last)."""
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
        if not self.SPIKING:
            assert len(frame.tdata) == self.NW, f"{len(frame.tdata)} current beats, want {self.NW}"
            return [to_signed(word >> (p * self.ACC_BITS), self.ACC_BITS)
                    for word in frame.tdata for p in range(self.P)]
        tuser = frame.tuser if isinstance(frame.tuser, list) else [frame.tuser or 0] * len(frame.tdata)
        if any(tuser):
            assert tuser == [1] and frame.tdata == [0], f"empty marker must be alone: {frame}"
            return []
        return list(frame.tdata)

    async def read_membranes(self):
        """Through the debug port (busy low): all NPOS*COUT membranes, signed, channel-last."""
        u = []
        for a in range(self.NW):
            self.dut.dbg_addr.value = a
            await ClockCycles(self.dut.clk, 2)
            word = int(self.dut.dbg_membrane.value)
            u += [to_signed(word >> (p * self.MEM_BITS), self.MEM_BITS) for p in range(self.P)]
        return np.array(u, dtype=np.int64)

    def data(self):
        w, b, steps = make_case(self.cfg, self.B_BITS, self.case)
        expected, floor_cases = golden_run(self.cfg, w, b, steps, self.THRESHOLD)
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
    if tb.case == "random" and tb.SPIKING:
        assert floor_cases > 0, "no negative carried membrane where floor != truncation"
    if tb.case == "extreme" and tb.cfg["COUT"] >= 2:
        cur = np.concatenate([c for _, _, c in expected])
        assert signed_bits(int(cur.min()), int(cur.max())) == tb.ACC_BITS
        if tb.SPIKING:
            mem = np.concatenate([u for _, u, _ in expected])
            assert signed_bits(int(mem.min()), int(mem.max())) == tb.MEM_BITS

    for t, ((events, first), (spikes, u, cur)) in enumerate(zip(steps, expected)):
        done_before = tb.done_count
        got = await tb.step(events, first)
        if tb.SPIKING:
            membranes = await tb.read_membranes()
            assert got == spikes, f"step {t}: spikes {got} != golden {spikes} (membranes {membranes} vs {u})"
            assert np.array_equal(membranes, u), f"step {t}: membranes {membranes} != golden {u}"
        else:
            assert got == [int(v) for v in cur], f"step {t}: currents {got} != golden {list(cur)}"
        assert tb.done_count == done_before + 1, f"step {t}: done pulsed {tb.done_count - done_before} times"
        if idle_inserter is None and backpressure_inserter is None:
            cycles = int(dut.cycles.value)
            want = expected_cycles(tb.cfg, len(events), spikes)
            assert cycles == want, f"step {t}: {cycles} cycles, formula {want}"

    await ClockCycles(dut.clk, 4)
    assert tb.source.empty() and tb.sink.empty()
    assert not int(dut.m_axis_spike_tvalid.value) and not int(dut.m_axis_cur_tvalid.value)
    assert not int(dut.busy.value)


@cocotb.test()
async def run_reset_mid_step(dut):
    """A reset in the middle of a step leaves the layer ready for a fresh first step."""
    tb = TB(dut)
    await tb.reset()
    w, b, steps, expected, _ = tb.data()
    n_in = tb.cfg["IH"] * tb.cfg["IW"] * tb.cfg["CIN"]
    await tb.source.send(AxiStreamFrame(tdata=list(range(n_in)), tuser=0))
    dut.first_step.value = 1
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    await ClockCycles(dut.clk, 1 + (n_in * tb.cfg["K"] ** 2 * tb.cfg["COUT"] // tb.P) // 2)
    await tb.reset()                                    # resets the engine (the bus models only drop the frame in flight)
    for t in range(3):
        got = await tb.step(*steps[t])
        want = expected[t][0] if tb.SPIKING else [int(v) for v in expected[t][2]]
        assert got == want, f"after reset, step {t}: {got} != {want}"
    if tb.SPIKING:
        assert np.array_equal(await tb.read_membranes(), expected[2][1])


# --- pytest wrapper ----------------------------------------------------------------------------
FILE_CHECK = ROOT / "hw" / "rtl" / "fsvae_file_check.sv"
RTL = ROOT / "hw" / "rtl" / "fsvae_lif_conv_transpose.sv"
WEIGHT_MEM = ROOT / "hw" / "rtl" / "fsvae_weight_mem.sv"


@pytest.mark.parametrize(",".join(KEYS), list(CONFIGS))
def test_fsvae_lif_conv_transpose(CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, SPIKING):
    import runner
    c = dict(zip(KEYS, (CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, SPIKING)))
    cfg = CONFIGS[tuple(c.values())]
    acc_bits, mem_bits = widths(c, cfg["B_BITS"], cfg["THRESHOLD"])
    params = {**c, "W_BITS": W_BITS, "B_BITS": cfg["B_BITS"],
              "ACC_BITS": acc_bits, "MEM_BITS": mem_bits, "THRESHOLD": cfg["THRESHOLD"]}
    assert runner.lint([FILE_CHECK, RTL, WEIGHT_MEM], "fsvae_lif_conv_transpose", params) == ""
    build_name = "fsvae_lif_conv_transpose" + "".join(f"_{k}{v}" for k, v in sorted(params.items()))
    for case in CASES:
        w, b, _ = make_case(c, cfg["B_BITS"], case)
        test_dir = runner.BUILD / build_name / f"run_{case}"
        test_dir.mkdir(parents=True, exist_ok=True)
        write_memory_files(test_dir, w, b, P, cfg["B_BITS"])
        env = {f"FSVAE_{k}": str(v) for k, v in params.items()}
        env["FSVAE_CASE"] = case
        runner.run("fsvae_lif_conv_transpose", [FILE_CHECK, RTL, WEIGHT_MEM], "test_fsvae_lif_conv_transpose", test_dir,
                   parameters={**params, "WEIGHT_FILE": f'"{WEIGHT_FILE}"', "BIAS_FILE": f'"{BIAS_FILE}"'},
                   extra_env=env, build_name=build_name)
