"""cocotb bench of hw/rtl/fsvae_sampler.sv against the golden model sw/fsvae_fpga/contract/sampler.py.

Every draw of every channel is compared with ``sampler.indices`` (whole (T, C) arrays, ``==``)
for several seeds (0 and 0xFFFFFFFF included) and image indices, under random backpressure
on m_axis_idx_tready and random idle between steps (tuser, the channel number, checked
too); a reset and a restart in the middle of a step must leave the module ready for a fresh
start that again gives the golden answers.
"""
from __future__ import annotations

import itertools
import os
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "sim", ROOT / "sw"):   # the simulator process does not run conftest.py
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.clock import Clock  # noqa: E402
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge  # noqa: E402

from fsvae_fpga.contract.sampler import KEY_XOR, ZERO_STATE_REPLACEMENT, fmix32, indices, initial_states  # noqa: E402,E501

T_STEPS = 5
INIT_LATENCY = 5      # start -> ready: C + INIT_LATENCY cycles (header of fsvae_sampler.sv)
STEP_LATENCY = 3      # step -> first m_axis_idx_tvalid


def golden(seed: int, image: int, channels: int, k: int, steps: int = T_STEPS) -> np.ndarray:
    """(steps, channels) indices of one image."""
    return indices(seed, 1, channels, k, steps, first_image=image)[:, 0, :]


def random_pause(p_pause: float, seed: int):
    rng = random.Random(seed)
    while True:
        yield rng.random() < p_pause


def burst_pause():
    """Long stalls then bursts: fills the output FIFO and drains it."""
    return itertools.cycle([True] * 7 + [False] * 3 + [True, False] * 4)


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.C = int(os.environ["FSVAE_C"])
        self.K = int(os.environ["FSVAE_K"])
        self.beats: list[tuple[int, int, int]] = []   # (index, channel, last)
        self.cycle = 0
        self.beat_cycles: list[int] = []
        self.pause_gen = None
        dut.rst.value = 0
        dut.start.value = 0
        dut.step.value = 0
        dut.seed.value = 0
        dut.image.value = 0
        dut.m_axis_idx_tready.value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        cocotb.start_soon(self._sink())

    def set_backpressure_generator(self, generator=None) -> None:
        self.pause_gen = generator

    async def _sink(self) -> None:
        """Samples the handshake at each edge (pre-edge values), then drives m_axis_idx_tready."""
        dut = self.dut
        while True:
            pause = next(self.pause_gen) if self.pause_gen is not None else False
            await RisingEdge(dut.clk)
            self.cycle += 1
            if int(dut.m_axis_idx_tvalid.value) and int(dut.m_axis_idx_tready.value):
                self.beats.append((int(dut.m_axis_idx_tdata.value), int(dut.m_axis_idx_tuser.value),
                                   int(dut.m_axis_idx_tlast.value)))
                self.beat_cycles.append(self.cycle)
            dut.m_axis_idx_tready.value = 0 if pause else 1

    async def reset(self) -> None:
        dut = self.dut
        await RisingEdge(dut.clk)
        dut.rst.value = 1
        dut.start.value = 0
        dut.step.value = 0
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await ReadOnly()
        assert int(dut.ready.value) == 0, "ready must be low after reset"
        assert int(dut.m_axis_idx_tvalid.value) == 0, "m_axis_idx_tvalid must be low after reset"
        await RisingEdge(dut.clk)
        self.beats.clear()

    async def start(self, seed: int, image: int, check_latency: bool = True) -> None:
        """Pulse start; wait for ready (exactly C + INIT_LATENCY cycles)."""
        dut = self.dut
        dut.seed.value = seed
        dut.image.value = image
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        dut.seed.value = random.getrandbits(32)    # must be latched, not read later
        dut.image.value = random.getrandbits(16)
        cycles = 1
        while True:
            await ReadOnly()
            if int(dut.ready.value):
                break
            assert int(dut.m_axis_idx_tvalid.value) == 0
            assert cycles < self.C + 100, "ready never rose after start"
            await RisingEdge(dut.clk)
            cycles += 1
        if check_latency:
            assert cycles == self.C + INIT_LATENCY, f"start -> ready took {cycles} cycles"
        await RisingEdge(dut.clk)

    async def step(self, stray_steps: bool = False) -> list[tuple[int, int, int]]:
        """Pulse step (ready must be high); collect the C beats of this step."""
        dut = self.dut
        await ReadOnly()
        assert int(dut.ready.value) == 1, "step issued while not ready"
        await RisingEdge(dut.clk)
        first = len(self.beats)
        dut.step.value = 1
        await RisingEdge(dut.clk)
        dut.step.value = 0
        budget = 50 * self.C + 100
        while len(self.beats) < first + self.C:
            await ReadOnly()
            assert int(dut.ready.value) == 0, "ready high in the middle of a step"
            await RisingEdge(dut.clk)
            # A step pulse while a step runs must be ignored; only pulse while the last
            # beat is at least two acceptances away, so ready cannot rise under it.
            dut.step.value = int(stray_steps and len(self.beats) < first + self.C - 1
                                 and random.random() < 0.3)
            budget -= 1
            assert budget > 0, f"step stalled after {len(self.beats) - first} beats"
        dut.step.value = 0
        await ReadOnly()
        assert int(dut.ready.value) == 1, "ready must rise the cycle after the last beat"
        assert int(dut.m_axis_idx_tvalid.value) == 0, "extra m_axis_idx_tvalid after the last beat"
        await RisingEdge(dut.clk)
        return self.beats[first:]

    async def run_image(self, seed: int, image: int, steps: int = T_STEPS,
                        idle: bool = False, stray_steps: bool = False) -> np.ndarray:
        await self.start(seed, image)
        got = np.zeros((steps, self.C), dtype=np.int64)
        for t in range(steps):
            if idle:
                await ClockCycles(self.dut.clk, random.randint(0, 4))
            beats = await self.step(stray_steps)
            self.check_framing(beats)
            got[t] = [b[0] for b in beats]
        return got

    def check_framing(self, beats) -> None:
        assert [b[1] for b in beats] == list(range(self.C)), "channels out of order"
        assert [b[2] for b in beats] == [0] * (self.C - 1) + [1], "m_axis_idx_tlast misplaced"


