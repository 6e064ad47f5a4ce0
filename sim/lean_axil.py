"""A minimal s_axi_control master for cocotb benches of the generated top (the top-level bench
and the simulated board): Python wakes only during a transfer.  cocotbext-axi's AxiLiteMaster
samples its response channels every cycle, which would bound a multi-million-cycle
simulation by Python speed.  Same calls as AxiLiteMaster: write_dword, read_dword.
"""
from __future__ import annotations

from cocotb.triggers import RisingEdge


class LeanAxiLite:
    def __init__(self, dut):
        self.dut = dut
        for name in ("AWVALID", "WVALID", "ARVALID", "BREADY", "RREADY", "AWADDR", "WDATA", "ARADDR"):
            getattr(dut, f"s_axi_control_{name}").value = 0
        dut.s_axi_control_WSTRB.value = 0xF
        self.addr_bits = len(dut.s_axi_control_AWADDR)

    def _addr(self, offset: int) -> int:
        if offset >= 1 << self.addr_bits or offset % 4:
            raise ValueError(f"s_axi_control offset 0x{offset:x} outside the {self.addr_bits}-bit map")
        return offset

    async def write_dword(self, offset: int, value: int) -> None:
        dut, clk = self.dut, self.dut.ap_clk
        dut.s_axi_control_AWADDR.value = self._addr(offset)
        dut.s_axi_control_WDATA.value = value & 0xFFFFFFFF
        dut.s_axi_control_AWVALID.value = 1
        dut.s_axi_control_WVALID.value = 1
        dut.s_axi_control_BREADY.value = 1
        aw = w = b = False
        while not b:
            await RisingEdge(clk)              # values read now are those sampled at the edge
            if not aw and int(dut.s_axi_control_AWREADY.value):
                aw = True
                dut.s_axi_control_AWVALID.value = 0
            if not w and int(dut.s_axi_control_WVALID.value) and int(dut.s_axi_control_WREADY.value):
                w = True
                dut.s_axi_control_WVALID.value = 0
            b = int(dut.s_axi_control_BVALID.value) and w
        dut.s_axi_control_BREADY.value = 0

    async def read_dword(self, offset: int) -> int:
        dut, clk = self.dut, self.dut.ap_clk
        dut.s_axi_control_ARADDR.value = self._addr(offset)
        dut.s_axi_control_ARVALID.value = 1
        dut.s_axi_control_RREADY.value = 1
        ar = False
        while True:
            await RisingEdge(clk)
            if not ar and int(dut.s_axi_control_ARREADY.value):
                ar = True
                dut.s_axi_control_ARVALID.value = 0
            elif ar and int(dut.s_axi_control_RVALID.value):
                data = int(dut.s_axi_control_RDATA.value)
                dut.s_axi_control_RREADY.value = 0
                return data
