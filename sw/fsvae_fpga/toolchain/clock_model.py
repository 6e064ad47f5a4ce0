"""The clock a logic depth supports, per FPGA family, and the PL clocks a Zynq can make.

Clock model (``supported_clock_mhz``): each family has a working limit, the LUT levels a
clean design meets at one anchor clock: 6 levels at 250 MHz on UltraScale+ -2 / -2LV (K26),
10 levels at 100 MHz on 7-series -1 (xc7z020).  A LUT level including its routing then
costs anchor period / anchor levels (0.667 ns and 1.0 ns), a carry cell 0.15 of a level
(the hop through a 4-bit carry block is ~0.1 ns, entering a chain more), a DSP stage
without its register 3 levels (a multiply without MREG/PREG is 2-4 ns).  The clock a path
supports is 1 / (levels x cost), capped at a ceiling; the slowest endpoint by that measure
sets the design's.  ZCU104's xczu7ev -2 uses the K26 figures.  These are rules of thumb
for planning, not a timing analysis: Vivado's placement decides.  Yosys's LUT mapping
(ABC, delay-driven with per-pin LUT delays) is not level-optimal: a 36-input XOR comes
out 3 levels deep and a 1296-input one 7, where 2 and 4 suffice; wide reductions and LUT
ROMs read deeper here than Vivado will make them.
"""
from __future__ import annotations

import math

from fsvae_fpga.codegen import boards

# --- clock model ------------------------------------------------------------------------------
# Working limits per Yosys family: LUT levels a clean design meets at the anchor clock on the
# anchor part (with its routing, clock-to-out, setup and clock uncertainty folded in).
# UltraScale+ parts of speed grade -2 or -2LV (KV260's xck26 -2LV, ZCU104's xczu7ev -2) share
# the xcup anchor: the ZCU104's -2 may be slightly faster than the K26, which this model does
# not claim.  Ceiling: no clock above it is suggested whatever the depth (clock
# network, block RAM and DSP limits of a design that is not pipelined for them).
CLOCK_MODEL = {
    "xcup": {"anchor": "K26 -2LV", "anchor_mhz": 250.0, "anchor_levels": 6, "ceiling_mhz": 450.0},
    "xc7": {"anchor": "xc7z020 -1", "anchor_mhz": 100.0, "anchor_levels": 10, "ceiling_mhz": 250.0},
}
CARRY_LEVEL = 0.15          # a carry cell (CARRY4 as Yosys maps them) on the path, in LUT levels
DSP_STAGE_LEVELS = 3.0      # a DSP48 stage passed through without a register, in LUT levels

# PL clocks the processing system can make: a PLL output over two 6-bit dividers.  Assumed
# PLL rates: Zynq-7000, the IO PLL at 1000 MHz (the PYNQ-Z2 setting); Zynq UltraScale+, the
# IO PLL at 1500 MHz (1499.985 MHz as Vivado's PS configuration sets it, which the build
# script's stand-in models and whose clock the script checks to 0.5 %).
PL_PLL_MHZ = {"xc7": (1000.0,), "xcup": (1500.0,)}


def clock_model(board: str) -> dict:
    b = boards.board(board)
    family = b["yosys_family"]
    if family not in CLOCK_MODEL:
        raise boards.BoardError(f"no logic-depth clock model for Yosys family {family!r} (board {board})")
    m = dict(CLOCK_MODEL[family])
    m["family"] = family
    m["ns_per_level"] = round(1000.0 / (m["anchor_mhz"] * m["anchor_levels"]), 4)
    # the number of levels that fits the board's configured clock
    m["clock_mhz"] = float(b["clock_mhz"])
    m["limit_levels"] = levels_for_clock(board, m["clock_mhz"])
    return m


def levels_for_clock(board: str, mhz: float) -> int:
    """The most LUT levels (no carry) a path may have at ``mhz`` on ``board``'s part."""
    m = CLOCK_MODEL[boards.board(board)["yosys_family"]]
    return int(math.floor(m["anchor_levels"] * m["anchor_mhz"] / mhz + 1e-9))


def path_levels(lut_levels: float, carry_levels: float = 0, dsp_stages: float = 0) -> float:
    """A path in LUT levels of delay: carry cells and unregistered DSP stages weighted."""
    return lut_levels + CARRY_LEVEL * carry_levels + DSP_STAGE_LEVELS * dsp_stages


def supported_clock_mhz(board: str, lut_levels: float, carry_levels: float = 0,
                        dsp_stages: float = 0) -> float:
    """The highest clock (MHz) a path of ``lut_levels`` LUT levels, ``carry_levels`` carry
    cells and ``dsp_stages`` unregistered DSP stages supports on ``board``'s part under the
    model above (capped at the family ceiling)."""
    m = CLOCK_MODEL[boards.board(board)["yosys_family"]]
    levels = max(1.0, path_levels(lut_levels, carry_levels, dsp_stages))
    ns = levels * 1000.0 / (m["anchor_mhz"] * m["anchor_levels"])
    return round(min(m["ceiling_mhz"], 1000.0 / ns), 1)


def pl_clock_mhz(board: str, mhz: float) -> float:
    """The highest PL clock at or below ``mhz`` that the board's processing system can make."""
    family = boards.board(board)["yosys_family"]
    best = 0.0
    for pll in PL_PLL_MHZ.get(family, (1000.0,)):
        n = max(1, math.ceil(pll / mhz - 1e-9))
        if n <= 63 * 63:
            best = max(best, pll / n)
    return math.floor(best * 10 + 1e-6) / 10


