"""cocotb bench of hw/rtl/fsvae_conv_image.sv against golden.conv2d + LIFState.

The first encoder layer: golden.encode computes current = conv2d(image) + bias once per
image and drives a LIF neuron with it for T steps.  Each simulation loads one weight set
through $readmemh (hex files written by the pytest wrapper in the format documented in the
RTL header) and runs a schedule of image loads and steps: two or three images of T_STEPS
steps each, and a restart (first_step) of the last image without reloading it.  After
every load the currents read back through the debug port must equal golden.conv2d
(``==``); after every step the spike indices must equal the golden spikes and the
membranes golden ``LIFState.u``.  done pulses once per load and step and, without stalls,
``cycles`` equals the formulas in the RTL header.

Images arrive as the accelerator's in_r words (4 int8 pixels per word, C-H-W order); the
pixel count is not always a multiple of 4, and the unused bytes of the last word hold
junk that must be ignored.  Weight sets: "random" (random int8 weights and images, biases
of both signs: membranes go negative, where the leak's floor differs from truncation) and
"extreme" (output channels of all +127 or all -127 weights, images of all -128 and all
+127 pixels, biases placed so that the currents reach -2^(B_BITS-1) and 2^(B_BITS-1) - 1).
ACC_BITS / MEM_BITS come from hwmodel.current_range("conv", w, b, -128, 127) /
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
PIX_LO, PIX_HI = -128, 127          # int8 pixels (hwmodel input fixed point)
T_STEPS = 4                         # steps per image (and the membrane_range horizon)
JUNK = 0xA5                         # unused bytes of the last image word
WEIGHT_FILE, BIAS_FILE = "weights.hex", "bias.hex"
KEYS = ("CIN", "COUT", "IH", "IW", "K", "S", "PAD", "P")

# (CIN, COUT, IH, IW, K, S, PAD, P) -> bias width and threshold
CONFIGS = {
    # the model's shape (one image channel, K 3, stride 2, pad 1), P < COUT; 30 pixels
    (1, 4, 6, 5, 3, 2, 1, 2): {"B_BITS": 20, "THRESHOLD": 3000},
    # stride 1, P = COUT, two image channels, odd channel count
    (2, 3, 4, 4, 3, 1, 1, 3): {"B_BITS": 21, "THRESHOLD": -500},
    # even kernel without padding, P = 1; 75 pixels
    (3, 2, 5, 5, 2, 2, 0, 1): {"B_BITS": 20, "THRESHOLD": 0},
}
CASES = ("random", "extreme")


def out_size(n, k, s, pad):
    return (n + 2 * pad - k) // s + 1


# --- the test data (one definition, used by the pytest wrapper and by the cocotb side) ---
def make_case(c: dict, b_bits: int, kind: str, seed: int = 1):
    """weight (COUT, CIN, K, K) in int8 range, bias (COUT,) in the B_BITS range, and the
    schedule: a list of ("load", image (CIN, IH, IW) int8) and ("step", first_step)."""
    cin, cout, k = c["CIN"], c["COUT"], c["K"]
    n = cin * k * k
    shape = (cin, c["IH"], c["IW"])
    rng = np.random.default_rng([seed, *(c[key] for key in KEYS), CASES.index(kind)])
    if kind == "random":
        w = rng.integers(-128, 128, (cout, cin, k, k))
        b = rng.integers(-3000 * n, 3000 * n + 1, cout)
        images = [rng.integers(PIX_LO, PIX_HI + 1, shape) for _ in range(2)]
    else:
        edge = 1 << (b_bits - 1)
        lo, hi = -PIX_LO * 127 * n, PIX_HI * 127 * n          # |weight sum| at -128 and +127 pixels
        w, b = np.empty((cout, cin, k, k), np.int64), np.empty(cout, np.int64)
        # (weight sign, bias): pixels -128 reach -edge / edge - 1 with the first two,
        # pixels +127 with the next two
        patterns = [(127, -edge + lo), (-127, edge - 1 - lo), (127, edge - 1 - hi), (-127, -edge + hi),
                    (127, 0)]
        for o in range(cout):
            sign, bias = patterns[o % len(patterns)]
            w[o], b[o] = sign, bias
        images = [np.full(shape, PIX_LO), np.full(shape, PIX_HI), rng.integers(PIX_LO, PIX_HI + 1, shape)]
    schedule = []
    for img in images:
        schedule.append(("load", img.astype(np.int64)))
        schedule += [("step", t == 0) for t in range(T_STEPS)]
    schedule += [("step", True), ("step", False)]            # restart the last image, no reload
    return w.astype(np.int64), b.astype(np.int64), schedule


def golden_current(c: dict, w, b, image):
    """conv2d of one CHW image, channel-last flattened (as golden.encode computes it)."""
    x = image.transpose(1, 2, 0)[None]
    return golden.conv2d(x, w, b, c["S"], c["PAD"])[0].reshape(-1)


def golden_run(c: dict, w, b, schedule, threshold):
    """Per schedule entry: ("load", currents) or ("step", spike indices, membranes); plus the
    floor-vs-truncation count."""
    out, state, current, floor_cases = [], None, None, 0
    for kind, arg in schedule:
        if kind == "load":
            current = golden_current(c, w, b, arg)
            out.append(("load", current))
            continue
        if arg:
            state = golden.LIFState(threshold)
        elif state.u is not None:
            carried = (state.o == 0) & (state.u < 0)
            floor_cases += int(np.sum(carried & ((state.u >> 2) != -((-state.u) // 4))))
        spikes = state.step(current)
        out.append(("step", [int(i) for i in np.flatnonzero(spikes)], state.u.copy()))
    return out, floor_cases


def widths(c: dict, b_bits, threshold):
    """ACC_BITS, MEM_BITS exactly sufficient for every case of this build."""
    lo, hi = 0, 0
    for kind in CASES:
        w, b, _ = make_case(c, b_bits, kind)
        clo, chi = current_range("conv", w, b, PIX_LO, PIX_HI)
        lo, hi = min(lo, clo), max(hi, chi)
    return signed_bits(lo, hi), signed_bits(*membrane_range(lo, hi, threshold, T_STEPS))


def write_memory_files(directory: Path, w, b, p, b_bits):
    """WEIGHT_FILE: line ((ci*K + kh)*K + kw)*G + g = W[g*P + p][ci][kh][kw]; BIAS_FILE: line g."""
    rows = w.transpose(1, 2, 3, 0).reshape(-1, w.shape[0])
    (directory / WEIGHT_FILE).write_text("\n".join(pack_words(rows, p, W_BITS)) + "\n")
    (directory / BIAS_FILE).write_text("\n".join(pack_words(b, p, b_bits)) + "\n")


def image_words(image: np.ndarray) -> list[int]:
    """in_r words: 4 int8 pixels per word, pixel 4w + k in bits 8k+7:8k, C-H-W order."""
    pix = [int(v) & 0xFF for v in image.reshape(-1)]
    pix += [JUNK] * (-len(pix) % 4)
    return [sum(pix[4 * i + k] << (8 * k) for k in range(4)) for i in range(len(pix) // 4)]


def geometry(c: dict):
    oh = out_size(c["IH"], c["K"], c["S"], c["PAD"])
    ow = out_size(c["IW"], c["K"], c["S"], c["PAD"])
    return oh * ow * (c["COUT"] // c["P"]), c["CIN"] * c["K"] * c["K"]      # NW, R


def expected_load_cycles(c: dict):
    nw, r = geometry(c)
    return -(-c["CIN"] * c["IH"] * c["IW"] // 4) + nw * r + 2


def expected_step_cycles(c: dict, spikes):
    nw, _ = geometry(c)
    k = np.bincount(np.asarray(spikes, dtype=np.int64) // c["P"], minlength=nw)
    return 2 + nw + int(np.maximum(k[:-1] - 1, 0).sum()) + int(k[-1])


# --- cocotb side ---------------------------------------------------------------------------
class TB:
    def __init__(self, dut):
        self.dut = dut
        env = os.environ
        self.cfg = {k: int(env[f"FSVAE_{k}"]) for k in KEYS}
        self.P = self.cfg["P"]
        self.NW, _ = geometry(self.cfg)
        self.B_BITS, self.THRESHOLD = int(env["FSVAE_B_BITS"]), int(env["FSVAE_THRESHOLD"])
        self.ACC_BITS, self.MEM_BITS = int(env["FSVAE_ACC_BITS"]), int(env["FSVAE_MEM_BITS"])
        self.case = env["FSVAE_CASE"]
        self.done_count = 0

        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_image"), dut.clk, dut.rst,
                                      byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_spike"), dut.clk, dut.rst,
                                  byte_lanes=1)
        dut.load.value = 0
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

    async def pulse(self, signal, first=False):
        self.dut.first_step.value = int(first)
        signal.value = 1
        await RisingEdge(self.dut.clk)
        signal.value = 0

    async def load(self, image):
        """Queue the image words (before load: the DMA may run ahead), load, wait."""
        await self.source.send(AxiStreamFrame(tdata=image_words(image)))
        await self.pulse(self.dut.load)
        await self.wait_idle()

    async def step(self, first):
        await self.pulse(self.dut.start, first)
        frame = await self.sink.recv()
        await self.wait_idle()
        tuser = frame.tuser if isinstance(frame.tuser, list) else [frame.tuser or 0] * len(frame.tdata)
        if any(tuser):
            assert tuser == [1] and frame.tdata == [0], f"empty marker must be alone: {frame}"
            return []
        return list(frame.tdata)

    async def read_debug(self, port, bits):
        """Through the debug port (busy low): all NPOS*COUT values, signed, channel-last."""
        out = []
        for a in range(self.NW):
            self.dut.dbg_addr.value = a
            await ClockCycles(self.dut.clk, 2)
            word = int(port.value)
            out += [to_signed(word >> (p * bits), bits) for p in range(self.P)]
        return np.array(out, dtype=np.int64)

    async def read_currents(self):
        return await self.read_debug(self.dut.dbg_current, self.ACC_BITS)

    async def read_membranes(self):
        return await self.read_debug(self.dut.dbg_membrane, self.MEM_BITS)

    def data(self):
        w, b, schedule = make_case(self.cfg, self.B_BITS, self.case)
        expected, floor_cases = golden_run(self.cfg, w, b, schedule, self.THRESHOLD)
        return schedule, expected, floor_cases


@cocotb.test()
@cocotb.parametrize(idle_inserter=[None, cycle_pause], backpressure_inserter=[None, cycle_pause])
async def run_test(dut, idle_inserter, backpressure_inserter):
    tb = TB(dut)
    tb.set_idle_generator(idle_inserter)
    tb.set_backpressure_generator(backpressure_inserter)
    await tb.reset()
    schedule, expected, floor_cases = tb.data()
    no_stall = idle_inserter is None and backpressure_inserter is None

    # The data must exercise what the widths and the leak are about.
    if tb.case == "random":
        assert floor_cases > 0, "no negative carried membrane where floor != truncation"
    if tb.case == "extreme" and tb.cfg["COUT"] >= 2:
        cur = np.concatenate([e[1] for e in expected if e[0] == "load"])
        assert signed_bits(int(cur.min()), int(cur.max())) == tb.ACC_BITS
        mem = np.concatenate([e[2] for e in expected if e[0] == "step"])
        assert signed_bits(int(mem.min()), int(mem.max())) == tb.MEM_BITS

    for i, ((kind, arg), want) in enumerate(zip(schedule, expected)):
        done_before = tb.done_count
        if kind == "load":
            await tb.load(arg)
            currents = await tb.read_currents()
            assert np.array_equal(currents, want[1]), f"entry {i}: currents {currents} != golden {want[1]}"
            if idle_inserter is None:
                cycles = int(dut.cycles.value)
                assert cycles == expected_load_cycles(tb.cfg), \
                    f"entry {i}: load took {cycles} cycles, formula {expected_load_cycles(tb.cfg)}"
        else:
            spikes, u = want[1], want[2]
            got = await tb.step(arg)
            membranes = await tb.read_membranes()
            assert got == spikes, f"entry {i}: spikes {got} != golden {spikes} (membranes {membranes} vs {u})"
            assert np.array_equal(membranes, u), f"entry {i}: membranes {membranes} != golden {u}"
            if no_stall:
                cycles = int(dut.cycles.value)
                assert cycles == expected_step_cycles(tb.cfg, spikes), \
                    f"entry {i}: step took {cycles} cycles, formula {expected_step_cycles(tb.cfg, spikes)}"
        assert tb.done_count == done_before + 1, f"entry {i}: done pulsed {tb.done_count - done_before} times"

    await ClockCycles(dut.clk, 4)
    assert tb.source.empty() and tb.sink.empty()
    assert not int(dut.m_axis_spike_tvalid.value) and not int(dut.s_axis_image_tready.value)
    assert not int(dut.busy.value)


@cocotb.test()
async def run_reset_mid_step(dut):
    """A reset in the middle of a load (during the convolution) or of a step leaves the
    layer ready for a fresh load and first step."""
    tb = TB(dut)
    await tb.reset()
    schedule, expected, _ = tb.data()
    nw, r = geometry(tb.cfg)
    n_words = len(image_words(schedule[0][1]))
    steps = [(arg, want) for (kind, arg), want in zip(schedule[1:], expected[1:]) if kind == "step"][:3]

    for wait in (1 + n_words + nw * r // 2, None):
        await tb.source.send(AxiStreamFrame(tdata=image_words(np.zeros_like(schedule[0][1]) + 1)))
        await tb.pulse(dut.load)
        if wait is None:                                # reset during a step instead
            await tb.wait_idle()
            await tb.pulse(dut.start, True)
            wait = nw // 2 + 1
        await ClockCycles(dut.clk, wait)
        assert int(dut.busy.value)
        await tb.reset()                                # clears the source, sink and engine
        await tb.load(schedule[0][1])
        assert np.array_equal(await tb.read_currents(), expected[0][1])
        for t, (first, want) in enumerate(steps):
            got = await tb.step(first)
            assert got == want[1], f"after reset, step {t}: {got} != {want[1]}"
        assert np.array_equal(await tb.read_membranes(), steps[-1][1][2])
    assert tb.source.empty() and tb.sink.empty()


# --- pytest wrapper ----------------------------------------------------------------------------
RTL = ROOT / "hw" / "rtl" / "fsvae_conv_image.sv"


@pytest.mark.parametrize(",".join(KEYS), list(CONFIGS))
def test_fsvae_conv_image(CIN, COUT, IH, IW, K, S, PAD, P):
    import runner
    c = dict(zip(KEYS, (CIN, COUT, IH, IW, K, S, PAD, P)))
    cfg = CONFIGS[tuple(c.values())]
    acc_bits, mem_bits = widths(c, cfg["B_BITS"], cfg["THRESHOLD"])
    params = {**c, "W_BITS": W_BITS, "B_BITS": cfg["B_BITS"],
              "ACC_BITS": acc_bits, "MEM_BITS": mem_bits, "THRESHOLD": cfg["THRESHOLD"]}
    assert runner.lint([RTL], "fsvae_conv_image", params) == ""
    build_name = "fsvae_conv_image" + "".join(f"_{k}{v}" for k, v in sorted(params.items()))
    for case in CASES:
        w, b, _ = make_case(c, cfg["B_BITS"], case)
        test_dir = runner.BUILD / build_name / f"run_{case}"
        test_dir.mkdir(parents=True, exist_ok=True)
        write_memory_files(test_dir, w, b, P, cfg["B_BITS"])
        env = {f"FSVAE_{k}": str(v) for k, v in params.items()}
        env["FSVAE_CASE"] = case
        runner.run("fsvae_conv_image", [RTL], "test_fsvae_conv_image", test_dir,
                   parameters={**params, "WEIGHT_FILE": f'"{WEIGHT_FILE}"', "BIAS_FILE": f'"{BIAS_FILE}"'},
                   extra_env=env, build_name=build_name)
