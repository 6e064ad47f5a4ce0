"""cocotb bench of hw/rtl/fsvae_axi_read_arb.sv: N read masters on one AXI4 read port.

The port is served by the DDR memory model (sim/axi_read_memory.py: latency, bandwidth cap,
random AR and R stalls).  One Python process plays all N masters (they share packed
vectors): each issues a random list of bursts (lengths 1 to 16 beats, anywhere in the image,
inside 4 KB), holding its request until granted, and takes its read data with its own random
rready pattern.  Checked:
* every master receives exactly the bytes of its bursts, in its order, with rlast on each
  burst's last beat, and no beat it did not ask for (rvalid only to the burst's owner);
* the model's protocol checks (the arbiter's AR register holds while not accepted);
* the bursts in flight (granted, last beat not yet taken) never exceed OUTSTANDING;
* round robin: while every master has a request waiting, no master is granted twice before
  each other waiting master is granted once.
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
from common import random_pause  # noqa: E402
from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
import pytest  # noqa: E402
from cocotb.clock import Clock  # noqa: E402
from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402

ADDR_BITS, DATA_BITS, BEAT = 32, 64, 8
BASE, SIZE = 0x2000_0000, 16 * 1024
BURSTS_PER_MASTER = 40


def _param(name):
    return int(os.environ[f"FSVAE_{name}"])


def _bursts(rng, n):
    out = []
    for _ in range(n):
        beats = rng.randint(1, 16)
        while True:
            addr = BASE + rng.randrange(0, SIZE - beats * BEAT, BEAT)
            if (addr & 0xFFF) + beats * BEAT <= 0x1000:
                break
        out.append((addr, beats))
    return out


async def run_case(dut, stalls: bool, rready_p: float, seed: int):
    n, outstanding = _param("N"), _param("OUTSTANDING")
    rng = random.Random(seed)
    image = bytearray(rng.getrandbits(8) for _ in range(SIZE))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    mem = AxiReadMemory(dut, "m", dut.clk, dut.rst, memory=image, base=BASE, latency=20, beats_per_cycle=0.75,
                        max_outstanding=outstanding + 2,
                        arready_pause=random_pause(0.3, seed + 1) if stalls else None,
                        rvalid_pause=random_pause(0.3, seed + 2) if stalls else None)
    dut.s_arvalid.value = 0
    dut.s_rready.value = 0
    dut.s_araddr.value = 0
    dut.s_arlen.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0

    todo = [_bursts(rng, BURSTS_PER_MASTER) for _ in range(n)]      # still to request
    asked = [[] for _ in range(n)]                                 # granted, in order
    got = [bytearray() for _ in range(n)]
    lasts = [[] for _ in range(n)]                                 # beat count at each rlast
    want_bytes = [sum(b for _, b in t) * BEAT for t in todo]
    in_flight, max_in_flight = 0, 0
    waiting_since = {}                                             # master -> grants seen while it waited
    rr = [random.Random(seed * 10 + i) for i in range(n)]
    for cycle in range(200_000):
        # drive this cycle's requests and readies
        addr = length = valid = ready = 0
        for i in range(n):
            if todo[i]:
                a, b = todo[i][0]
                addr |= a << (i * ADDR_BITS)
                length |= (b - 1) << (i * 8)
                valid |= 1 << i
            if rr[i].random() >= rready_p:
                ready |= 1 << i
        dut.s_araddr.value, dut.s_arlen.value, dut.s_arvalid.value, dut.s_rready.value = addr, length, valid, ready
        await RisingEdge(dut.clk)
        arready, rvalid = int(dut.s_arready.value), int(dut.s_rvalid.value)
        assert bin(arready).count("1") <= 1, "arready to two masters in one cycle"
        assert bin(rvalid).count("1") <= 1, "read data offered to two masters"
        granted = [i for i in range(n) if arready >> i & valid >> i & 1]     # AR handshakes
        for i in granted:
            # round robin: i was not granted before, at an edge where another master was
            # already waiting that still waits now
            for j, seen in waiting_since.items():
                assert j == i or i not in seen, f"master {i} granted twice while master {j} waited"
            waiting_since.pop(i, None)
        for j in range(n):
            if valid >> j & 1 and j not in granted:
                waiting_since.setdefault(j, []).extend(granted)
        for i in range(n):
            if i in granted:
                asked[i].append(todo[i].pop(0))
                in_flight += 1
            if rvalid >> i & 1 and ready >> i & 1:
                got[i] += int(dut.s_rdata.value).to_bytes(BEAT, "little")
                if int(dut.s_rlast.value):
                    lasts[i].append(len(got[i]) // BEAT)
                    in_flight -= 1
        max_in_flight = max(max_in_flight, in_flight)
        assert in_flight <= outstanding, f"{in_flight} bursts in flight, OUTSTANDING = {outstanding}"
        if all(len(g) == w for g, w in zip(got, want_bytes)) and not any(todo):
            break
    else:
        raise AssertionError(f"timed out: {[len(g) for g in got]} of {want_bytes} bytes")
    await ClockCycles(dut.clk, 30)
    assert not int(dut.s_rvalid.value) and mem.idle, "data left over after every burst was served"
    mem.check()
    for i in range(n):
        want = b"".join(bytes(image[a - BASE:a - BASE + b * BEAT]) for a, b in asked[i])
        assert bytes(got[i]) == want, f"master {i}: wrong data"
        ends, total = [], 0
        for _, b in asked[i]:
            total += b
            ends.append(total)
        assert lasts[i] == ends, f"master {i}: rlast at beats {lasts[i]}, bursts end at {ends}"
    dut._log.info(f"N={n} OUTSTANDING={outstanding}: {mem.bursts} bursts in {cycle} cycles, "
                  f"{mem.beats / cycle:.2f} beats a cycle, at most {max_in_flight} in flight")


@cocotb.test()
async def run_no_stalls(dut):
    await run_case(dut, stalls=False, rready_p=0.0, seed=1)


@cocotb.test()
async def run_stalls(dut):
    """Random AR and R stalls in the memory, and each master's rready low 30 % of cycles."""
    await run_case(dut, stalls=True, rready_p=0.3, seed=2)


@pytest.mark.parametrize("n,outstanding", [(1, 2), (3, 4), (4, 16)])
def test_fsvae_axi_read_arb(n, outstanding):
    import runner
    runner.run_bench("fsvae_axi_read_arb", sources("fsvae_axi_read_arb"),
                     {"N": n, "OUTSTANDING": outstanding, "ADDR_BITS": ADDR_BITS, "DATA_BITS": DATA_BITS})
