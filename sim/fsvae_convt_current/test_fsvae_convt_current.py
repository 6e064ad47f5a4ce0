"""cocotb bench of hw/rtl/fsvae_convt_current.sv (the transposed-convolution current
engine) against golden.conv_transpose2d.

Each simulation loads one weight set through $readmemh (the hex files are written here, by
the pytest wrapper, in the format documented in the RTL header) and runs several time
steps.  Input events are channel-last indices in ascending order at densities 0 %, 10 %,
50 % and 100 %.  Per step the streamed currents must equal golden.conv_transpose2d (``==``),
done must pulse once and, without stalls, ``cycles`` must equal the formula in the RTL
header: each event costs its in-range taps x G cycles (one cycle if it has none), counted
here by brute force over the K x K taps.  run_random_order: the same steps with the events
in random order (the engine computes any order exactly), currents and cycles checked.  The accumulators are cleared by each step's update, so every step starts from the
bias alone: a word left over from the previous step would show.

Weight sets: "random" (random int8 weights, small biases) and "extreme" (output channels of
all +127 or all -127 weights with biases at the edge of B_BITS, so the currents reach
-2^(B_BITS-1) and 2^(B_BITS-1) - 1).  ACC_BITS comes from hwmodel.current_range("convT",
...) over both sets, and the bench checks that the extreme set needs every bit.

FUSED = 1 (the membranes out): the same tests, the golden stream being the membranes u_t of
golden.LIFState driven by those currents (images of T steps: the 9 steps are images 0, 1,
... in order; after a reset, step 0 of an image), ``==``; ACC_BITS is the membrane width,
from hwmodel.membrane_range over both weight sets.  run_images (FUSED only): 4 images of T
steps with random events (densities 0 to 100 %, empty steps), random input idle and output
backpressure, a reset in the middle of a step of image 1 (the image restarts), then after
the last image every RAM word must hold its bias (read from the RAM, and seen as the
output of a further empty step 0); spikes and no spikes, and carried leaks, must occur.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "sim", ROOT / "sw"):   # the simulator process does not run conftest.py
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from common import EngineTB, convt_weights, cycle_pause, pack_words, random_pause, unpack_lanes  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.triggers import ClockCycles  # noqa: E402

from fsvae_fpga.contract import golden  # noqa: E402
from fsvae_fpga.contract.hwmodel import current_range, membrane_range, signed_bits  # noqa: E402

W_BITS = 8
DENSITIES = [0.5, 1.0, 0.0, 0.1, 1.0, 0.0, 0.5, 1.0, 0.1]    # of the steps: 0 %, 10 %, 50 %, 100 %
WEIGHT_FILE, BIAS_FILE = "weights.hex", "bias.hex"
KEYS = ("CIN", "COUT", "IH", "IW", "K", "S", "PAD", "OUTPAD", "P")

# (CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P) -> bias width
CONFIGS = {
    (3, 4, 2, 2, 3, 2, 1, 1, 2): 16,                 # G = 2
    (4, 4, 4, 4, 3, 2, 1, 1, 4): 24,
    (4, 1, 4, 4, 3, 1, 1, 0, 1): 20,                 # stride 1, one channel
    # K = 1, G = 1: the input channels of one pixel hit the same word 1 iteration apart
    (2, 2, 3, 3, 1, 2, 0, 0, 2): 12,
    # taps outside the output (the scatter skips them):
    (2, 4, 2, 2, 3, 2, 1, 0, 2): 16,                 # 2x2 -> 3x3
    (3, 2, 1, 1, 3, 2, 1, 0, 2): 16,                 # 1x1 -> 1x1: 1 tap of 9; G = 1, 1 iteration apart
    (2, 4, 1, 1, 3, 2, 1, 1, 2): 16,                 # 1x1 -> 2x2: 4 taps of 9
    (2, 4, 3, 3, 3, 2, 1, 1, 2): 16,                 # 3x3 -> 6x6
    (2, 4, 3, 3, 3, 2, 1, 0, 4): 16,                 # 3x3 -> 5x5, G = 1
    (2, 4, 3, 3, 3, 1, 1, 0, 2): 16,                 # K = 3, S = 1, PAD = 1
    (2, 4, 3, 3, 4, 2, 1, 0, 2): 16,                 # K = 4, S = 2, PAD = 1: 3x3 -> 6x6
    (2, 4, 2, 3, 4, 2, 1, 1, 2): 16,                 # K = 4, IH != IW: 2x3 -> 5x7
    # events with no in-range tap (PAD >= K): consumed in one cycle
    (2, 2, 3, 3, 1, 2, 1, 0, 1): 16,                 # K = 1: only pixel (1, 1) lands inside, G = 2
    (3, 2, 3, 3, 2, 2, 2, 1, 2): 16,                 # K = 2, PAD = 2: row 0 and column 0 land outside, G = 1
}
CASES = ("random", "extreme")
# FUSED = 1: (CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P) -> (bias width, T, THRESHOLD)
FUSED_CONFIGS = {
    (3, 4, 2, 2, 3, 2, 1, 1, 2): (16, 3, 40),        # G = 2
    (2, 2, 3, 3, 1, 2, 0, 0, 2): (12, 4, -110),      # K = 1, G = 1: scatter hits 1 iteration apart
    (2, 4, 3, 3, 4, 2, 1, 0, 2): (16, 4, 50),        # taps outside the output
    (3, 2, 3, 3, 2, 2, 2, 1, 2): (16, 3, 40),        # events with no in-range tap, G = 1
}
FUSED = int(os.environ.get("FSVAE_FUSED", "0"))


def out_size(n, k, s, pad, outpad):
    return (n - 1) * s - 2 * pad + k + outpad


# --- the test data (one definition, used by the pytest wrapper and by the cocotb side) ---
def make_case(c: dict, b_bits: int, kind: str, seed: int = 1):
    """weight (CIN, COUT, K, K) in int8 range, bias (COUT,) in the B_BITS range, steps."""
    cin, cout, k = c["CIN"], c["COUT"], c["K"]
    n_in = c["IH"] * c["IW"] * cin
    rng = np.random.default_rng([seed, *(c[key] for key in KEYS), CASES.index(kind)])
    w, b = convt_weights(rng, kind, cin, cout, k, b_bits)
    steps = []
    for d in DENSITIES:
        events = np.sort(rng.choice(n_in, int(round(d * n_in)), replace=False))
        steps.append([int(e) for e in events])
    return w, b, steps


def golden_currents(c: dict, w, b, events) -> list[int]:
    """One step's currents, channel-last flattened."""
    x = np.zeros((1, c["IH"], c["IW"], c["CIN"]), np.int64)
    x.reshape(-1)[events] = 1
    return [int(v) for v in golden.conv_transpose2d(x, w, b, c["S"], c["PAD"], c["OUTPAD"])[0].reshape(-1)]


