"""cocotb bench of hw/rtl/fsvae_membrane_output.sv against the tail of golden.decode.

Per build: the real decay coefficients round(0.8^(T-1-t) * 256) and a table of 255 sorted
thresholds (written by the pytest wrapper as $readmemh files).  Each simulation sends
several images (T steps of NPOS currents each, back to back) and compares the pixel words
with numpy's ``searchsorted(thresholds, m, side='right')`` (``==``, byte for byte).

Images: "random" (uniform currents over the whole CUR_BITS range), "edges" (currents chosen
so m lands exactly on, one below and one above table entries, including repeated
thresholds and m below/above the whole table: pixels 0 and 255), "extreme" (every current
at the CUR_BITS minimum or maximum: m reaches both ends of SUM_BITS, which is exactly wide
enough, so a narrower sum would fail).
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

from common import StreamTB, cycle_pause, random_pause  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402
from cocotbext.axi import AxiStreamFrame  # noqa: E402

from fsvae_fpga.codegen.rtl import pack_lanes  # noqa: E402

from fsvae_fpga.contract.hwmodel import signed_bits  # noqa: E402

CUR_BITS = 12
FRAC = 8                      # decay coefficients in 1/256
COEF_FILE, THRESH_FILE = "coef.hex", "thresh.hex"
IMAGES = ("random", "edges", "extreme", "random")
CONFIGS = [(4, 16, 1), (16, 64, 4), (3, 8, 8)]    # (T, NPOS, LANES); the last has one RAM word


# --- the test data (one definition, used by the pytest wrapper and by the cocotb side) ---
def coefficients(t_steps: int) -> np.ndarray:
    return np.array([round(0.8 ** (t_steps - 1 - t) * (1 << FRAC)) for t in range(t_steps)], np.int64)


def widths(t_steps: int):
    coef = coefficients(t_steps)
    lo, hi = -(1 << (CUR_BITS - 1)), (1 << (CUR_BITS - 1)) - 1
    return int(coef.max()).bit_length(), signed_bits(int(coef.sum()) * lo, int(coef.sum()) * hi)


def make_case(t_steps: int, npos: int, seed: int = 1):
    """thresholds (255,) sorted, images: list of currents (T, NPOS), all int64."""
    rng = np.random.default_rng([seed, t_steps, npos])
    coef = coefficients(t_steps)
    lo, hi = -(1 << (CUR_BITS - 1)), (1 << (CUR_BITS - 1)) - 1
    m_lo, m_hi = int(coef.sum()) * lo, int(coef.sum()) * hi
    images = []
    for kind in IMAGES:
        if kind == "extreme":
            cur = np.where(rng.random((t_steps, npos)) < 0.5, lo, hi)
            cur[:, 0], cur[:, 1] = lo, hi
        elif kind == "edges":
            cur = rng.integers(lo // 4, hi // 4 + 1, (t_steps, npos))
        else:
            cur = rng.integers(lo, hi + 1, (t_steps, npos))
        images.append(cur.astype(np.int64))
    # Thresholds: the "edges" image's sums shifted by -1, 0, +1 (so m lands one above, on and
    # one below an entry), runs of equal entries (a table built from a float range has
    # them), the rest a random spread over the middle half of the m range; m outside the
    # table's span (pixels 0 and 255) comes from the "extreme" image.
    m_edges = np.tensordot(coef, images[IMAGES.index("edges")], axes=(0, 0))
    picks = rng.choice(m_edges, min(npos, 96), replace=False) + rng.integers(-1, 2, min(npos, 96))
    dups = rng.choice(picks, 16)
    spread = rng.integers(m_lo // 2, m_hi // 2, 255 - picks.size - dups.size)
    thr = np.sort(np.concatenate([picks, dups, spread]))
    return thr.astype(np.int64), images


def currents_for_sum(coef, m: int) -> np.ndarray:
    """Currents (T,) in the CUR_BITS range with sum_t coef[t] * x[t] == m exactly: the early
    steps share the bulk evenly, the last two (coefficients 205 and 256, coprime) solve the
    rest as a linear Diophantine equation with the smallest currents."""
    lo, hi = -(1 << (CUR_BITS - 1)), (1 << (CUR_BITS - 1)) - 1
    coef = [int(c) for c in coef]
    x = [0] * len(coef)
    for i in range(len(coef) - 2):
        x[i] = max(lo, min(hi, round(m / sum(coef))))
    r = m - sum(c * v for c, v in zip(coef, x))
    c1, c2 = coef[-2], coef[-1]
    inv = pow(c1, -1, c2)                       # c1 * inv = 1 (mod c2)
    b0 = (r * inv) % c2                         # c1 * b0 = r (mod c2)
    a0 = (r - c1 * b0) // c2
    # every solution: (b, a) = (b0 + c2 k, a0 - c1 k); take the k with the smallest currents
    k = min(range(-(hi // c1) - 2, hi // c1 + 3), key=lambda k: max(abs(b0 + c2 * k), abs(a0 - c1 * k)))
    x[-2], x[-1] = b0 + c2 * k, a0 - c1 * k
    assert all(lo <= v <= hi for v in x) and sum(c * v for c, v in zip(coef, x)) == m, (m, x)
    return np.array(x, np.int64)


def every_threshold_images(coef, thr, npos: int) -> list[np.ndarray]:
    """Images (T, NPOS) whose membrane sums are thr[p] - 1, thr[p] and thr[p] + 1 for every
    table entry p: each tie (m == threshold: the pixel counts it) and its neighbours."""
    sums = [int(v) + d for v in thr for d in (-1, 0, 1)]
    sums += [sums[-1]] * (-len(sums) % npos)        # fill the last image
    cols = [currents_for_sum(coef, m) for m in sums]
    return [np.stack(cols[i:i + npos], axis=1) for i in range(0, len(cols), npos)]


def golden_pixels(coef, thr, cur):
    """Exactly golden.decode's last two lines."""
    m = np.tensordot(np.asarray(coef, dtype=np.int64), cur, axes=(0, 0))
    return m, np.searchsorted(np.asarray(thr, dtype=np.int64), m, side="right").astype(np.uint8)


