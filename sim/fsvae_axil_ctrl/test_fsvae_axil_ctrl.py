"""cocotb bench of hw/rtl/fsvae_axil_ctrl.sv: the s_axi_control slave with Vitis ap_ctrl_hs.

The register offsets come from hw/interface.yaml (``boards.register_offsets()``) on both
sides: the pytest wrapper passes them to the RTL as parameters and the coroutines address
the registers through them, so an edit of the YAML is checked end to end.  A small core
model (``Core``) plays the HLS block behind the slave: it takes ap_start after
``accept_delay`` cycles with an ap_ready pulse, runs ``latency`` cycles with ap_idle low,
then pulses ap_done and goes idle again.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "sim", ROOT / "sw"):   # the simulator process does not run conftest.py
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from rtl_sources import sources  # noqa: E402
import cocotb  # noqa: E402
from cocotb.clock import Clock  # noqa: E402
from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp  # noqa: E402

from fsvae_fpga.codegen.boards import interface, register_offsets  # noqa: E402

REG = register_offsets()
SCALARS = ("seed", "n_images", "mode", "image_base")
OUTPUTS = ("identity", "status", "progress", "engines_busy")   # read-only core outputs
AP_START, AP_DONE, AP_IDLE, AP_READY, AUTO_RESTART = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 7
ADDR_W = interface()["control"]["addr_bits"]


class Core:
    """ap_ctrl_hs block model: counts the starts it has taken."""

    def __init__(self, dut, latency=6, accept_delay=0):
        self.dut, self.latency, self.accept_delay = dut, latency, accept_delay
        self.starts = 0
        self.dones = 0
        dut.ap_done.value = 0
        dut.ap_ready.value = 0
        dut.ap_idle.value = 1
        cocotb.start_soon(self._run())

    async def _run(self):
        dut = self.dut
        busy, count, waited = False, 0, 0
        while True:
            await RisingEdge(dut.clk)
            dut.ap_done.value = 0
            dut.ap_ready.value = 0
            if int(dut.rst.value):
                busy, waited = False, 0
                dut.ap_idle.value = 1
                continue
            if busy:
                count -= 1
                if count == 0:
                    busy = False
                    self.dones += 1
                    dut.ap_done.value = 1
                    dut.ap_idle.value = 1
            elif int(dut.ap_start.value):
                if waited < self.accept_delay:
                    waited += 1
                    continue
                waited = 0
                busy, count = True, self.latency
                self.starts += 1
                dut.ap_ready.value = 1
                dut.ap_idle.value = 0


class TB:
    def __init__(self, dut, **core_kwargs):
        self.dut = dut
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        dut.rst.value = 1
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.clk, dut.rst)
        for name in OUTPUTS:
            getattr(dut, name).value = 0
        self.core = Core(dut, **core_kwargs)

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def read(self, addr):
        resp = await self.axil.read(addr, 4)
        assert resp.resp == AxiResp.OKAY, f"read {addr:#x}: {resp.resp}"
        return int.from_bytes(resp.data, "little")

    async def write(self, addr, value):
        resp = await self.axil.write(addr, int(value).to_bytes(4, "little"))
        assert resp.resp == AxiResp.OKAY, f"write {addr:#x}: {resp.resp}"

    async def wait_ctrl(self, mask, timeout=200):
        for _ in range(timeout):
            v = await self.read(REG["CTRL"])
            if v & mask:
                return v
        raise AssertionError(f"CTRL never showed {mask:#x}")


@cocotb.test()
async def run_registers(dut):
    """Every register written and read back; the scalars reach the outputs; holes read 0."""
    tb = TB(dut)
    await tb.reset()
    for name in SCALARS + ("GIE", "IER", "ISR"):
        assert await tb.read(REG[name]) == 0, f"{name} not 0 after reset"
    assert await tb.read(REG["CTRL"]) == AP_IDLE
    rng = random.Random(1)
    values = {name: rng.getrandbits(32) for name in SCALARS}
    values["mode"] = 1                               # reconstruct
    for name, v in values.items():
        await tb.write(REG[name], v)
    for name, v in values.items():
        assert await tb.read(REG[name]) == v, name
        assert int(getattr(dut, name).value) == v, f"{name} output"
    await tb.write(REG["GIE"], 0xFFFFFFFF)
    await tb.write(REG["IER"], 0xFFFFFFFF)
    assert await tb.read(REG["GIE"]) == 1
    assert await tb.read(REG["IER"]) == 3
    await tb.write(REG["IER"], 0)
    await tb.write(REG["GIE"], 0)
    # read-only outputs: the core's values, their ap_vld words read 1, writes are ignored
    outs = {name: rng.getrandbits(32) for name in OUTPUTS}
    for name, v in outs.items():
        getattr(dut, name).value = v
    await ClockCycles(dut.clk, 1)
    for name, v in outs.items():
        assert await tb.read(REG[name]) == v, name
        assert await tb.read(REG[name] + 4) == 1, f"{name} ap_vld"
        await tb.write(REG[name], v ^ 0xFFFFFFFF)
        assert await tb.read(REG[name]) == v, f"{name} changed by a write"
    # the 64-bit pointer: two words, each read back, the output is their concatenation
    wb = rng.getrandbits(64)
    assert await tb.read(REG["weights_base"]) == 0 and await tb.read(REG["weights_base"] + 4) == 0
    await tb.write(REG["weights_base"], wb & 0xFFFFFFFF)
    await tb.write(REG["weights_base"] + 4, wb >> 32)
    assert await tb.read(REG["weights_base"]) == wb & 0xFFFFFFFF
    assert await tb.read(REG["weights_base"] + 4) == wb >> 32
    assert int(dut.weights_base.value) == wb, "weights_base output"
    mapped = {o & ~3 for o in REG.values()} | {REG[name] + 4 for name in OUTPUTS + ("weights_base",)}
    holes = [a for a in range(0, 1 << ADDR_W, 4) if a not in mapped]
    assert {REG[name] + 4 for name in SCALARS} <= set(holes)
    for a in holes:
        await tb.write(a, 0xFFFFFFFF)               # ignored
    for a in holes:
        assert await tb.read(a) == 0, f"hole {a:#x}"
    for name, v in values.items():                  # the hole writes changed nothing
        assert await tb.read(REG[name]) == v, name
    assert int(dut.weights_base.value) == wb, "weights_base changed by a hole write"
    assert await tb.read(REG["CTRL"]) == AP_IDLE and tb.core.starts == 0


@cocotb.test()
async def run_byte_enables(dut):
    """Partial writes change only the bytes whose WSTRB bit is set."""
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(2)
    for name in SCALARS:
        shadow = 0x01234567
        await tb.write(REG[name], shadow)
        for _ in range(6):
            offset = rng.randrange(4)
            length = rng.randint(1, 4 - offset)
            data = bytes(rng.getrandbits(8) for _ in range(length))
            await tb.axil.write(REG[name] + offset, data)
            b = bytearray(shadow.to_bytes(4, "little"))
            b[offset:offset + length] = data
            shadow = int.from_bytes(b, "little")
            assert await tb.read(REG[name]) == shadow, f"{name} after {length} bytes at +{offset}"
            assert int(getattr(dut, name).value) == shadow
    # CTRL: a write without byte 0 neither starts the core nor sets auto_restart.
    await tb.axil.write(REG["CTRL"] + 1, b"\xff\xff\xff")
    await ClockCycles(dut.clk, 5)
    assert await tb.read(REG["CTRL"]) == AP_IDLE and tb.core.starts == 0
    await tb.axil.write(REG["GIE"] + 1, b"\xff")
    await tb.axil.write(REG["IER"] + 2, b"\xff")
    assert await tb.read(REG["GIE"]) == 0 and await tb.read(REG["IER"]) == 0


@cocotb.test()
async def run_handshake(dut):
    """ap_start held until ap_ready; ap_done sticky until CTRL is read; ap_idle follows."""
    tb = TB(dut, latency=12, accept_delay=8)
    await tb.reset()
    for run in range(3):
        await tb.write(REG["CTRL"], AP_START)
        v = await tb.read(REG["CTRL"])              # the core waits accept_delay cycles
        assert v & AP_START and v & AP_IDLE and not v & AP_DONE, f"run {run}: {v:#x}"
        v = await tb.wait_ctrl(AP_READY)
        assert not v & AP_START, f"run {run}: ap_start not cleared by ap_ready: {v:#x}"
        assert not v & AP_IDLE or v & AP_DONE
        assert tb.core.starts == run + 1
        v = await tb.wait_ctrl(AP_DONE)
        assert v & AP_IDLE and not v & AP_START
        v = await tb.read(REG["CTRL"])              # done (and ready) cleared by the read
        assert v == AP_IDLE, f"run {run}: {v:#x} after the done read"
        assert tb.core.dones == run + 1
    # Writing 0 to ap_start while it waits does not withdraw it (Vitis).
    tb.core.accept_delay = 20
    await tb.write(REG["CTRL"], AP_START)
    await tb.write(REG["CTRL"], 0)
    assert await tb.read(REG["CTRL"]) & AP_START
    await tb.wait_ctrl(AP_DONE)
    assert tb.core.starts == 4


@cocotb.test()
async def run_auto_restart(dut):
    """auto_restart reloads ap_start at each ap_ready; clearing it lets the last run finish."""
    tb = TB(dut, latency=5)
    await tb.reset()
    await tb.write(REG["CTRL"], AP_START | AUTO_RESTART)
    for _ in range(200):
        await RisingEdge(dut.clk)
        if tb.core.starts >= 4:
            break
    assert tb.core.starts >= 4
    v = await tb.read(REG["CTRL"])
    assert v & AUTO_RESTART and v & AP_START
    await tb.write(REG["CTRL"], 0)                  # auto_restart off; the pending start stays
    await ClockCycles(dut.clk, 40)
    v = await tb.read(REG["CTRL"])
    assert not v & (AUTO_RESTART | AP_START) and v & AP_IDLE, f"{v:#x}"
    starts = tb.core.starts
    await ClockCycles(dut.clk, 40)
    assert tb.core.starts == starts and tb.core.dones == starts


@cocotb.test()
async def run_interrupt(dut):
    """ISR bits set by done/ready when enabled, toggled by writes; interrupt = GIE & |ISR."""
    tb = TB(dut, latency=8)
    await tb.reset()
    # Disabled: nothing latches.
    await tb.write(REG["CTRL"], AP_START)
    await tb.wait_ctrl(AP_DONE)
    assert await tb.read(REG["ISR"]) == 0 and not int(dut.interrupt.value)
    # ap_done interrupt.
    await tb.write(REG["IER"], 1)
    await tb.write(REG["GIE"], 1)
    await tb.write(REG["CTRL"], AP_START)
    for _ in range(100):
        await RisingEdge(dut.clk)
        if int(dut.interrupt.value):
            break
    assert int(dut.interrupt.value) and tb.core.dones == 2
    assert await tb.read(REG["ISR"]) == 1
    assert int(dut.interrupt.value), "reading ISR must not clear it"
    await tb.write(REG["ISR"], 1)                   # toggle clears
    assert await tb.read(REG["ISR"]) == 0 and not int(dut.interrupt.value)
    await tb.write(REG["ISR"], 2)                   # toggle sets (software interrupt test)
    assert await tb.read(REG["ISR"]) == 2 and int(dut.interrupt.value)
    await tb.write(REG["GIE"], 0)                   # masked globally
    await ClockCycles(dut.clk, 1)
    assert not int(dut.interrupt.value)
    await tb.write(REG["ISR"], 2)
    # ap_ready interrupt only.
    await tb.write(REG["IER"], 2)
    await tb.write(REG["GIE"], 1)
    await tb.read(REG["CTRL"])
    await tb.write(REG["CTRL"], AP_START)
    await tb.wait_ctrl(AP_DONE)
    assert await tb.read(REG["ISR"]) == 2 and int(dut.interrupt.value)
    await tb.write(REG["ISR"], 3)                   # bit 0 was clear: toggles to 1
    assert await tb.read(REG["ISR"]) == 1


@cocotb.test()
async def run_reset_mid_transaction(dut):
    """A reset during a write and during a read leaves a clean slave that works again."""
    tb = TB(dut, latency=30)
    await tb.reset()
    await tb.write(REG["seed"], 0x12345678)
    await tb.write(REG["IER"], 3)
    await tb.write(REG["GIE"], 1)
    await tb.write(REG["CTRL"], AP_START | AUTO_RESTART)
    for delay in range(3):
        w = cocotb.start_soon(tb.axil.write(REG["mode"], (7).to_bytes(4, "little")))
        r = cocotb.start_soon(tb.axil.read(REG["seed"], 4))
        await ClockCycles(dut.clk, 1 + delay)
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        assert not int(dut.s_axi_control_BVALID.value) and not int(dut.s_axi_control_RVALID.value)
        assert not int(dut.ap_start.value) and not int(dut.interrupt.value)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 2)
        await w                                     # flushed by the master's reset handling
        await r
        for name in SCALARS + ("GIE", "IER", "ISR"):
            assert await tb.read(REG[name]) == 0, f"{name} after reset"
        assert await tb.read(REG["CTRL"]) == AP_IDLE
        await tb.write(REG["mode"], 1)
        assert await tb.read(REG["mode"]) == 1
        await tb.write(REG["mode"], 0)
    starts = tb.core.starts
    await tb.write(REG["CTRL"], AP_START)
    await tb.wait_ctrl(AP_DONE)
    assert tb.core.starts == starts + 1


# --- pytest wrapper ----------------------------------------------------------------------------
SOURCES = sources("fsvae_axil_ctrl")
PARAM_OF = {"CTRL": "OFF_CTRL", "GIE": "OFF_GIE", "IER": "OFF_IER", "ISR": "OFF_ISR",
            "seed": "OFF_SEED", "n_images": "OFF_N_IMAGES", "mode": "OFF_MODE",
            "image_base": "OFF_IMAGE_BASE", "identity": "OFF_IDENTITY", "status": "OFF_STATUS",
            "progress": "OFF_PROGRESS", "engines_busy": "OFF_ENGINES_BUSY", "weights_base": "OFF_WEIGHTS_BASE"}


def test_fsvae_axil_ctrl():
    import runner
    assert set(REG) == set(PARAM_OF), f"interface.yaml registers {sorted(REG)} != RTL parameters"
    assert max(REG.values()) + 8 <= 1 << ADDR_W
    params = {"ADDR_W": ADDR_W, **{PARAM_OF[k]: v for k, v in REG.items()}}
    assert runner.lint(SOURCES, "fsvae_axil_ctrl", params) == ""
    test_dir = runner.BUILD / "fsvae_axil_ctrl" / "run"
    test_dir.mkdir(parents=True, exist_ok=True)
    runner.run("fsvae_axil_ctrl", SOURCES, "test_fsvae_axil_ctrl", test_dir,
               parameters=params, build_name="fsvae_axil_ctrl")
