"""cocotb bench of hw/rtl/fsvae_output_sum.sv against the tail of golden.decode.

The reference is the contract's own order of work, not the module's algebra: per step the
output layer's currents I_t = golden.conv_transpose2d(s_t) + b, then m = sum_t coef[t] * I_t
and pixel = searchsorted(thresholds, m, side='right'); pixels are compared with ``==`` on
whole images.  Per build: the real decay coefficients round(0.8^(T-1-t) * 256), random
weights (with both int8 extremes), a bias, and a table of 255 sorted thresholds, written by
the pytest wrapper as $readmemh files (the weights in the generator's layout,
design.output_sum_weight); SB and SUM_BITS are sized as the generator sizes them.

Images (T steps of every mask word {w, mask}): "random" (a third of the neurons spike at a
step), "shuffled" (random, each step's words in a random order), "full" (every neuron
spikes at every step: Sc = sum(coef), the largest, which SB holds with no bit to spare), "max"
and "min" (the spikes that drive one interior pixel to the top and the bottom of the
bound analysis' range, sum(coef) * (b + sum of its positive / negative taps), so m spans
SUM_BITS), "quiet" (no spike: m = b * sum(coef) everywhere).  The threshold table holds the
random images' sums shifted by -1, 0 and +1 (ties count), repeated entries, and a spread.
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

from common import StreamTB, cycle_pause, pack_words, random_pause  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402
from cocotbext.axi import AxiStreamFrame  # noqa: E402

from fsvae_fpga.codegen.design import output_sum_weight  # noqa: E402
from fsvae_fpga.codegen.latency import output_sum_cycles  # noqa: E402
from fsvae_fpga.contract import golden  # noqa: E402
from fsvae_fpga.contract.hwmodel import current_range, signed_bits  # noqa: E402

W_BITS = 8
FRAC = 8                      # decay coefficients in 1/256
COEF_FILE, WEIGHT_FILE, THRESH_FILE = "coef.hex", "weights.hex", "thresh.hex"
IMAGES = ("random", "full", "max", "shuffled", "min", "quiet", "random")
KEYS = ("T", "CIN", "IH", "IW", "K", "PAD", "OUTPAD", "P")
CONFIGS = [
    (4, 8, 4, 4, 3, 1, 0, 4),      # the output layer's shape (k3 s1 p1), two channel groups
    (3, 4, 4, 6, 3, 1, 0, 4),      # one group, a wide input
    (5, 3, 1, 1, 2, 0, 0, 3),      # one mask word (NW = 1: Sc forwarded), P = 3 (tree padded), K = 2
    (2, 2, 3, 3, 5, 2, 1, 1),      # P = 1, K = 5, padding 2, output padding 1
    (2, 48, 2, 2, 3, 1, 0, 24),    # P = 24: the tree split (4 partial sums of 8, one all padding)
]
TIMEOUT_US = 2000


# --- the test data (one definition, used by the pytest wrapper and by the cocotb side) ---
def geometry(c: dict) -> dict:
    oh = c["IH"] - 1 - 2 * c["PAD"] + c["K"] + c["OUTPAD"]
    ow = c["IW"] - 1 - 2 * c["PAD"] + c["K"] + c["OUTPAD"]
    g = c["CIN"] // c["P"]
    return {"OH": oh, "OW": ow, "G": g, "NW": c["IH"] * c["IW"] * g}


def coefficients(t_steps: int) -> np.ndarray:
    return np.array([round(0.8 ** (t_steps - 1 - t) * (1 << FRAC)) for t in range(t_steps)], np.int64)


def layer(c: dict, seed: int = 3):
    """weight (CIN, 1, K, K) with both int8 extremes, bias (1,)."""
    rng = np.random.default_rng([seed, *(c[k] for k in KEYS)])
    w = rng.integers(-(1 << (W_BITS - 1)), 1 << (W_BITS - 1), (c["CIN"], 1, c["K"], c["K"]))
    w.flat[0], w.flat[-1] = -(1 << (W_BITS - 1)), (1 << (W_BITS - 1)) - 1
    return w.astype(np.int64), rng.integers(-300, 300, 1).astype(np.int64)


def widths(c: dict) -> dict:
    """As the generator sizes them: Sc holds sum(coef); m the output's sum_range (hwmodel's
    bound analysis, peak * sum(coef) either way) with the clipped thresholds' hi + 1."""
    coef = coefficients(c["T"])
    w, b = layer(c)
    lo, hi = current_range("convT", w, b, 0, 1)
    peak, sc = max(-lo, hi), int(coef.sum())
    return {"COEF_BITS": int(coef.max()).bit_length(), "SB": sc.bit_length(),
            "SUM_BITS": signed_bits(-peak * sc, peak * sc + 1), "lo": lo * sc, "hi": hi * sc}