def write_memory_files(directory: Path, coef, thr, sum_bits):
    (directory / COEF_FILE).write_text("".join(f"{int(c):x}\n" for c in coef))
    mask = (1 << sum_bits) - 1
    (directory / THRESH_FILE).write_text("".join(f"{int(v) & mask:x}\n" for v in thr))


# --- cocotb side ---------------------------------------------------------------------------
def stalls():
    """Backpressure: the sink pauses 40 % of cycles."""
    return random_pause(0.4, 5)


class TB(StreamTB):
    def __init__(self, dut):
        super().__init__(dut, "s_axis_cur", "m_axis_pix", sink_bytes=4)
        env = os.environ
        self.T, self.NPOS, self.LANES = int(env["FSVAE_T"]), int(env["FSVAE_NPOS"]), int(env["FSVAE_LANES"])
        self.SUM_BITS = int(env["FSVAE_SUM_BITS"])
        self.count_done()

    async def reset(self):
        await super().reset()
        await RisingEdge(self.dut.clk)

    def beats(self, cur_step):
        return [pack_lanes(row, CUR_BITS) for row in np.asarray(cur_step).reshape(-1, self.LANES)]

    async def send_image(self, cur):
        for t in range(self.T):
            await self.source.send(AxiStreamFrame(tdata=self.beats(cur[t])))


@cocotb.test()
@cocotb.parametrize(idle_inserter=[None, cycle_pause], backpressure_inserter=[None, stalls])
async def run_test(dut, idle_inserter, backpressure_inserter):
    tb = TB(dut)
    if idle_inserter:
        tb.source.set_pause_generator(idle_inserter())
    if backpressure_inserter:
        tb.sink.set_pause_generator(backpressure_inserter())
    await tb.reset()
    coef = coefficients(tb.T)
    thr, images = make_case(tb.T, tb.NPOS)
    hits = {"at": 0, "below": 0, "zero": 0, "full": 0}
    for i, cur in enumerate(images):
        m, want = golden_pixels(coef, thr, cur)
        for d, key in ((0, "at"), (1, "below")):
            hits[key] += int(np.isin(m + d, thr).sum())
        hits["zero"] += int((want == 0).sum())
        hits["full"] += int((want == 255).sum())
        if IMAGES[i] == "extreme":
            assert signed_bits(int(m.min()), int(m.max())) == tb.SUM_BITS
        await tb.send_image(cur)
        frame = await tb.sink.recv()
        got = np.frombuffer(bytes(frame.tdata), np.uint8)
        assert got.shape == want.shape, f"image {i}: {got.size} pixels, expected {want.size}"
        assert np.array_equal(got, want), (f"image {i} ({IMAGES[i]}): pixels differ at "
                                           f"{np.flatnonzero(got != want)[:8]}: got {got[got != want][:8]}, "
                                           f"want {want[got != want][:8]} (m {m[got != want][:8]})")
    assert hits["at"] > 0 and hits["below"] > 0 and hits["zero"] > 0 and hits["full"] > 0, hits
    await ClockCycles(dut.clk, 4)
    assert tb.done_count == len(images)
    assert tb.source.empty() and tb.sink.empty()
    assert not int(dut.m_axis_pix_tvalid.value) and not int(dut.busy.value)
    assert int(dut.s_axis_cur_tready.value)


