"""cocotb bench of hw/rtl/fsvae_step_sequencer.sv against a small engine model.

The engine model behaves like fsvae_lif_*: a start sampled while idle makes busy high from
the next cycle for a random number of cycles, then done pulses for one cycle (with busy
already low, or a few idle cycles later); after reset busy stays high for a while (the
accumulator clearing pass).  Every clock edge is logged; a run is then checked as a whole:
exactly n_images x T starts, first_step on step 0 of each image only, step/image showing the
step the engine runs from the cycle after its start until the next start (and the previous
one at the start itself), no start while the engine is busy or before the previous step's
done, finished low from the cycle after go until the last done and high after it, and no
start after the run.  A go during a run (also during its last step) is ignored; n_images = 0
does nothing; a reset in the middle of a run returns to finished with no further start, and
a later run (go during the clearing pass) is correct.  Engine speed is swept: one busy cycle
(starts back to back), random, and slow with gaps before done.
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

from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.clock import Clock  # noqa: E402
from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402

TIMEOUT_US = 200  # a lost done fails the test instead of hanging it
CONFIGS = [1, 3, 16]    # T


# --- the engine model: (busy cycles, idle cycles between busy low and done) per step ---------
def fast_engine(rng: random.Random) -> tuple[int, int]:
    return 1, 0


def random_engine(rng: random.Random) -> tuple[int, int]:
    return rng.randint(1, 8), rng.choice([0, 0, 1, 2])


def slow_engine(rng: random.Random) -> tuple[int, int]:
    return rng.randint(5, 20), rng.randint(0, 3)


class TB:
    def __init__(self, dut, profile=random_engine, seed: int = 1):
        self.dut = dut
        self.T = int(os.environ["FSVAE_T"])
        self.profile = profile
        self.rng = random.Random(seed)
        self.state, self.count = "clear", 10     # engine: idle, run, gap, done, clear
        self.cycle = 0
        self.log: list[dict] = []
        self.errors: list[str] = []         # starts the engine could not take, as they happen
        dut.rst.value = 0
        dut.go.value = 0
        dut.n_images.value = 0
        dut.busy.value = 1
        dut.done.value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        cocotb.start_soon(self._engine())

    async def _engine(self):
        """At each edge: log the pre-edge values, then advance the engine like a flop would."""
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            self.cycle += 1
            if int(dut.rst.value):
                self.state, self.count = "clear", self.rng.randint(5, 20)
                dut.busy.value, dut.done.value = 1, 0
                continue
            e = dict(cycle=self.cycle, engine=self.state, go=int(dut.go.value),
                     start=int(dut.start.value), first=int(dut.first_step.value),
                     step=int(dut.step.value), image=int(dut.image.value),
                     finished=int(dut.finished.value), done=int(dut.done.value))
            self.log.append(e)
            if e["start"]:
                if self.state != "idle":
                    self.errors.append(f"start while the engine is {self.state}: {e}")
                else:
                    busy, gap = self.profile(self.rng)
                    self.state, self.count, self.gap = "run", busy, gap
                    dut.busy.value = 1
            elif self.state == "run":
                self.count -= 1
                if self.count == 0:
                    dut.busy.value = 0
                    self.state, self.count = ("done", 0) if self.gap == 0 else ("gap", self.gap)
                    dut.done.value = int(self.gap == 0)
            elif self.state == "gap":
                self.count -= 1
                if self.count == 0:
                    self.state = "done"
                    dut.done.value = 1
            elif self.state == "done":
                self.state = "idle"
                dut.done.value = 0
            elif self.state == "clear":
                self.count -= 1
                if self.count == 0:
                    self.state = "idle"
                    dut.busy.value = 0

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def go(self, n: int):
        self.dut.n_images.value = n
        self.dut.go.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.go.value = 0

    def go_edge(self, mark: int) -> int | None:
        """Index in the log of the first honoured go after cycle `mark` (None: not logged yet)."""
        return next((i for i, e in enumerate(self.log) if e["cycle"] > mark and e["go"] and e["finished"]), None)

    def finished_since(self, mark: int) -> bool:
        g = self.go_edge(mark)
        return g is not None and any(e["finished"] for e in self.log[g + 1:])

    def starts(self, mark: int) -> list[dict]:
        return [e for e in self.log if e["cycle"] > mark and e["start"]]

    async def until(self, cond):
        while not cond():
            assert not self.errors, self.errors[0]      # rather than waiting for a lost done
            await RisingEdge(self.dut.clk)

    async def run(self, n: int, ignored_gos: bool = True) -> int:
        """One run of n images; go again (n + 2 images) at step 1 of image 1 and during the
        last step: both must be ignored.  Returns the cycle before the go, for check_run."""
        mark = self.cycle
        await self.go(n)
        total = n * self.T
        if ignored_gos:
            for k in sorted({min(self.T + 2, total), total}):
                await self.until(lambda: len(self.starts(mark)) >= k)
                await self.go(n + 2)
        await self.until(lambda: self.finished_since(mark))
        await ClockCycles(self.dut.clk, 40)              # no start may follow
        return mark

    def check_run(self, n: int, mark: int):
        """The log from the go after `mark` on is one run of n images."""
        T = self.T
        log = self.log[self.go_edge(mark):]
        bad = [e for e in log if e["start"] and e["engine"] != "idle"]
        assert not bad, f"start while the engine is {bad[0]['engine']} (busy or done not yet seen): {bad[0]}"
        starts = [i for i, e in enumerate(log) if e["start"]]
        assert len(starts) == n * T, f"{len(starts)} starts, want {n} x {T}"
        for j, i in enumerate(starts):
            want = (j % T, j // T)                      # (step, image)
            e = log[i]
            assert e["first"] == int(want[0] == 0), f"start {j} (step, image {want}): first_step {e['first']}"
            if j:
                last = ((j - 1) % T, (j - 1) // T)
                assert (e["step"], e["image"]) == last, (
                    f"start {j}: step/image {(e['step'], e['image'])} at the start, want the last one {last}")
            stop = starts[j + 1] if j + 1 < len(starts) else len(log)
            for f in log[i + 1:stop]:
                assert (f["step"], f["image"]) == want, (
                    f"cycle {f['cycle']}: step/image {(f['step'], f['image'])} while running {want}")
        # finished: low from the edge after go until the last done is seen, high after
        last_done = next(i for i in range(starts[-1] + 1, len(log)) if log[i]["done"])
        low = [e["cycle"] for e in log[1:last_done + 1] if e["finished"]]
        assert not low, f"finished high during the run (cycles {low[:5]}...)"
        high = [e["cycle"] for e in log[last_done + 1:] if not e["finished"]]
        assert not high, f"finished low after the last done (cycles {high[:5]}...)"
        assert len(log) > last_done + 1, "log ends at the last done"


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
@cocotb.parametrize(profile=[fast_engine, random_engine, slow_engine], n_images=[1, 3])
async def run_test(dut, profile, n_images):
    """Two runs back to back: the second starts again at image 0 step 0."""
    tb = TB(dut, profile)
    await tb.reset()
    assert int(dut.finished.value) and not int(dut.start.value)
    for r in range(2):
        mark = await tb.run(n_images)
        tb.check_run(n_images, mark)
        dut._log.info("run %d: %d starts in %d cycles", r, n_images * tb.T, tb.cycle - mark)


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_zero_images(dut):
    """go with n_images = 0 starts nothing and leaves finished high; a run after it works."""
    tb = TB(dut)
    await tb.reset()
    await ClockCycles(dut.clk, 30)                   # past the clearing pass
    mark = tb.cycle
    await tb.go(0)
    await ClockCycles(dut.clk, 40)
    log = [e for e in tb.log if e["cycle"] > mark]
    assert not any(e["start"] for e in log), "a start for n_images = 0"
    assert all(e["finished"] for e in log), "finished dropped for n_images = 0"
    mark = await tb.run(1)
    tb.check_run(1, mark)


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_reset_mid_run(dut):
    """A reset with a step running: finished at once, no start after it (not even once the
    clearing pass ends); a go during the clearing pass then gives a correct run."""
    tb = TB(dut, slow_engine)
    await tb.reset()
    mark = tb.cycle
    await tb.go(3)
    await tb.until(lambda: len(tb.starts(mark)) > tb.T)
    await ClockCycles(dut.clk, 2)
    assert not int(dut.finished.value) and tb.state == "run"
    await tb.reset()
    mark = tb.cycle
    assert int(dut.finished.value) and tb.state == "clear"
    await ClockCycles(dut.clk, 30)
    assert not tb.starts(mark), "start after the reset"
    assert all(e["finished"] for e in tb.log if e["cycle"] > mark), "finished low after the reset"
    await tb.reset()                                  # the engine clears again: go meets busy high
    assert tb.state == "clear"
    mark = await tb.run(2, ignored_gos=False)
    assert tb.log[tb.go_edge(mark)]["engine"] == "clear", "go not during the clearing pass"
    tb.check_run(2, mark)


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_step_sequencer")


@pytest.mark.parametrize("T", CONFIGS)
def test_fsvae_step_sequencer(T):
    import runner
    params = {"T": T}
    assert runner.lint(SOURCES, "fsvae_step_sequencer", params) == ""
    build_name = f"fsvae_step_sequencer_T{T}"
    runner.run("fsvae_step_sequencer", SOURCES, "test_fsvae_step_sequencer", runner.BUILD / build_name,
               parameters=params, extra_env={"FSVAE_T": str(T)}, build_name=build_name)
