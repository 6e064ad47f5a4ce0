"""cocotb bench of hw/rtl/fsvae_run_counters.sv: the run-cycle and image counters of the top.

Random inputs in phases like the top's (idle: running low for long stretches; runs: running
high with image_done pulses, back to back or sparse; image_done also while idle, which the
counter takes as it comes), with resets in between.  Every cycle (sampled mid-cycle) both
counts are compared with == against a Python model: reset to 0, +1 per cycle with busy high
and + the number of set event flags, seen from the next cycle on, modulo 2**W.  (W, E) is
swept by pytest: 32 (the top's) and a narrow W that wraps several times within the test, one
event flag (the engines') and several (the output stage's mask lanes).
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
from cocotb.triggers import FallingEdge, RisingEdge  # noqa: E402

TIMEOUT_US = 200
CONFIGS = [(32, 1), (3, 1), (9, 5)]       # (W, E)


class TB:
    def __init__(self, dut, seed: int = 1):
        self.dut = dut
        self.W, self.E = int(os.environ["FSVAE_W"]), int(os.environ["FSVAE_E"])
        self.rng = random.Random(seed)
        self.run_cycles = self.images = 0           # the model
        self.cycle = 0
        dut.rst.value = 1
        dut.busy.value = 0
        dut.event_in.value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def tick(self, rst: int, running: int, image_done: int):
        dut = self.dut
        dut.rst.value, dut.busy.value, dut.event_in.value = rst, running, image_done
        await FallingEdge(dut.clk)
        got = (int(dut.busy_cycles.value), int(dut.events.value))
        if self.cycle:              # the first cycle precedes the first edge: nothing to compare
            assert got == (self.run_cycles, self.images), f"cycle {self.cycle}: (run_cycles, images) {got}"
        mask = (1 << self.W) - 1
        if rst:
            self.run_cycles = self.images = 0
        else:
            self.run_cycles = (self.run_cycles + running) & mask
            self.images = (self.images + bin(image_done).count("1")) & mask
        self.cycle += 1
        await RisingEdge(dut.clk)

    async def phase(self, cycles: int, p_running: float, p_image: float, p_reset: float = 0.0):
        for _ in range(cycles):
            r = self.rng.random()
            flags = sum(int(self.rng.random() < p_image) << e for e in range(self.E))
            await self.tick(int(r < p_reset), int(self.rng.random() < p_running), flags)


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def run_phases(dut):
    tb = TB(dut)
    await tb.phase(3, 0, 0, p_reset=1)
    for _ in range(6):
        await tb.phase(tb.rng.randint(5, 60), 0.0, 0.0)          # idle
        await tb.phase(tb.rng.randint(20, 200), 1.0, 0.1)        # a run, sparse images
        await tb.phase(tb.rng.randint(5, 40), 1.0, 1.0)          # images back to back
        await tb.phase(tb.rng.randint(10, 60), 0.5, 0.3)         # anything, also image_done while idle
        await tb.phase(tb.rng.randint(3, 30), 0.7, 0.3, p_reset=0.1)   # resets in between
    dut._log.info("W = %d: %d cycles compared; final (run_cycles, images) = (%d, %d)",
                  tb.W, tb.cycle, tb.run_cycles, tb.images)


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_run_counters")


@pytest.mark.parametrize("W,E", CONFIGS)
def test_fsvae_run_counters(W, E):
    import runner
    params = {"W": W, "E": E}
    assert runner.lint(SOURCES, "fsvae_run_counters", params) == ""
    build_name = f"fsvae_run_counters_W{W}_E{E}"
    runner.run("fsvae_run_counters", SOURCES, "test_fsvae_run_counters", runner.BUILD / build_name,
               parameters=params, extra_env={"FSVAE_W": str(W), "FSVAE_E": str(E)}, build_name=build_name)
