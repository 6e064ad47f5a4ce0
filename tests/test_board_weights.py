"""Run-time weights on the simulated board: a design whose weight memories are loaded over in_r
(the small model on KV260 settings, every memory of at least 4 kbit loadable, as the top-level
bench builds it), so that load_weights goes through the MM2S channel in several transfers.
A Verilator build (about 1-2 minutes) shared by the tests of this module and by the top-level
bench's kv260 case (sim/fsvae_top), which use the same design folder."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

BOARD = "kv260"
OVERRIDES = {"weight_memory": {"loadable_min_bits": 4096, "style": "ultra"}}


@pytest.fixture(scope="module")
def design():
    import launch
    from fsvae_fpga.contract import hwmodel
    from fsvae_fpga.contract.export import export_shipped
    from fsvae_fpga.toolchain.overlay import write_overlay_files
    work = ROOT / "build" / "board-sim" / f"test-{BOARD}-weights"
    hw_dir = Path(export_shipped("configs/small.yaml", work / "hwmodel"))
    hw = hwmodel.load(hw_dir)
    # the folders the top-level bench's kv260 case builds too (launch.ensure_design: once)
    rtl_dir, build_dir = work / "rtl", work / "sim_build"
    launch.ensure_design(hw, BOARD, rtl_dir, build_dir, overrides=OVERRIDES)
    write_overlay_files(work / "overlay", rtl_dir, hw_dir, BOARD, 1, sim_build_dir=build_dir, board_overrides=OVERRIDES)
    return hw, work / "overlay"


def test_weights_load_in_several_transfers_and_survive_a_reset(design):
    from fsvae_fpga.contract import golden
    from fsvae_fpga.board import FsvaeError, open_overlay
    hw, overlay = design
    manifest = json.loads((overlay / "fsvae.json").read_text())
    words = manifest["weight_load"]["words"]
    with open_overlay(overlay, simulated=True, load_weights=False, timeout_s=0.004, max_transfer_bytes=4096) as drv:
        from fsvae_fpga.codegen import boards
        assert drv.clock_mhz == boards.board("kv260")["clock_mhz"] and not drv.status()["weights_loaded"]
        with pytest.raises(FsvaeError, match="weights are not loaded"):
            drv.generate(1, 3)
        assert drv.load_weights() == {"words": words, "transfers": -(-4 * words // 4096)}
        assert drv.status()["weights_loaded"]
        assert np.array_equal(drv.generate(2, 3, image_base=6), golden.generate(hw, 2, 3, first_image=6))
        drv.reset()                     # ap_rst_n: the weight memories keep their contents
        assert drv.status()["weights_loaded"]
        assert drv.self_test().passed
