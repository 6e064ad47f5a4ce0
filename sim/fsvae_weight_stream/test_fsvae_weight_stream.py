"""cocotb bench of hw/rtl/fsvae_weight_stream.sv: weight rows streamed from DDR over AXI4.

The DUT reads a memory image of random bytes (IN rows of ROW_BYTES, the padding past each
row's useful bytes random too, so a word read from the wrong place or a dropped word that
leaks out shows) through sim/axi_read_memory.py, the DDR model: latency 60 cycles, a cap of
0.75 beats per cycle, random AR and R stalls where swept; its protocol checks (INCR, arsize,
4 KB, inside the image, AR stable until accepted) fail the test.  Events are random steps
(empty steps, repeated indices, index 0 and IN-1 in every run) with random input idle; the
event consumer and the weight consumer have independent random backpressure (the weight
consumer's tready pattern is random and does not look at tvalid).  Checked with ==:

* the forwarded events equal the input ones, step by step (tdata, tlast, tuser);
* the words equal the rows' words in event order, ROW_WORDS per non-empty event (the words
  of a row's last beat past ROW_WORDS dropped; wide words assembled from beats, low first);
* tvalid never drops, nor tdata changes, before a word is taken (AXI-stream rule);
* `beats` (and the model's count) is exactly the beats needed, ceil(row bytes / 8) per row;
  nothing is left over and the credits are all back at the end;
* an R beat with SLVERR sets `error`, `clear` zeroes it and the counters.

Prefetch case (no stalls, no idle, no backpressure, latency 60, cap 0.75): back-to-back
events (4 steps); the weight consumer's tready is high from the run's start (the cycle
`clear` is pulsed, with the first event offered) until it has all its words.  The bound
proved, for rows of at least 64 words narrower than a beat (the defaults' configuration,
67 words of 32 bits): starve_cycles <= latency + 10 over the whole run.  Argument: the
first row's first word is taken latency + 6 cycles after its event is accepted (event ->
AR handshake 3 cycles, AR -> first R beat the latency, R beat -> word taken 3 cycles),
and the source model takes its first event up to 3 cycles after the start; from then on
the memory supplies more than the consumer's 1 word per cycle (4 outstanding bursts of
16 + 16 + 2 beats: ~45 beats per ~81-cycle round trip = 0.56 beats = 1.1 words per cycle;
the cap would allow 1.5), the requests run ahead of the consumer by the data FIFO's 256
beats, so the FIFO never runs dry again.  Generally, with s = min(1, the supply in words
per cycle) (Geometry.supply_words: the cap, MAX_OUTSTANDING * burst or FIFO_BEATS beats
per round trip, whichever binds), N words cost at most latency + 10 + N (1/s - 1) starved
cycles, which the bench checks in every configuration, along with a sustained rate of at
least 90 % of s (words as wide as a beat or wider cannot come once a cycle at 0.75; short
rows, a small FIFO or few outstanding bursts are latency-bound).

Parameters swept by pytest (4 builds): WORD_BITS 32, 64, 128; rows of 1 beat (with a dropped
word), 20 beats (a partial last burst), 128 beats (8 bursts, 2 beats per word) and 34 beats
(16 + 16 + 2, a half-used last beat); ROW_BYTES a power of two below a burst, multiples of
128 that are not powers of two, and 1024; small FIFOs (16 and 32 beats, 4 events), 2 and 8
outstanding bursts in some, the defaults in the last.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "sim", ROOT / "sw"):   # the simulator process does not run conftest.py
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from axi_read_memory import AxiReadMemory  # noqa: E402
from common import event_frame, random_pause  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.clock import Clock  # noqa: E402
from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402
from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource  # noqa: E402

TIMEOUT_US = 2000           # a lost word fails the test instead of hanging it
BASE = 0x3000_0000          # 4 KB aligned, as the generator places a layer
LATENCY = 60
CAP = 0.75
DATA_BITS = 64
MAX_BURST = 16
CONFIGS = [
    # 1 beat per row, its second word dropped; rows 8 bytes apart; a 16-beat FIFO
    dict(IN=50, ROW_WORDS=1, WORD_BITS=32, ROW_BYTES=8, FIFO_BEATS=16, MAX_OUTSTANDING=8),
    # 20 beats per row: 16 + 4; stride 3 bursts (not a power of two); a 4-event FIFO; 8
    # outstanding bursts (the HP port's read acceptance) cover the latency at the cap
    dict(IN=37, ROW_WORDS=20, WORD_BITS=64, ROW_BYTES=384, EV_DEPTH=4, MAX_OUTSTANDING=8),
    # 128 beats per row, 2 beats per word: 8 bursts; credits (32 beats) and 2 outstanding bind
    dict(IN=20, ROW_WORDS=64, WORD_BITS=128, ROW_BYTES=1024, FIFO_BEATS=32, MAX_OUTSTANDING=2),
    # 34 beats per row (16 + 16 + 2), the last beat holds one word; the defaults
    dict(IN=64, ROW_WORDS=67, WORD_BITS=32, ROW_BYTES=384),
]
DEFAULTS = dict(FIFO_BEATS=256, MAX_OUTSTANDING=4, EV_DEPTH=32)


class Geometry:
    """The configuration's derived sizes (the module's localparams)."""

    def __init__(self, env=os.environ):
        g = lambda k: int(env.get(f"FSVAE_{k}", DEFAULTS.get(k, 0)))   # noqa: E731
        self.IN, self.G, self.WB, self.RB = g("IN"), g("ROW_WORDS"), g("WORD_BITS"), g("ROW_BYTES")
        self.FIFO, self.OUTST, self.EVD = g("FIFO_BEATS"), g("MAX_OUTSTANDING"), g("EV_DEPTH")
        self.beat_bytes = DATA_BITS // 8
        self.word_bytes = self.WB // 8
        self.row_beats = -(-self.G * self.word_bytes // self.beat_bytes)
        self.bursts = -(-self.row_beats // MAX_BURST)

    def supply_beats(self, latency=LATENCY, cap=CAP) -> float:
        """Beats per cycle the memory can deliver to this streamer, bounded by the cap, by the
        outstanding bursts (Little: in flight / round trip) and by the credits."""
        burst = self.row_beats / self.bursts                         # average burst length
        trip = latency + burst / cap + 6                             # AR -> last beat -> next AR
        return min(cap, min(self.OUTST * burst, self.FIFO) / trip)

    def supply_words(self, **kw) -> float:
        return self.supply_beats(**kw) * self.G / self.row_beats


def make_image(geo: Geometry, rng: random.Random) -> bytearray:
    return bytearray(rng.getrandbits(8) for _ in range(geo.IN * geo.RB))


def row_words(geo: Geometry, image: bytes, i: int) -> list[int]:
    off = i * geo.RB
    return [int.from_bytes(image[off + g * geo.word_bytes: off + (g + 1) * geo.word_bytes], "little")
            for g in range(geo.G)]


def make_steps(geo: Geometry, rng: random.Random, n_steps: int, max_events: int) -> list[list[int]]:
    """Random steps: some empty, repeated indices, and indices 0 and IN-1 somewhere."""
    steps = []
    for s in range(n_steps):
        if s % 4 == 1:
            steps.append([])
            continue
        n = rng.randint(1, max_events)
        ev = [rng.randrange(geo.IN) for _ in range(n)]
        if n > 1 and rng.random() < 0.5:
            ev[-1] = ev[0]                                          # a repeat
        steps.append(ev)
    steps[0] = [0] + steps[0]
    steps[-1] = steps[-1] + [geo.IN - 1, geo.IN - 1]
    return steps


class TB:
    def __init__(self, dut, image: bytearray, latency=LATENCY, cap=CAP, ar_pause=None, r_pause=None,
                 slverr=None):
        self.dut = dut
        self.geo = Geometry()
        self.cycle = 0
        self.words: list[int] = []
        self.word_cycles: list[int] = []
        self.w_pause = None                      # the weight consumer's tready pattern
        self.w_ready_from = 0                    # ... the cycle it starts
        self.w_limit = 1 << 30                   # ... and the words it wants (then tready stays low)
        dut.rst.value = 1
        dut.clear.value = 0
        dut.base_addr.value = BASE
        dut.m_axis_weight_tready.value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_event"), dut.clk, dut.rst, byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_event"), dut.clk, dut.rst, byte_lanes=1)
        self.mem = AxiReadMemory(dut, "m_axi", dut.clk, dut.rst, image, base=BASE, latency=latency,
                                 beats_per_cycle=cap, max_outstanding=8, arready_pause=ar_pause,
                                 rvalid_pause=r_pause, slverr=slverr)
        cocotb.start_soon(self._consumer())

    async def _consumer(self):
        """The weight consumer: tready from its own pattern (paused or not, blind to tvalid);
        records the words and checks that a valid word holds until taken."""
        dut = self.dut
        held = None                               # the word offered and not taken at the last edge
        ready = False
        while True:
            await RisingEdge(dut.clk)
            self.cycle += 1
            valid = int(dut.m_axis_weight_tvalid.value)
            data = int(dut.m_axis_weight_tdata.value) if valid else None
            if held is not None:
                assert valid and data == held, (
                    f"cycle {self.cycle}: weight word {held:#x} withdrawn before taken (tvalid {valid})")
            if valid and ready:
                self.words.append(data)
                self.word_cycles.append(self.cycle)
                held = None
            else:
                held = data
            ready = self.cycle >= self.w_ready_from and len(self.words) < self.w_limit \
                and not (self.w_pause and next(self.w_pause))
            dut.m_axis_weight_tready.value = int(ready)

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def pulse_clear(self):
        self.dut.clear.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.clear.value = 0

    async def send(self, steps):
        for events in steps:
            await self.source.send(event_frame(events))

    async def check_events(self, steps):
        for s, events in enumerate(steps):
            frame = await self.sink.recv()
            tuser = frame.tuser if isinstance(frame.tuser, list) else [frame.tuser or 0] * len(frame.tdata)
            want = (list(events), [0] * len(events)) if events else ([0], [1])
            assert (list(frame.tdata), tuser) == want, \
                f"step {s}: events {list(frame.tdata)} tuser {tuser}, want {want}"

    async def wait_words(self, n: int, limit: int = 200000):
        for _ in range(limit):
            if len(self.words) >= n:
                return
            await RisingEdge(self.dut.clk)
        raise AssertionError(f"{len(self.words)} of {n} words after {limit} cycles")

    async def check_run(self, steps, image):
        """The events and the words of the steps, then a drained, balanced DUT."""
        geo = self.geo
        rows = [i for events in steps for i in events]
        want = [w for i in rows for w in row_words(geo, image, i)]
        await self.check_events(steps)
        await self.wait_words(len(want))
        await ClockCycles(self.dut.clk, 8)
        for k, (got, exp) in enumerate(zip(self.words, want)):
            assert got == exp, (f"word {k} (row {rows[k // geo.G]}, word {k % geo.G}): "
                                f"{got:#0{geo.WB // 4 + 2}x}, want {exp:#0{geo.WB // 4 + 2}x}")
        assert len(self.words) == len(want), f"{len(self.words) - len(want)} extra words"
        n_beats = len(rows) * geo.row_beats
        assert int(self.dut.beats.value) == n_beats, f"beats {int(self.dut.beats.value)}, want {n_beats}"
        assert self.mem.beats == n_beats and self.mem.bursts == len(rows) * geo.bursts
        assert self.mem.idle and self.sink.empty() and self.source.empty()
        assert int(self.dut.credits.value) == geo.FIFO, "credits not all returned"
        assert int(self.dut.outstanding.value) == 0
        assert not int(self.dut.m_axis_weight_tvalid.value) and not int(self.dut.m_axis_event_tvalid.value)
        assert int(self.dut.error.value) == 0
        self.mem.check()
        return want


# --- cocotb tests ------------------------------------------------------------------------------
def pauses(seed: int, p: float):
    return lambda: random_pause(p, seed)


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
@cocotb.parametrize(case=["plain", "stalls", "heavy"])
async def run_random(dut, case):
    """Random steps under idle, backpressure and AXI stalls (none / light / heavy)."""
    geo = Geometry()
    rng = random.Random({"plain": 1, "stalls": 2, "heavy": 3}[case] * 1000 + geo.IN)
    image = make_image(geo, rng)
    p = {"plain": 0.0, "stalls": 0.3, "heavy": 0.7}[case]
    stall = (lambda s: random_pause(p, s)) if p else (lambda s: None)
    tb = TB(dut, image, ar_pause=stall(11), r_pause=stall(12))
    if p:
        tb.source.set_pause_generator(random_pause(p, 13))
        tb.sink.set_pause_generator(random_pause(p, 14))
        tb.w_pause = random_pause(p, 15)
    await tb.reset()
    max_events = max(2, min(8, 2400 // (geo.G * 12)))
    steps = make_steps(geo, rng, 12, max_events)
    cocotb.start_soon(tb.send(steps))
    await tb.check_run(steps, image)
    rows = sum(len(e) for e in steps)
    dut._log.info("%s: %d steps, %d rows, %d words, %d beats in %d bursts, %d cycles, starve %d, "
                  "max outstanding at the memory %d", case, len(steps), rows, len(tb.words), tb.mem.beats,
                  tb.mem.bursts, tb.cycle, int(dut.starve_cycles.value), tb.mem.max_outstanding_seen)


async def watch_events(dut, tb, cycles):
    while True:
        await RisingEdge(dut.clk)
        if int(dut.s_axis_event_tvalid.value) and int(dut.s_axis_event_tready.value):
            cycles.append(tb.cycle + 1)


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_prefetch(dut):
    """No stalls, back-to-back events: latency hidden (rows >= 64 words narrower than a beat),
    and the sustained rate against what the memory, outstanding limit and credits allow."""
    geo = Geometry()
    rng = random.Random(5)
    image = make_image(geo, rng)
    tb = TB(dut, image)
    tb.w_ready_from = 1 << 30
    await tb.reset()
    await ClockCycles(dut.clk, 2)
    n_events = max(16, min(200, 1600 // geo.G))
    steps = [[rng.randrange(geo.IN) for _ in range(n_events // 4)] for _ in range(4)]
    # the run starts: clear, the first event offered, the consumer ready, in the same cycle
    tb.w_ready_from = tb.cycle + 1
    tb.w_limit = sum(len(e) for e in steps) * geo.G
    ev_cycles = []
    cocotb.start_soon(watch_events(dut, tb, ev_cycles))
    cocotb.start_soon(tb.send(steps))
    await tb.pulse_clear()
    await tb.check_run(steps, image)
    starve = int(dut.starve_cycles.value)
    first = tb.word_cycles[0] - tb.w_ready_from
    span = tb.word_cycles[-1] - tb.word_cycles[0]
    words_rate = (len(tb.words) - 1) / span if span else 1.0
    beat_span = tb.mem.last_cycles[-1] - tb.mem.ar_cycles[0] - LATENCY
    beats_rate = tb.mem.beats / beat_span
    want_words = min(1.0, geo.supply_words())
    dut._log.info("start %d, first event taken %d, first AR %d, first R beat %d (its burst's last %d), first word %d",
                  tb.w_ready_from, ev_cycles[0], tb.mem.ar_cycles[0], tb.mem.first_cycles[0],
                  tb.mem.last_cycles[0], tb.word_cycles[0])
    dut._log.info("prefetch: %d events of %d words (%d beats): first word %d cycles after the start, "
                  "starve %d (latency %d, bound %.0f), sustained %.3f words/cycle (%.3f beats/cycle at the memory); "
                  "model of the supply %.3f beats = %.3f words/cycle", n_events, geo.G, geo.row_beats, first,
                  starve, LATENCY, LATENCY + 10 + len(tb.words) * (1 / want_words - 1), words_rate, beats_rate,
                  geo.supply_beats(), geo.supply_words())
    assert first <= LATENCY + 10
    if geo.G >= 64 and geo.WB < DATA_BITS:
        assert geo.supply_words() >= 1.0
        assert starve <= LATENCY + 10, f"starve_cycles {starve} > latency + 10: prefetch does not hide it"
    bound = LATENCY + 10 + len(tb.words) * (1 / want_words - 1)
    assert starve <= bound, f"starve_cycles {starve} > {bound:.0f} (latency + 10 + N (1/s - 1), s = {want_words:.3f})"
    assert words_rate >= 0.9 * want_words, f"{words_rate:.3f} words/cycle, the memory allows {want_words:.3f}"


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_error_clear(dut):
    """SLVERR on one row's beats: the words still come, error is set and stays; clear zeroes
    it and the counters."""
    geo = Geometry()
    rng = random.Random(9)
    image = make_image(geo, rng)
    bad = geo.IN // 2
    tb = TB(dut, image, latency=10, cap=1.0, slverr=[(BASE + bad * geo.RB, BASE + bad * geo.RB + 1)])
    tb.w_ready_from = 0
    await tb.reset()
    steps = [[1 % geo.IN, bad], [], [0]]
    rows = [1 % geo.IN, bad, 0]
    want = [w for i in rows for w in row_words(geo, image, i)]
    await tb.send(steps)
    await tb.check_events(steps)
    await tb.wait_words(len(want))
    await ClockCycles(dut.clk, 4)
    assert tb.words == want
    assert int(dut.error.value) == 1 and int(dut.beats.value) == 3 * geo.row_beats
    await tb.pulse_clear()
    await RisingEdge(dut.clk)
    assert (int(dut.error.value), int(dut.beats.value), int(dut.starve_cycles.value)) == (0, 0, 0)
    await RisingEdge(dut.clk)
    assert int(dut.starve_cycles.value) == 1                 # tready high, nothing valid
    tb.mem.check()


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_model_checks(dut):
    """The memory model's AR checks reject what they must (the DUT never sends these)."""
    geo = Geometry()
    tb = TB(dut, make_image(geo, random.Random(3)))
    end = BASE + geo.IN * geo.RB
    good = (BASE, 0, 3, 1)
    tb.mem._check_ar(*good)
    bad = {"FIXED burst": (BASE, 0, 3, 0), "WRAP burst": (BASE, 1, 3, 2), "narrow arsize": (BASE, 0, 2, 1),
           "arlen 256": (BASE, 256, 3, 1), "unaligned": (BASE + 4, 0, 3, 1),
           "4 KB crossing": (BASE + 0x1000 - 8, 1, 3, 1), "below the image": (BASE - 8, 0, 3, 1),
           "past the image": (end, 0, 3, 1)}
    for what, ar in bad.items():
        try:
            tb.mem._check_ar(*ar)
        except AssertionError as e:
            dut._log.info("%s rejected: %s", what, e)
        else:
            raise AssertionError(f"the memory model accepted a burst with {what}: {ar}")
    assert len(tb.mem.errors) == len(bad)
    tb.mem.errors.clear()


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_weight_stream")


@pytest.mark.parametrize("config", range(len(CONFIGS)))
def test_fsvae_weight_stream(config):
    import runner
    params = CONFIGS[config]
    assert runner.lint(SOURCES, "fsvae_weight_stream", params) == ""
    build_name = f"fsvae_weight_stream_c{config}"
    runner.run("fsvae_weight_stream", SOURCES, "test_fsvae_weight_stream", runner.BUILD / build_name,
               parameters=params, extra_env={f"FSVAE_{k}": str(v) for k, v in params.items()},
               build_name=build_name)
