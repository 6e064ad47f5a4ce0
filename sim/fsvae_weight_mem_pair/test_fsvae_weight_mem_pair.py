"""cocotb bench of hw/rtl/fsvae_weight_mem_pair.sv (the weight memory two engine copies share)
against a cycle model: each port's data is the word its last read asked for, one cycle later,
and holds between that port's reads.

ROM (LOADABLE = 0): the contents come from a $readmemh file written here; both ports read at
random addresses with random enables every cycle, the same address on both included.
Loadable (LOADABLE = 1; STYLE ultra, block, auto): every word is written through wr_* with
random gaps while port B reads at random (not the word being written), then both ports read
at random; then half of the words are written again and everything is read back.  Each
cycle, both ports' data are compared with the model (``==``).
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
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge  # noqa: E402

FILE = "weights.hex"


def contents(depth: int, width: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(width) for _ in range(depth)]


class Model:
    """The two ports' data registers (None: not read yet, undefined)."""

    def __init__(self, mem: list[int]):
        self.mem, self.a, self.b = list(mem), None, None

    def edge(self, a_en, a_addr, b_en, b_addr, wr_en=0, wr_addr=0, wr_data=0):
        if a_en:
            self.a = self.mem[a_addr]
        if b_en:
            self.b = self.mem[b_addr]
        if wr_en:
            self.mem[wr_addr] = wr_data


async def cycle(dut, model: Model, a_en, a_addr, b_en, b_addr, wr_en=0, wr_addr=0, wr_data=0):
    """Drive one cycle's inputs, clock, and compare both ports with the model."""
    dut.a_en.value, dut.a_addr.value, dut.b_en.value, dut.b_addr.value = a_en, a_addr, b_en, b_addr
    dut.wr_en.value, dut.wr_addr.value, dut.wr_data.value = wr_en, wr_addr, wr_data
    await RisingEdge(dut.clk)
    model.edge(a_en, a_addr, b_en, b_addr, wr_en, wr_addr, wr_data)
    await ReadOnly()
    for port, want in (("a", model.a), ("b", model.b)):
        if want is not None:
            got = int(getattr(dut, f"{port}_data").value)
            assert got == want, f"port {port}: {got:#x}, want {want:#x}"
    await FallingEdge(dut.clk)


async def random_reads(dut, model: Model, depth: int, rng: random.Random, n: int) -> None:
    for _ in range(n):
        a = rng.randrange(depth)
        b = a if rng.random() < 0.2 else rng.randrange(depth)
        await cycle(dut, model, int(rng.random() < 0.7), a, int(rng.random() < 0.7), b)


@cocotb.test()
async def run_ports(dut):
    depth, width = int(os.environ["FSVAE_DEPTH"]), int(os.environ["FSVAE_WIDTH"])
    loadable = int(os.environ["FSVAE_LOADABLE"])
    rng = random.Random(11)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await FallingEdge(dut.clk)
    if not loadable:
        model = Model(contents(depth, width, 3))
        await random_reads(dut, model, depth, rng, 400)
        return
    model = Model([0] * depth)
    for rounds, words in ((1, list(range(depth))), (2, rng.sample(range(depth), max(1, depth // 2)))):
        new = contents(depth, width, 10 + rounds)
        for addr in words:
            while rng.random() < 0.3:                       # a gap: port B reads meanwhile
                await cycle(dut, model, 0, 0, 1, rng.randrange(depth))
            other = rng.randrange(depth)
            b_en = int(other != addr and rng.random() < 0.5)
            await cycle(dut, model, 0, rng.randrange(depth), b_en, other, 1, addr, new[addr])
        await random_reads(dut, model, depth, rng, 300)
        for addr in range(depth):                           # every word, on both ports
            await cycle(dut, model, 1, addr, 1, depth - 1 - addr)


# (DEPTH, WIDTH, LOADABLE, STYLE)
CONFIGS = [(40, 24, 0, 0), (1, 8, 0, 0), (33, 72, 1, 1), (16, 40, 1, 2), (64, 16, 1, 0), (2, 8, 1, 1)]


@pytest.mark.parametrize("DEPTH,WIDTH,LOADABLE,STYLE", CONFIGS)
def test_fsvae_weight_mem_pair(DEPTH, WIDTH, LOADABLE, STYLE):
    import runner

    def write_files(folder: Path, case: str) -> None:
        words = contents(DEPTH, WIDTH, 3)
        (folder / FILE).write_text("".join(f"{w:0{(WIDTH + 3) // 4}x}\n" for w in words))

    params = {"DEPTH": DEPTH, "WIDTH": WIDTH, "LOADABLE": LOADABLE, "STYLE": STYLE}
    runner.run_cases("fsvae_weight_mem_pair", sources("fsvae_weight_mem_pair"), params, ["ports"], write_files,
                     strings={"INIT_FILE": FILE})
