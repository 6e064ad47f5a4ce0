"""The real board behind the driver's back-end seam (driver.py): pynq.Overlay with the core
``fsvae_0`` and the AXI DMA ``axi_dma_0`` (the names the block design gives them).

Imports pynq (board image) besides the standard library and numpy.
"""
from __future__ import annotations

import time
from pathlib import Path

from .driver import FILES, FsvaeError

CORE_CELL = "fsvae_0"
DMA_CELL = "axi_dma_0"
# board input rails first: their power is the whole board's; else the sum of every rail
INPUT_RAILS = ("12V", "VIN", "VCC_IN", "PSU")


class WallClock:
    description = "board wall-clock time"

    @staticmethod
    def now() -> float:
        return time.perf_counter()

    @staticmethod
    def pause(max_s: float) -> None:
        time.sleep(0)                # poll at Python speed (as pynq's DMA wait() does)


class PynqBackend:
    reset_note = "downloads fsvae.bit again, which resets the core and the AXI DMA, then reloads the weights"
    min_timeout_s = 2.0

    def __init__(self, overlay_dir: str | Path, download: bool = True):
        import pynq
        self._pynq = pynq
        self.dir = Path(overlay_dir)
        bit, hwh = self.dir / FILES["bitstream"], self.dir / FILES["hwh"]
        missing = [p.name for p in (bit, hwh) if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"{self.dir}: {', '.join(missing)} missing; a board overlay folder holds the "
                                    "bitstream and its .hwh from the Vivado flow (a folder without them is a "
                                    "simulated overlay: open_overlay(dir, simulated=True))")
        self.overlay = pynq.Overlay(str(bit), download=download)
        self._bind()
        self.clock = WallClock()
        self.power_note = "power: not available on this board (pynq.get_rails() lists no rail with a power sensor)"

    def _bind(self) -> None:
        ips = self.overlay.ip_dict
        for cell in (CORE_CELL, DMA_CELL):
            if cell not in ips:
                raise FsvaeError(f"the block design has no cell {cell!r}; its IP cells are: {sorted(ips)}")
        self.core = getattr(self.overlay, CORE_CELL)
        self.dma = getattr(self.overlay, DMA_CELL)
        self.dma_mmio = self.dma.mmio
        self.sendchannel, self.recvchannel = self.dma.sendchannel, self.dma.recvchannel
        if self.sendchannel is None or self.recvchannel is None:
            raise FsvaeError(f"{DMA_CELL} must have both channels (MM2S to in_r, S2MM from out_r)")
        self.max_transfer_bytes = int(self.dma.buffer_max_size)

    def allocate(self, shape, dtype):
        return self._pynq.allocate(shape=shape, dtype=dtype)

    def power_sensors(self) -> dict:
        try:
            rails = self._pynq.get_rails()
        except Exception:            # no libsensors on the image
            return {}
        with_power = {name: r.power for name, r in rails.items() if getattr(r, "power", None) is not None}
        for name in INPUT_RAILS:
            if name in with_power:
                return {name: with_power[name]}
        return with_power

    def reprogram(self) -> None:
        self.overlay.download()
        self._bind()
        for ch in (self.sendchannel, self.recvchannel):
            ch.start()

    def describe(self) -> str:
        return f"PYNQ overlay {self.dir / FILES['bitstream']}"

    def close(self) -> None:
        pass


__all__ = ["PynqBackend", "WallClock"]