def currents(c: dict, spikes: np.ndarray) -> np.ndarray:
    """The output layer's currents (T, OH, OW) as golden.decode computes them."""
    w, b = layer(c)
    return golden.conv_transpose2d(spikes, w, b, 1, c["PAD"], c["OUTPAD"])[..., 0]


def interior(c: dict) -> bool:
    """Whether the middle pixel (the max / min images' target) has every tap inside the input."""
    geo = geometry(c)
    rows = [geo["OH"] // 2 + c["PAD"] - k for k in range(c["K"])]
    cols = [geo["OW"] // 2 + c["PAD"] - k for k in range(c["K"])]
    return all(0 <= r < c["IH"] for r in rows) and all(0 <= x < c["IW"] for x in cols)


def make_case(c: dict, seed: int = 1):
    """thresholds (255,) sorted; images: list of (kind, spikes (T, IH, IW, CIN) 0/1)."""
    rng = np.random.default_rng([seed, *(c[k] for k in KEYS)])
    coef, geo = coefficients(c["T"]), geometry(c)
    shape = (c["T"], c["IH"], c["IW"], c["CIN"])
    w, _ = layer(c)
    # the pixel nearest the middle whose taps all land inside the input (if there is one)
    oy, ox = geo["OH"] // 2, geo["OW"] // 2
    images = []
    for kind in IMAGES:
        if kind in ("random", "shuffled"):
            s = (rng.random(shape) < 1 / 3).astype(np.int64)
        elif kind == "full":
            s = np.ones(shape, np.int64)
        elif kind == "quiet":
            s = np.zeros(shape, np.int64)
        else:                                   # max / min: one pixel's taps, all steps
            s = np.zeros(shape, np.int64)
            for ky in range(c["K"]):
                for kx in range(c["K"]):
                    iy, ix = oy + c["PAD"] - ky, ox + c["PAD"] - kx
                    if 0 <= iy < c["IH"] and 0 <= ix < c["IW"]:
                        s[:, iy, ix, :] = (w[:, 0, ky, kx] > 0) if kind == "max" else (w[:, 0, ky, kx] < 0)
        images.append((kind, s))
    # Thresholds: the random images' sums -1, 0, +1 (so m lands one above, on and one below an
    # entry), runs of equal entries (a table built from a float range has them), the rest
    # spread; all strictly between the smallest and the largest m of the images, so that
    # pixels 0 and 255 occur too.
    m_all = {k: np.tensordot(coef, currents(c, s), axes=(0, 0)).reshape(-1) for k, s in images}
    m_lo, m_hi = min(int(m.min()) for m in m_all.values()), max(int(m.max()) for m in m_all.values())
    picks = np.array([v + d for v in m_all["random"] for d in (-1, 0, 1) if m_lo < v + d < m_hi], np.int64)
    picks = rng.choice(picks, min(picks.size, 96), replace=False)
    dups = rng.choice(picks, 16)
    spread = rng.integers(m_lo + 1, m_hi, 255 - picks.size - dups.size)
    return np.sort(np.concatenate([picks, dups, spread])).astype(np.int64), images


def golden_pixels(c: dict, thr, spikes):
    m = np.tensordot(coefficients(c["T"]), currents(c, spikes), axes=(0, 0)).reshape(-1)
    return m, np.searchsorted(np.asarray(thr, dtype=np.int64), m, side="right").astype(np.uint8)


def write_memory_files(directory: Path, c: dict):
    wd, (w, _) = widths(c), layer(c)
    thr, _ = make_case(c)
    (directory / COEF_FILE).write_text("".join(f"{int(v):x}\n" for v in coefficients(c["T"])))
    (directory / WEIGHT_FILE).write_text("\n".join(pack_words(output_sum_weight(w, c["P"]), c["P"], W_BITS)) + "\n")
    (directory / THRESH_FILE).write_text("".join(f"{int(v) & ((1 << wd['SUM_BITS']) - 1):x}\n" for v in thr))


def bias_sum(c: dict) -> int:
    return int(layer(c)[1][0]) * int(coefficients(c["T"]).sum())


# --- cocotb side ---------------------------------------------------------------------------
def stalls():
    """Backpressure: the sink pauses 40 % of cycles."""
    return random_pause(0.4, 5)


class TB(StreamTB):
    def __init__(self, dut):
        super().__init__(dut, "s_axis_mask", "m_axis_pix", sink_bytes=4)
        self.c = {k: int(os.environ[f"FSVAE_{k}"]) for k in KEYS}
        self.geo = geometry(self.c)
        self.SB, self.SUM_BITS = int(os.environ["FSVAE_SB"]), int(os.environ["FSVAE_SUM_BITS"])
        self.rng = np.random.default_rng(5)
        self.count_done()

    async def reset(self):
        await super().reset()
        await RisingEdge(self.dut.clk)

    def words(self, s_t, shuffled: bool = False) -> list[int]:
        """One step's mask words {w, mask}: w = position*G + g, bit p = channel g*P + p."""
        p = self.c["P"]
        masks = s_t.reshape(-1, p)                              # (positions*G, P), channel-last
        words = [(w << p) | sum(int(b) << i for i, b in enumerate(row)) for w, row in enumerate(masks)]
        if shuffled:
            words = [words[i] for i in self.rng.permutation(len(words))]
        return words

    async def send_image(self, kind, spikes):
        for t in range(self.c["T"]):
            await self.source.send(AxiStreamFrame(tdata=self.words(spikes[t], kind == "shuffled")))

    async def recv_image(self, i, kind, m, want):
        frame = await self.sink.recv()
        got = np.frombuffer(bytes(frame.tdata), np.uint8)
        assert got.shape == want.shape, f"image {i}: {got.size} pixels, expected {want.size}"
        bad = got != want
        assert np.array_equal(got, want), (f"image {i} ({kind}): pixels differ at {np.flatnonzero(bad)[:8]}: got "
                                           f"{got[bad][:8]}, want {want[bad][:8]} (m {m[bad][:8]})")


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
@cocotb.parametrize(idle_inserter=[None, cycle_pause], backpressure_inserter=[None, stalls])
async def run_test(dut, idle_inserter, backpressure_inserter):
    tb = TB(dut)
    tb.set_idle_generator(idle_inserter)
    tb.set_backpressure_generator(backpressure_inserter)
    await tb.reset()
    thr, images = make_case(tb.c)
    wd = widths(tb.c)
    sums, hits = [], {"at": 0, "below": 0, "zero": 0, "full": 0}
    for kind, s in images:                       # every image queued: steps back to back
        await tb.send_image(kind, s)
    for i, (kind, s) in enumerate(images):
        m, want = golden_pixels(tb.c, thr, s)
        sums.append(m)
        hits["at"] += int(np.isin(m, thr).sum())
        hits["below"] += int(np.isin(m + 1, thr).sum())
        hits["zero"] += int((want == 0).sum())
        hits["full"] += int((want == 255).sum())
        await tb.recv_image(i, kind, m, want)
    # the data reaches what the widths are about
    assert hits["at"] > 0 and hits["below"] > 0 and hits["zero"] > 0 and hits["full"] > 0, hits
    sums = np.concatenate(sums)
    if interior(tb.c):                          # else no pixel gets every tap: the bound is not reached
        assert sums.min() == wd["lo"] and sums.max() == wd["hi"], "max / min images miss the bound analysis' ends"
        assert signed_bits(int(sums.min()), int(sums.max()) + 1) == tb.SUM_BITS
    assert int(coefficients(tb.c["T"]).sum()).bit_length() == tb.SB
    await ClockCycles(dut.clk, 4)
    assert tb.done_count == len(images)
    assert tb.source.empty() and tb.sink.empty()
    assert not int(dut.m_axis_pix_tvalid.value) and not int(dut.busy.value)
    assert int(dut.s_axis_mask_tready.value)


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_cycles(dut):
    """Without stalls busy is high for T*NW + OH*OW*K*K*G + 15 cycles (RTL header,
    latency.output_sum_cycles)."""
    tb = TB(dut)
    await tb.reset()
    thr, images = make_case(tb.c)
    kind, s = images[0]
    await tb.send_image(kind, s)
    cycles = 0
    while not int(dut.busy.value):
        await RisingEdge(dut.clk)
    while int(dut.busy.value):
        await RisingEdge(dut.clk)
        cycles += 1
    m, want = golden_pixels(tb.c, thr, s)
    await tb.recv_image(0, kind, m, want)
    c, geo = tb.c, tb.geo
    want_cycles = output_sum_cycles(c["T"], geo["NW"], geo["OH"] * geo["OW"], c["K"], geo["G"])
    assert cycles == want_cycles, f"{cycles} busy cycles, header (latency.output_sum_cycles) says {want_cycles}"


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_reset_mid_image(dut):
    """A reset in the accumulation and one in the convolution of an image: each restarts at
    step 0 with nothing left over."""
    tb = TB(dut)
    await tb.reset()
    thr, images = make_case(tb.c)
    nw, t_steps = tb.geo["NW"], tb.c["T"]
    for wait in (t_steps * nw // 2 + 1, t_steps * nw + 5):
        await tb.send_image(*images[1])
        await ClockCycles(dut.clk, wait)
        dut.rst.value = 1
        await RisingEdge(dut.clk)
        tb.source.clear()                  # cocotbext-axi keeps queued frames over a reset
        tb.sink.clear()
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 2)
        assert not int(dut.busy.value) and not int(dut.m_axis_pix_tvalid.value)
        kind, s = images[0]
        await tb.send_image(kind, s)
        m, want = golden_pixels(tb.c, thr, s)
        await tb.recv_image(0, kind, m, want)


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_output_sum")


@pytest.mark.parametrize(",".join(KEYS), CONFIGS)
def test_fsvae_output_sum(T, CIN, IH, IW, K, PAD, OUTPAD, P):
    import runner
    c = dict(zip(KEYS, (T, CIN, IH, IW, K, PAD, OUTPAD, P)))
    wd = widths(c)
    params = {**c, "W_BITS": W_BITS, "COEF_BITS": wd["COEF_BITS"], "SB": wd["SB"], "SUM_BITS": wd["SUM_BITS"]}
    bias = f"{wd['SUM_BITS']}'h{bias_sum(c) & ((1 << wd['SUM_BITS']) - 1):x}"
    assert runner.lint(SOURCES, "fsvae_output_sum", {**params, "BIAS_SUM": bias}) == ""
    build_name = "fsvae_output_sum" + "".join(f"_{k}{v}" for k, v in sorted(params.items()))
    test_dir = runner.BUILD / build_name / "run"
    test_dir.mkdir(parents=True, exist_ok=True)
    write_memory_files(test_dir, c)
    env = {f"FSVAE_{k}": str(v) for k, v in params.items()}
    runner.run("fsvae_output_sum", SOURCES, "test_fsvae_output_sum", test_dir,
               parameters={**params, "BIAS_SUM": bias, "COEF_FILE": f'"{COEF_FILE}"',
                           "WEIGHT_FILE": f'"{WEIGHT_FILE}"', "THRESH_FILE": f'"{THRESH_FILE}"'},
               extra_env=env, build_name=build_name)