def acc_bits(c: dict, b_bits, steps: int = 0, threshold: int = 0) -> int:
    """ACC_BITS exactly sufficient for every case of this build: the currents, or with
    steps (FUSED = 1) the membranes of that many steps per image."""
    lo, hi = 0, 0
    for kind in CASES:
        w, b, _ = make_case(c, b_bits, kind)
        clo, chi = current_range("convT", w, b, 0, 1)
        lo, hi = min(lo, clo), max(hi, chi)
    return signed_bits(*membrane_range(lo, hi, threshold, steps)) if steps else signed_bits(lo, hi)


def golden_membranes(currents, t_steps: int, threshold: int) -> tuple[list[list[int]], list[np.ndarray]]:
    """The membranes u of golden.LIFState driven by the steps' currents, images of T steps
    (step g is step g mod T of its image); and the spikes."""
    us, spikes, state = [], [], None
    for g, cur in enumerate(currents):
        if g % t_steps == 0:
            state = golden.LIFState(threshold)
        spikes.append(state.step(np.asarray(cur, np.int64)))
        us.append([int(v) for v in state.u])
    return us, spikes


def write_memory_files(directory: Path, w, b, p, b_bits):
    """WEIGHT_FILE: line ((ci*K + kh)*K + kw)*G + g = W[ci][g*P + p][kh][kw]; BIAS_FILE: line g."""
    rows = w.transpose(0, 2, 3, 1).reshape(-1, w.shape[1])
    (directory / WEIGHT_FILE).write_text("\n".join(pack_words(rows, p, W_BITS)) + "\n")
    (directory / BIAS_FILE).write_text("\n".join(pack_words(b, p, b_bits)) + "\n")


