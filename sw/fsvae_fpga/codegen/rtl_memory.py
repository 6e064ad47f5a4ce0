"""Block RAM of the RTL design's layer state, counted as synthesis places it.

Every engine keeps its state in ``fsvae_state_ram`` (hw/rtl): the scatter engine's
accumulated currents (one memory per engine copy) and the LIF update's membranes with their
spike bits (one memory per layer).  A memory is ``lanes`` values wide and ``neurons / lanes``
words deep; ``fsvae_state_ram`` puts one of at most LUTRAM_DEPTH words in LUTs and a deeper one
in block RAM, and this module makes the same choice, so that the balance plan
(codegen/balance.py) can tell whether another engine copy still fits the board's block RAM.
A block-RAM memory takes ``hls_memory.bram18_blocks`` (simple dual port: 512 x 36 and the
narrower shapes); Yosys maps these memories the same way (checked by ``make estimate``).
"""
from __future__ import annotations

import math

from fsvae_fpga.codegen.hls_memory import bram18_blocks
from fsvae_fpga.contract.hwmodel import HwModel

LUTRAM_DEPTH = 128      # fsvae_state_ram's LUTRAM_DEPTH: the deepest memory kept in LUTs


def ram_bram18(depth: int, width: int) -> int:
    """BRAM18 blocks of one fsvae_state_ram (0: it is in LUTs)."""
    return 0 if depth <= LUTRAM_DEPTH else bram18_blocks(depth, width, True)


def layer_state_bram18(hw: HwModel, name: str, lanes: int, copies: int = 1, fused: bool = False,
                       lutram_copies: int = 0) -> int:
    """BRAM18 blocks of a layer's state: ``copies`` current memories (membranes when ``fused``)
    but those of the ``lutram_copies`` kept in LUTs, and, unless fused, the membrane + spike
    memory of its LIF update."""
    from fsvae_fpga.codegen.design import layer_widths      # (design imports the planner)
    widths = layer_widths(hw.layer(name))
    words = math.prod(hw.layer(name)["out_shape"]) // lanes
    blocks = (copies - lutram_copies) * ram_bram18(words, lanes * widths["mem" if fused else "acc"])
    if not fused:
        blocks += ram_bram18(words, lanes * (widths["mem"] + 1))
    return blocks


def bram18_available(board: dict) -> int:
    """The BRAM18 blocks the layer state may take: the board's memory budget of its block RAM."""
    return int(2 * board["resources"].get("bram36", 0) * board["memory_budget"])


def copy_lutram_luts(hw: HwModel, name: str, lanes: int) -> int:
    """LUTs of one engine copy's currents kept in distributed RAM (fsvae_current_acc
    STATE_LUTRAM: a copy the block RAM has no room for), by ``hls_memory.lutram_luts``."""
    from fsvae_fpga.codegen.design import layer_widths
    from fsvae_fpga.codegen.hls_memory import lutram_luts
    words = math.prod(hw.layer(name)["out_shape"]) // lanes
    return lutram_luts(words, lanes * layer_widths(hw.layer(name))["acc"], False)