SEEDS = [0, 0xFFFFFFFF, 1, 0x12345678, 0xDEADBEEF]
IMAGES = [0, 1, 65535, 777]


@cocotb.test()
async def random_seeds(dut):
    """Several seeds x images, T steps each, random backpressure and idle, stray steps."""
    tb = TB(dut)
    random.seed(1)
    await tb.reset()
    for n, (seed, image) in enumerate(itertools.product(SEEDS[:3], IMAGES[:3])):
        tb.set_backpressure_generator(random_pause(0.4, n) if n % 3 else None)
        got = await tb.run_image(seed, image, idle=bool(n % 2), stray_steps=(n % 4 == 1))
        want = golden(seed, image, tb.C, tb.K)
        assert np.array_equal(got, want), f"seed {seed:#x} image {image}:\n{got}\n!=\n{want}"
    rng = random.Random(2)
    for n in range(3):
        seed, image = rng.getrandbits(32), rng.getrandbits(16)
        tb.set_backpressure_generator(random_pause(0.6, 100 + n))
        got = await tb.run_image(seed, image, idle=True, stray_steps=True)
        assert np.array_equal(got, golden(seed, image, tb.C, tb.K)), f"seed {seed:#x} image {image}"


@cocotb.test()
async def zero_state_replacement(dut):
    """A seed that makes one stream's s0 zero: fmix32 is a bijection with fmix32(0) = 0, so
    s0 = 0 exactly when seed = fmix32(key ^ KEY_XOR); that stream must start at 0x6A09E667."""
    tb = TB(dut)
    await tb.reset()
    image, channel = 5, tb.C - 1
    seed = int(fmix32(((image << 16) | channel) ^ KEY_XOR))
    s0 = initial_states(seed, [image], tb.C)[0]
    assert s0[channel] == ZERO_STATE_REPLACEMENT and np.count_nonzero(s0) == tb.C
    tb.set_backpressure_generator(random_pause(0.3, 3))
    got = await tb.run_image(seed, image)
    assert np.array_equal(got, golden(seed, image, tb.C, tb.K))


