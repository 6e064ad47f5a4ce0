"""Board side: the driver for the accelerator on a PYNQ board, and the simulated board.

Runs on the board's Python (standard library, numpy and pynq only); the overlay folder
carries a copy of this package (fsvae_fpga.toolchain.overlay.write_overlay_files).

    from fsvae_fpga.board import open_overlay
    fsvae = open_overlay("/home/xilinx/jupyter_notebooks/fsvae")          # on the board
    fsvae = open_overlay("build/board-sim/pynq-z2/overlay", simulated=True)   # RTL in Verilator
    images = fsvae.generate(16, seed=7)        # uint8 (16, C, H, W) == golden.generate(hw, 16, 7)
"""
from .driver import (FsvaeDriver, FsvaeError, FsvaeTimeout, IdentityMismatch, SelfTestResult, ThroughputReport,
                     Unsupported, decode_dmasr, open_overlay)

__all__ = ["FsvaeDriver", "FsvaeError", "FsvaeTimeout", "IdentityMismatch", "SelfTestResult", "ThroughputReport",
           "Unsupported", "decode_dmasr", "open_overlay"]