@cocotb.test()
async def run_every_threshold(dut):
    """Directed ties: sums exactly on, one below and one above each of the 255 thresholds
    (a tie counts: pixel = #{p : m >= thr[p]}), under backpressure."""
    tb = TB(dut)
    tb.sink.set_pause_generator(stalls())
    await tb.reset()
    coef = coefficients(tb.T)
    thr, _ = make_case(tb.T, tb.NPOS)
    seen = set()
    for i, cur in enumerate(every_threshold_images(coef, thr, tb.NPOS)):
        m, want = golden_pixels(coef, thr, cur)
        seen.update(int(v) for v in m)
        await tb.send_image(cur)
        frame = await tb.sink.recv()
        got = np.frombuffer(bytes(frame.tdata), np.uint8)
        assert np.array_equal(got, want), (f"tie image {i}: sums {m[got != want][:8]} give pixels "
                                           f"{got[got != want][:8]}, want {want[got != want][:8]}")
    assert all(int(v) + d in seen for v in thr for d in (-1, 0, 1)), "a threshold was not exercised"


@cocotb.test()
async def run_cycles(dut):
    """Without stalls busy is high for T*NPOS/LANES + NPOS + 10 cycles (RTL header)."""
    tb = TB(dut)
    await tb.reset()
    coef = coefficients(tb.T)
    thr, images = make_case(tb.T, tb.NPOS)
    await tb.send_image(images[0])
    cycles = 0
    while not int(dut.busy.value):
        await RisingEdge(dut.clk)
    while int(dut.busy.value):
        await RisingEdge(dut.clk)
        cycles += 1
    frame = await tb.sink.recv()
    assert np.array_equal(np.frombuffer(bytes(frame.tdata), np.uint8), golden_pixels(coef, thr, images[0])[1])
    want = tb.T * tb.NPOS // tb.LANES + tb.NPOS + 10
    assert cycles == want, f"{cycles} busy cycles, header says {want}"


@cocotb.test()
async def run_reset_mid_image(dut):
    """A reset in the middle of an image restarts at step 0 with nothing left over."""
    tb = TB(dut)
    await tb.reset()
    coef = coefficients(tb.T)
    thr, images = make_case(tb.T, tb.NPOS)
    await tb.send_image(images[0])
    await ClockCycles(dut.clk, (tb.T * tb.NPOS // tb.LANES) // 2 + 1)
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    tb.source.clear()                  # cocotbext-axi keeps queued frames over a reset
    tb.sink.clear()
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    assert not int(dut.busy.value) and not int(dut.m_axis_pix_tvalid.value)
    await tb.send_image(images[1])
    frame = await tb.sink.recv()
    assert np.array_equal(np.frombuffer(bytes(frame.tdata), np.uint8), golden_pixels(coef, thr, images[1])[1])


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_membrane_output")


@pytest.mark.parametrize("T,NPOS,LANES", CONFIGS)
def test_fsvae_membrane_output(T, NPOS, LANES):
    import runner
    coef_bits, sum_bits = widths(T)
    params = {"T": T, "NPOS": NPOS, "LANES": LANES, "CUR_BITS": CUR_BITS, "SUM_BITS": sum_bits,
              "COEF_BITS": coef_bits}
    assert runner.lint(SOURCES, "fsvae_membrane_output", params) == ""
    build_name = "fsvae_membrane_output" + "".join(f"_{k}{v}" for k, v in sorted(params.items()))
    thr, _ = make_case(T, NPOS)
    test_dir = runner.BUILD / build_name / "run"
    test_dir.mkdir(parents=True, exist_ok=True)
    write_memory_files(test_dir, coefficients(T), thr, sum_bits)
    env = {f"FSVAE_{k}": str(v) for k, v in params.items()}
    runner.run("fsvae_membrane_output", SOURCES, "test_fsvae_membrane_output", test_dir,
               parameters={**params, "COEF_FILE": f'"{COEF_FILE}"', "THRESH_FILE": f'"{THRESH_FILE}"'},
               extra_env=env, build_name=build_name)
