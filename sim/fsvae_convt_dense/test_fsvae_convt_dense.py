"""cocotb bench of hw/rtl/fsvae_convt_dense.sv (the dense transposed-convolution current
engine) against golden.conv_transpose2d.

The input is what the previous layer's fsvae_lif_update (MASKS = 1) sends: every mask word
of a step, {w, mask}.  Steps at spike densities 0 %, 10 %, 50 % and 100 %; per step the
streamed currents must equal golden.conv_transpose2d (``==`` on the whole step), done must
pulse once, and without idle and backpressure ``cycles`` must equal ``expected_cycles``: a
cycle model of the engine's schedule (collect, one iteration per input channel and kernel
row, a row's last iteration held while the drain is busy, the last row's drain), written
from the RTL header, not read from the RTL.  Idle and backpressure (cycle_pause, random)
must not change the currents.  run_reset_mid_step: a reset inside the compute, then exact
steps.

Weight sets: "random" (int8 weights, small biases) and "extreme" (channels of all +127 or
all -127 weights, biases at the edge of B_BITS): ACC_BITS comes from
hwmodel.current_range over both, and the extreme set needs every bit of it.  Geometries: the
decoder's (K 3, S 2, PAD 1, OUTPAD 1), clipped outputs, stride 1, K 4, IH != IW, and K 1
(rows that no kernel row reaches: bias only); G and GIN of 1 and 2.
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
from cocotbext.axi import AxiStreamFrame  # noqa: E402

from fsvae_fpga.contract import golden  # noqa: E402
from fsvae_fpga.contract.hwmodel import current_range, signed_bits  # noqa: E402

W_BITS = 8
DENSITIES = [0.5, 1.0, 0.0, 0.1, 1.0, 0.0, 0.5, 0.1]
WEIGHT_FILE, BIAS_FILE = "weights.hex", "bias.hex"
KEYS = ("CIN", "COUT", "IH", "IW", "K", "S", "PAD", "OUTPAD", "P", "PIN", "XT")
CASES = ("random", "extreme")

# (CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, PIN, XT) -> bias width
CONFIGS = {
    (4, 4, 2, 2, 3, 2, 1, 1, 2, 2, 1): 16,           # the decoder's geometry, G = 2, GIN = 2
    (4, 4, 2, 2, 3, 2, 1, 1, 2, 2, 2): 16,           # two column tiles of 2
    (4, 4, 4, 4, 3, 2, 1, 1, 4, 4, 1): 20,           # G = 1, GIN = 1
    (4, 4, 4, 4, 3, 2, 1, 1, 4, 4, 4): 20,           # four tiles of 2 columns
    (2, 4, 3, 3, 3, 2, 1, 0, 2, 1, 1): 16,           # 3x3 -> 5x5 (clipped), PIN = 1
    (2, 4, 3, 3, 3, 1, 1, 0, 2, 2, 1): 16,           # stride 1
    (2, 4, 3, 3, 3, 1, 1, 0, 2, 2, 3): 16,           # stride 1, three tiles of 1 column
    (2, 4, 2, 3, 4, 2, 1, 1, 2, 2, 1): 16,           # K = 4, IH != IW: 2x3 -> 5x7
    (2, 4, 3, 2, 4, 2, 1, 0, 2, 2, 2): 16,           # K = 4: 3x2 -> 6x4 in two tiles
    (2, 2, 3, 3, 1, 2, 0, 0, 2, 2, 1): 12,           # K = 1: odd rows and columns bias only
    (8, 8, 8, 8, 3, 2, 1, 1, 8, 4, 1): 24,           # a row drains 16 words in 8-16 iterations: waits
    (8, 8, 8, 8, 3, 2, 1, 1, 8, 4, 2): 24,           # the same in two tiles
}


def out_size(n, k, s, pad, outpad):
    return (n - 1) * s - 2 * pad + k + outpad


def shape(c: dict) -> tuple[int, int]:
    return (out_size(c["IH"], c["K"], c["S"], c["PAD"], c["OUTPAD"]),
            out_size(c["IW"], c["K"], c["S"], c["PAD"], c["OUTPAD"]))


# --- the test data (one definition, used by the pytest wrapper and by the cocotb side) ---
def make_case(c: dict, b_bits: int, kind: str, seed: int = 1):
    """weight (CIN, COUT, K, K) int8, bias (COUT,) in the B_BITS range, steps of spikes (CIN, IH, IW)."""
    cin, cout, k = c["CIN"], c["COUT"], c["K"]
    rng = np.random.default_rng([seed, *(c[key] for key in KEYS), CASES.index(kind)])
    w, b = convt_weights(rng, kind, cin, cout, k, b_bits)
    steps = [(rng.random((cin, c["IH"], c["IW"])) < d).astype(np.int64) for d in DENSITIES]
    return w, b, steps


def golden_currents(c: dict, w, b, spikes) -> list[int]:
    """One step's currents, channel-last flattened (the output stream's order)."""
    x = spikes.transpose(1, 2, 0)[None]            # (1, IH, IW, CIN)
    return [int(v) for v in golden.conv_transpose2d(x, w, b, c["S"], c["PAD"], c["OUTPAD"])[0].reshape(-1)]


def mask_words(c: dict, spikes) -> list[int]:
    """The step as fsvae_lif_update MASKS = 1 sends it: word w = (ih*IW + iw)*GIN + gi, {w, mask}."""
    pin = c["PIN"]
    out = []
    for ih in range(c["IH"]):
        for iw in range(c["IW"]):
            for gi in range(c["CIN"] // pin):
                w = (ih * c["IW"] + iw) * (c["CIN"] // pin) + gi
                mask = sum(int(spikes[gi * pin + p, ih, iw]) << p for p in range(pin))
                out.append((w << pin) | mask)
    return out


def acc_bits(c: dict, b_bits) -> int:
    lo, hi = 0, 0
    for kind in CASES:
        w, b, _ = make_case(c, b_bits, kind)
        clo, chi = current_range("convT", w, b, 0, 1)
        lo, hi = min(lo, clo), max(hi, chi)
    return signed_bits(lo, hi)


def write_memory_files(directory: Path, w, b, p, b_bits):
    """WEIGHT_FILE: line ci*K + kh, field c*K + kw = W[ci][c][kh][kw]; BIAS_FILE: line g."""
    cin, cout, k, _ = w.shape
    rows = w.transpose(0, 2, 1, 3).reshape(cin * k, cout * k)
    (directory / WEIGHT_FILE).write_text("\n".join(pack_words(rows, cout * k, W_BITS)) + "\n")
    (directory / BIAS_FILE).write_text("\n".join(pack_words(b, p, b_bits)) + "\n")


def tile_iterations(c: dict) -> list[int]:
    """Iterations per (output row, column tile), in order: input channels x the kernel rows
    that reach the row (1 if none)."""
    oh, _ = shape(c)
    out = []
    for o in range(oh):
        reach = sum(1 for k in range(c["K"]) if (v := o + c["PAD"] - k) >= 0 and v % c["S"] == 0
                    and v // c["S"] < c["IH"])
        out += [c["CIN"] * reach if reach else 1] * c["XT"]
    return out


def expected_cycles(c: dict) -> int:
    """Busy cycles of a step without idle or backpressure, by the schedule the RTL header
    describes: NWIN collect cycles; then per cycle one iteration is issued unless it is a
    tile's last and the drain is not empty or is about to be loaded (a tile's last iteration
    in stage 1); stage 1 loads the drain with OW/XT*G words, which leave one a cycle; busy
    ends with the last word."""
    ow = shape(c)[1]
    nwin = c["IH"] * c["IW"] * c["CIN"] // c["PIN"]
    ndr = ow // c["XT"] * c["COUT"] // c["P"]
    tiles = tile_iterations(c)
    its = [(r == len(tiles) - 1, i == n - 1) for r, n in enumerate(tiles) for i in range(n)]   # (final tile, last)
    i, v1_last, v1_final, dr_left, dr_final, cycles = 0, False, False, 0, False, nwin
    while True:
        cycles += 1
        issue = False
        if i < len(its):
            final_row, last = its[i]
            issue = not last or (dr_left == 0 and not v1_last)
        final_hs = dr_left > 0 and dr_final and dr_left == 1
        if final_hs:
            return cycles
        load, load_final = v1_last, v1_final
        v1_last, v1_final = (its[i][1], its[i][0] and its[i][1]) if issue else (False, False)
        i += issue
        if load:
            dr_left, dr_final = ndr, load_final
        elif dr_left:
            dr_left -= 1


# --- cocotb side ---------------------------------------------------------------------------
class TB(EngineTB):
    def __init__(self, dut):
        super().__init__(dut, "m_axis_cur", source="s_axis_mask")
        env = os.environ
        self.cfg = {k: int(env[f"FSVAE_{k}"]) for k in KEYS}
        oh, ow = shape(self.cfg)
        self.P, self.NW = self.cfg["P"], oh * ow * self.cfg["COUT"] // self.cfg["P"]
        self.B_BITS, self.ACC_BITS = int(env["FSVAE_B_BITS"]), int(env["FSVAE_ACC_BITS"])
        self.case = env["FSVAE_CASE"]

    def frame(self, spikes) -> AxiStreamFrame:
        """A step as mask words (fsvae_lif_update MASKS = 1), not event indices."""
        return AxiStreamFrame(tdata=mask_words(self.cfg, spikes))

    async def currents(self, spikes) -> list[int]:
        await self.start(spikes)
        frame = await self.sink.recv()
        await self.wait_idle()
        assert len(frame.tdata) == self.NW, f"{len(frame.tdata)} current beats, want {self.NW}"
        return [v for word in frame.tdata for v in unpack_lanes(word, self.P, self.ACC_BITS)]

    def data(self):
        w, b, steps = make_case(self.cfg, self.B_BITS, self.case)
        return steps, [golden_currents(self.cfg, w, b, s) for s in steps]


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
        assert signed_bits(int(cur.min()), int(cur.max())) == tb.ACC_BITS
    for t, (spikes, want) in enumerate(zip(steps, expected)):
        done_before = tb.done_count
        got = await tb.currents(spikes)
        assert got == want, f"step {t}: currents {got} != golden {want}"
        assert tb.done_count == done_before + 1, f"step {t}: done pulsed {tb.done_count - done_before} times"
        if idle_inserter is None and backpressure_inserter is None:
            cycles, model = int(dut.cycles.value), expected_cycles(tb.cfg)
            assert cycles == model, f"step {t}: {cycles} cycles, the cycle model {model}"
    await ClockCycles(dut.clk, 4)
    assert tb.source.empty() and tb.sink.empty()
    assert not int(dut.m_axis_cur_tvalid.value) and not int(dut.busy.value)


@cocotb.test()
async def run_random_stalls(dut):
    """Random idle and backpressure (70 % paused): the same currents."""
    tb = TB(dut)
    tb.set_idle_generator(lambda: random_pause(0.7, 21))
    tb.set_backpressure_generator(lambda: random_pause(0.7, 22))
    await tb.reset()
    steps, expected = tb.data()
    for t, (spikes, want) in enumerate(zip(steps, expected)):
        got = await tb.currents(spikes)
        assert got == want, f"step {t} (random stalls): {got} != golden {want}"


@cocotb.test()
async def run_reset_mid_step(dut):
    """A reset in the middle of the compute: the next steps are exact."""
    tb = TB(dut)
    await tb.reset()
    steps, expected = tb.data()
    await tb.start(steps[1])
    await ClockCycles(dut.clk, expected_cycles(tb.cfg) // 2)
    await tb.reset()                    # the engine; the bus models only drop the frame in flight
    tb.source.clear()
    tb.sink.clear()
    rng = random.Random(4)
    for t in rng.sample(range(len(steps)), 3):
        got = await tb.currents(steps[t])
        assert got == expected[t], f"after reset, step {t}: {got} != {expected[t]}"


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_convt_dense")


@pytest.mark.parametrize(",".join(KEYS), list(CONFIGS))
def test_fsvae_convt_dense(CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, PIN, XT):
    import runner
    c = dict(zip(KEYS, (CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, PIN, XT)))
    b_bits = CONFIGS[tuple(c.values())]
    params = {**c, "W_BITS": W_BITS, "B_BITS": b_bits, "ACC_BITS": acc_bits(c, b_bits)}
    runner.run_cases("fsvae_convt_dense", SOURCES, params, CASES,
                     lambda d, case: write_memory_files(d, *make_case(c, b_bits, case)[:2], P, b_bits),
                     strings={"WEIGHT_FILE": WEIGHT_FILE, "BIAS_FILE": BIAS_FILE})


def test_cycle_model_counts_the_waits():
    """The cycle model is not the plain sum: rows whose drain outlasts their iterations wait."""
    c = dict(zip(KEYS, (8, 8, 8, 8, 3, 2, 1, 1, 8, 4, 1)))
    oh, ow = shape(c)
    plain = c["IH"] * c["IW"] * c["CIN"] // c["PIN"] + sum(tile_iterations(c)) + 1 + ow * c["COUT"] // c["P"]
    assert expected_cycles(c) > plain