def words(c: dict) -> int:
    """NW: output words (position, channel group) per step."""
    return (out_size(c["IH"], c["K"], c["S"], c["PAD"], c["OUTPAD"])
            * out_size(c["IW"], c["K"], c["S"], c["PAD"], c["OUTPAD"]) * c["COUT"] // c["P"])


def in_range_taps(c: dict, i: int, axis: str) -> int:
    """Taps k of input row (axis "H") or column ("W") i with i*S - PAD + k inside the output."""
    n_out = out_size(c["I" + axis], c["K"], c["S"], c["PAD"], c["OUTPAD"])
    return sum(0 <= i * c["S"] - c["PAD"] + k < n_out for k in range(c["K"]))


def event_cycles(c: dict, event: int) -> int:
    """Scatter cycles of one event: in-range taps x G, or 1 (consumed) when it has none."""
    ih, iw = divmod(event // c["CIN"], c["IW"])
    return max(1, in_range_taps(c, ih, "H") * in_range_taps(c, iw, "W") * c["COUT"] // c["P"])


def scatter_cycles(c: dict, events) -> int:
    return sum(event_cycles(c, e) for e in events)


def expected_cycles(c: dict, events):
    return 2 + scatter_cycles(c, events) + words(c)


# --- cocotb side ---------------------------------------------------------------------------
class TB(EngineTB):
    def __init__(self, dut):
        super().__init__(dut, "m_axis_cur")
        env = os.environ
        self.cfg = {k: int(env[f"FSVAE_{k}"]) for k in KEYS}
        self.P, self.NW = self.cfg["P"], words(self.cfg)
        self.B_BITS, self.ACC_BITS = int(env["FSVAE_B_BITS"]), int(env["FSVAE_ACC_BITS"])
        self.case = env["FSVAE_CASE"]
        if FUSED:
            self.T, self.THRESHOLD = int(env["FSVAE_T"]), int(env["FSVAE_THRESHOLD"])

    async def currents(self, events) -> list[int]:
        """One step: the NPOS*COUT currents (channel-last)."""
        frame = await self.step(events)
        assert len(frame.tdata) == self.NW, f"{len(frame.tdata)} current beats, want {self.NW}"
        return [v for word in frame.tdata for v in unpack_lanes(word, self.P, self.ACC_BITS)]

    def data(self):
        """The steps' events and the golden output stream: currents, or (FUSED) membranes."""
        w, b, steps = make_case(self.cfg, self.B_BITS, self.case)
        currents = [golden_currents(self.cfg, w, b, events) for events in steps]
        if FUSED:
            return steps, golden_membranes(currents, self.T, self.THRESHOLD)[0]
        return steps, currents


@cocotb.test()
@cocotb.parametrize(idle_inserter=[None, cycle_pause], backpressure_inserter=[None, cycle_pause])
async def run_test(dut, idle_inserter, backpressure_inserter):
    tb = TB(dut)
    tb.set_idle_generator(idle_inserter)
    tb.set_backpressure_generator(backpressure_inserter)
    await tb.reset()
    steps, expected = tb.data()
    if tb.case == "extreme" and tb.cfg["COUT"] >= 2:      # the data needs every bit of ACC_BITS
        cur = np.concatenate(expected)
        bits = signed_bits(int(cur.min()), int(cur.max()))
        assert bits == tb.ACC_BITS if not FUSED else bits <= tb.ACC_BITS   # FUSED: a bound

    for t, (events, want) in enumerate(zip(steps, expected)):
        done_before = tb.done_count
        got = await tb.currents(events)
        assert got == want, f"step {t}: currents {got} != golden {want}"
        assert tb.done_count == done_before + 1, f"step {t}: done pulsed {tb.done_count - done_before} times"
        if idle_inserter is None and backpressure_inserter is None:
            cycles, formula = int(dut.cycles.value), expected_cycles(tb.cfg, events)
            assert cycles == formula, f"step {t}: {cycles} cycles, formula {formula}"

    await ClockCycles(dut.clk, 4)
    assert tb.source.empty() and tb.sink.empty()
    assert not int(dut.m_axis_cur_tvalid.value) and not int(dut.busy.value)


@cocotb.test()
async def run_reset_mid_step(dut):
    """A reset in the middle of a step clears the accumulators: the next steps are exact."""
    tb = TB(dut)
    await tb.reset()
    steps, expected = tb.data()
    n_in = tb.cfg["IH"] * tb.cfg["IW"] * tb.cfg["CIN"]
    await tb.start(list(range(n_in)))
    await ClockCycles(dut.clk, 1 + scatter_cycles(tb.cfg, range(n_in)) // 2)
    await tb.reset()                    # the engine; the bus models only drop the frame in flight
    for t in range(3):
        got = await tb.currents(steps[t])
        assert got == expected[t], f"after reset, step {t}: {got} != {expected[t]}"


@cocotb.test()
async def run_random_order(dut):
    """The steps with their events in random order: the same outputs (any order is exact,
    the accumulator forwards a word re-read right after its write) and the same cycles."""
    tb = TB(dut)
    await tb.reset()
    steps, expected = tb.data()
    rng = random.Random(3)
    for t, (events, want) in enumerate(zip(steps, expected)):
        events = rng.sample(events, len(events))
        got = await tb.currents(events)
        assert got == want, f"step {t} (random order): {got} != golden {want}"
        cycles, formula = int(dut.cycles.value), expected_cycles(tb.cfg, events)
        assert cycles == formula, f"step {t} (random order): {cycles} cycles, formula {formula}"


@cocotb.test(skip=not FUSED)
async def run_images(dut):
    """FUSED: images of T random steps under random idle and backpressure, a reset inside an
    image, then every word back at its bias."""
    tb = TB(dut)
    c, t_steps, rng = tb.cfg, tb.T, random.Random(5)
    tb.set_idle_generator(lambda: random_pause(0.4, 11))
    tb.set_backpressure_generator(lambda: random_pause(0.4, 12))
    await tb.reset()
    w, b, _ = make_case(c, tb.B_BITS, tb.case)
    n_in = c["IH"] * c["IW"] * c["CIN"]
    densities = [0.0, 0.05, 0.2, 0.5, 1.0]
    images = [[sorted(rng.sample(range(n_in), round(rng.choice(densities) * n_in))) for _ in range(t_steps)]
              for _ in range(4)]
    images[1][t_steps // 2] = sorted(rng.sample(range(n_in), n_in // 2))   # reset in its scatter
    spikes, carried = [], 0
    for i, image in enumerate(images):
        currents = [golden_currents(c, w, b, events) for events in image]
        want, s = golden_membranes(currents, t_steps, tb.THRESHOLD)
        spikes += s
        carried += sum(int(np.sum((np.asarray(u) <= tb.THRESHOLD) & (np.asarray(u) != 0))) for u in want[:-1])
        for t, events in enumerate(image):
            if i == 1 and t == t_steps // 2:        # a reset inside a step: the image restarts
                await tb.start(list(events))
                await ClockCycles(dut.clk, 3 + scatter_cycles(c, events) // 2)
                await tb.reset()
                tb.source.clear()
                tb.sink.clear()
                for t2 in range(t_steps):
                    got = await tb.currents(image[t2])
                    assert got == want[t2], f"image {i} after reset, step {t2}: {got} != golden {want[t2]}"
                break
            got = await tb.currents(events)
            assert got == want[t], f"image {i} step {t}: membranes {got} != golden {want[t]}"
    every = np.concatenate([np.asarray(s).reshape(-1) for s in spikes])
    assert every.any() and not every.all(), "the data has no spike or only spikes"
    assert carried > 0, "no membrane carried to a next step"

    # Image boundary: every word holds its bias (word pos*G + g, lane p: b[g*P + p]).
    g_count = c["COUT"] // tb.P
    bias_words = [[int(b[(a % g_count) * tb.P + p]) for p in range(tb.P)] for a in range(tb.NW)]
    ram = dut.u_currents.u_acc               # fsvae_state_ram: LUTs up to 128 words, else block RAM
    mem = ram.g_lut.mem if tb.NW <= 128 else ram.g_block.mem
    stored = [unpack_lanes(int(mem[a].value), tb.P, tb.ACC_BITS) for a in range(tb.NW)]
    assert stored == bias_words, f"words after the last image {stored} != biases {bias_words}"
    got = await tb.currents([])                     # an empty step 0: u = b
    assert got == [v for word in bias_words for v in word]


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_convt_current")


@pytest.mark.parametrize(",".join(KEYS), list(CONFIGS))
def test_fsvae_convt_current(CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P):
    import runner
    c = dict(zip(KEYS, (CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P)))
    b_bits = CONFIGS[tuple(c.values())]
    params = {**c, "W_BITS": W_BITS, "B_BITS": b_bits, "ACC_BITS": acc_bits(c, b_bits)}
    runner.run_cases("fsvae_convt_current", SOURCES, params, CASES,
                     lambda d, case: write_memory_files(d, *make_case(c, b_bits, case)[:2], P, b_bits),
                     strings={"WEIGHT_FILE": WEIGHT_FILE, "BIAS_FILE": BIAS_FILE},
                     internals=True)            # reads the accumulator memory after the last image


@pytest.mark.parametrize(",".join(KEYS), list(FUSED_CONFIGS))
def test_fsvae_convt_current_fused(CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P):
    import runner
    c = dict(zip(KEYS, (CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P)))
    b_bits, t_steps, threshold = FUSED_CONFIGS[tuple(c.values())]
    params = {**c, "W_BITS": W_BITS, "B_BITS": b_bits, "ACC_BITS": acc_bits(c, b_bits, t_steps, threshold),
              "FUSED": 1, "T": t_steps, "THRESHOLD": threshold}
    runner.run_cases("fsvae_convt_current", SOURCES, params, CASES,
                     lambda d, case: write_memory_files(d, *make_case(c, b_bits, case)[:2], P, b_bits),
                     strings={"WEIGHT_FILE": WEIGHT_FILE, "BIAS_FILE": BIAS_FILE},
                     internals=True)            # reads the accumulator memory after the last image