@cocotb.test()
async def backpressure_bursts(dut):
    """Long stalls fill the index FIFO; draws must be neither lost nor repeated."""
    tb = TB(dut)
    await tb.reset()
    tb.set_backpressure_generator(burst_pause())
    seed, image = SEEDS[3], IMAGES[3]
    got = await tb.run_image(seed, image, steps=2 * T_STEPS)
    assert np.array_equal(got, golden(seed, image, tb.C, tb.K, 2 * T_STEPS))


@cocotb.test()
async def throughput(dut):
    """Without backpressure: first index STEP_LATENCY cycles after step, then one per cycle."""
    tb = TB(dut)
    await tb.reset()
    await tb.start(SEEDS[4], IMAGES[1])
    await RisingEdge(dut.clk)
    dut.step.value = 1
    await RisingEdge(dut.clk)
    step_cycle = tb.cycle          # the edge that sampled step
    dut.step.value = 0
    while len(tb.beats) < tb.C:
        await RisingEdge(dut.clk)
    cycles = tb.beat_cycles
    assert cycles[0] - step_cycle == STEP_LATENCY, f"first beat {cycles[0] - step_cycle} cycles after step"
    assert cycles == list(range(cycles[0], cycles[0] + tb.C)), "bubble in the index stream"
    got = np.array([b[0] for b in tb.beats])
    assert np.array_equal(got, golden(SEEDS[4], IMAGES[1], tb.C, tb.K, 1)[0])


@cocotb.test()
async def reset_mid_step(dut):
    """Reset in the middle of a step (with beats still queued), then a fresh start."""
    tb = TB(dut)
    await tb.reset()
    tb.set_backpressure_generator(random_pause(0.5, 7))
    await tb.start(SEEDS[1], IMAGES[2])
    await tb.step()
    tb.set_backpressure_generator(itertools.repeat(True))   # stall: beats stay queued
    await RisingEdge(dut.clk)
    dut.step.value = 1
    await RisingEdge(dut.clk)
    dut.step.value = 0
    await ClockCycles(dut.clk, 6)
    await ReadOnly()
    assert int(dut.m_axis_idx_tvalid.value) == 1
    await RisingEdge(dut.clk)
    await tb.reset()
    tb.set_backpressure_generator(random_pause(0.3, 8))
    seed, image = SEEDS[0], IMAGES[1]
    got = await tb.run_image(seed, image)
    assert np.array_equal(got, golden(seed, image, tb.C, tb.K))


@cocotb.test()
async def restart_mid_step(dut):
    """A start during a step aborts it (stream flushed); the new image is golden."""
    tb = TB(dut)
    await tb.reset()
    tb.set_backpressure_generator(itertools.cycle([True, True, False]))
    await tb.start(SEEDS[2], IMAGES[0])
    await tb.step()
    await RisingEdge(dut.clk)
    dut.step.value = 1
    await RisingEdge(dut.clk)
    dut.step.value = 0
    await ClockCycles(dut.clk, 5)
    seed, image = SEEDS[3], IMAGES[2]
    await tb.start(seed, image)
    tb.beats.clear()
    tb.set_backpressure_generator(random_pause(0.5, 9))
    got = np.zeros((T_STEPS, tb.C), dtype=np.int64)
    for t in range(T_STEPS):
        beats = await tb.step()
        tb.check_framing(beats)
        got[t] = [b[0] for b in beats]
    assert np.array_equal(got, golden(seed, image, tb.C, tb.K))


# ----------------------------------------------------------------------------- pytest

SOURCES = sources("fsvae_sampler")


# C = 1: one-bit channel index, m_axis_idx_tlast on every beat; C = 20 > the 4-entry index FIFO,
# so reads stall on occupancy under backpressure; K = 256 and K = 1: the extremes of k.
@pytest.mark.parametrize(("C", "K"), [(20, 20), (3, 256), (1, 1)])
def test_fsvae_sampler(C, K):
    import runner
    parameters = {"C": C, "K": K}
    assert runner.lint(SOURCES, "fsvae_sampler", parameters) == ""
    runner.run("fsvae_sampler", SOURCES, "test_fsvae_sampler", Path(__file__).parent,
               parameters=parameters, extra_env={"FSVAE_C": str(C), "FSVAE_K": str(K)})
