"""cocotb bench of hw/rtl/fsvae_engine_ctrl.sv: the engines' step control.

The bench plays an engine: start at random times while idle, acc_end after a random number
of accumulate cycles, upd_ready low at random (a stalled emitter or output), step_end in the
cycle the last word leaves or a few cycles later (an emitter still sending).  Every cycle is
recorded (sampled mid-cycle) and checked against the header's contract with ==: after
reset init for N cycles with clr_addr 0..N-1; busy = !idle; acc from the cycle after start
until acc_end; per step the words 0..N-1 issued once each, in order, each in a cycle with
no word in stage B or with the stage-B word leaving; stage B holding the last issued word
from the next cycle until upd_adv = updb_v && upd_ready; done exactly in the cycle after
step_end, with cycles = the step's busy cycles; with upd_ready high, one word per cycle.
Stalls (upd_ready) and input idle (start, acc_end delays) are swept; a reset in the middle
of an update restarts with init.  N is swept by pytest (1: one word per step).
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

CONFIGS = [1, 5]          # N
OUTS = ("init", "idle", "acc", "clr_addr", "upd_issue", "ua", "updb_v", "updb", "upd_adv", "busy", "done", "cycles")


class TB:
    def __init__(self, dut, p_stall: float, max_wait: int, seed: int = 1):
        self.dut, self.N = dut, int(os.environ["FSVAE_N"])
        self.p_stall, self.max_wait = p_stall, max_wait
        self.rng = random.Random(seed)
        self.trace: list[dict] = []         # per cycle: inputs and outputs
        for name in ("rst", "start", "acc_end", "upd_ready", "step_end"):
            getattr(dut, name).value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def tick(self, **inputs) -> dict:
        dut = self.dut
        for name in ("rst", "start", "acc_end", "step_end"):
            getattr(dut, name).value = inputs.get(name, 0)
        dut.upd_ready.value = int(self.rng.random() >= self.p_stall)
        await FallingEdge(dut.clk)
        row = {k: int(getattr(dut, k).value) for k in OUTS + ("rst", "start", "acc_end", "upd_ready", "step_end")}
        self.trace.append(row)
        await RisingEdge(dut.clk)
        return row

    async def wait(self):
        for _ in range(self.rng.randint(0, self.max_wait)):
            await self.tick()

    async def step(self):
        """One step as an engine drives it; returns when done has pulsed."""
        row = await self.tick()
        while not row["idle"]:
            row = await self.tick()
        await self.wait()
        await self.tick(start=1)
        await self.wait()
        await self.tick(acc_end=1)
        left = self.N
        while left:
            row = await self.tick()
            left -= row["upd_adv"]
        await self.wait()                   # the emitter still sends (0: same cycle as the last word)
        await self.tick(step_end=1)
        row = await self.tick()
        assert row["done"] and row["idle"], f"no done in the cycle after step_end: {row}"


def check(trace: list[dict], n: int, free: bool):
    """The header's contract over a recorded run (starting with reset)."""
    i = 0
    while trace[i]["rst"]:
        i += 1
    init = [r["clr_addr"] for r in trace[i:i + n] if r["init"]]
    assert init == list(range(n)) and not trace[i + n]["init"], f"init clears {init}"
    stage_b, issued, busy, steps = None, [], 0, 0
    for k in range(i, len(trace)):
        r, prev = trace[k], trace[k - 1]
        assert r["busy"] == 1 - r["idle"]
        assert r["upd_adv"] == (r["updb_v"] & r["upd_ready"])
        assert r["done"] == (prev["step_end"] and not prev["idle"] and not prev["acc"] and not prev["init"])
        if prev["start"] and prev["idle"]:
            assert r["acc"], f"cycle {k}: start, no accumulate"
            busy, issued = 0, []
        if prev["acc"] and not prev["acc_end"]:
            assert r["acc"], f"cycle {k}: left accumulate without acc_end"
        busy += r["busy"]
        # stage B holds the last issued word until it leaves
        assert (r["updb_v"], r["updb"] if r["updb_v"] else None) == ((1, stage_b) if stage_b is not None else (0, None))
        upd = not (r["init"] or r["idle"] or r["acc"])
        can = upd and len(issued) < n and (not r["updb_v"] or r["upd_adv"])
        assert r["upd_issue"] == can, f"cycle {k}: upd_issue {r['upd_issue']}, contract {can}"
        if r["upd_adv"]:
            stage_b = None
        if r["upd_issue"]:
            assert r["ua"] == len(issued)
            issued.append(r["ua"])
            stage_b = r["ua"]
        if free and upd and r["updb_v"]:
            assert r["upd_adv"]
        if r["done"]:
            assert issued == list(range(n)), f"cycle {k}: words {issued}"
            assert r["cycles"] == busy, f"cycle {k}: cycles {r['cycles']}, busy for {busy}"
            steps += 1
    return steps


@cocotb.test()
@cocotb.parametrize(p_stall=[0.0, 0.5], max_wait=[0, 3])
async def run_test(dut, p_stall, max_wait):
    tb = TB(dut, p_stall, max_wait)
    await tb.tick(rst=1)
    await tb.tick(rst=1)
    for _ in range(12):
        await tb.step()
    assert check(tb.trace, tb.N, p_stall == 0.0) == 12


@cocotb.test()
async def run_reset_mid_update(dut):
    tb = TB(dut, 0.5, 2, seed=3)
    await tb.tick(rst=1)
    await tb.step()
    row = await tb.tick()
    while not row["idle"]:
        row = await tb.tick()
    await tb.tick(start=1)
    await tb.tick(acc_end=1)
    await tb.tick()
    start = len(tb.trace)
    await tb.tick(rst=1)
    for _ in range(3):
        await tb.step()
    assert check(tb.trace[start:], tb.N, False) == 3


# --- pytest wrapper ----------------------------------------------------------------------------
@pytest.mark.parametrize("N", CONFIGS)
def test_fsvae_engine_ctrl(N):
    import runner
    runner.run_bench("fsvae_engine_ctrl", sources("fsvae_engine_ctrl"), {"N": N})
