"""Weight rows streamed from DDR on the simulated board: the small model on PYNQ-Z2 with prior.2
and decoder_fc streamed (as sim/fsvae_top's pynq-z2-stream case).  The driver copies the
overlay's ddr_weights.bin into a DDR buffer and points weights_base at it; the simulated
core's m_axi_gmem reads that buffer through the DDR model (sim/axi_read_memory.py) of
sim/board_sim/board_server.py.  One Verilator build (about 1-2 minutes) for the module."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

BOARD = "pynq-z2"
OVERRIDES = {"weight_stream": {"layers": ["prior.2", "decoder_fc"]}}


@pytest.fixture(scope="module")
def stream_sim():
    import run_notebook
    return run_notebook.prepare(BOARD, work=ROOT / "build" / "board-sim" / f"test-{BOARD}-stream", n_selftest=2,
                                overrides=OVERRIDES)


@pytest.fixture(scope="module")
def hw(stream_sim):
    from fsvae_fpga.contract import hwmodel
    return hwmodel.load(stream_sim["hwmodel"])


def _ddr_beats(drv) -> int:
    """DDR beats the core has read so far (its perf_*_ddr_beats counters)."""
    return sum(v for k, v in drv.backend.signals().items() if k.startswith("perf_") and k.endswith("_ddr_beats")
               and isinstance(v, int))


def test_the_overlay_carries_the_ddr_image(stream_sim):
    overlay = stream_sim["overlay"]
    manifest = json.loads((overlay / "fsvae.json").read_text())
    ws = manifest["weight_stream"]
    assert [m["layer"] for m in ws["layers"]] == ["prior.2", "decoder_fc"]
    image = (overlay / "ddr_weights.bin").read_bytes()
    assert len(image) == ws["bytes"] and image == (stream_sim["rtl"] / ws["image"]).read_bytes()
    assert "ddr_weights.bin" in json.loads((overlay / "fsvae-overlay.json").read_text())["files"]


def test_the_core_reads_the_drivers_ddr_buffer(stream_sim, hw):
    from fsvae_fpga.board import open_overlay
    from fsvae_fpga.contract import golden
    overlay = stream_sim["overlay"]
    image = np.fromfile(overlay / "ddr_weights.bin", dtype=np.uint8)
    with open_overlay(overlay, simulated=True) as drv:
        assert drv.backend.info["ddr"]
        buf = drv.ddr_weights
        assert buf is not None and buf.physical_address % 4096 == 0 and np.array_equal(np.asarray(buf), image)
        regs = drv.registers()
        assert regs["weights_base"] == buf.physical_address            # read back from the simulated core
        before = _ddr_beats(drv)
        got = drv.generate(2, 11, image_base=1)
        assert np.array_equal(got, golden.generate(hw, 2, 11, first_image=1))
        assert _ddr_beats(drv) > before, "the core read no weight rows from DDR"

        # the DDR buffer is what the core reads: other bytes there, other images
        saved = np.asarray(buf).copy()
        np.asarray(buf)[:] = 0x7F
        buf.flush()
        assert not np.array_equal(drv.generate(1, 11, image_base=1), got[:1])
        np.asarray(buf)[:] = saved
        buf.flush()
        assert np.array_equal(drv.generate(1, 11, image_base=1), got[:1])

        # a reset clears weights_base; the driver writes it again and DDR kept the rows
        drv.reset()
        assert drv.self_test().passed
    assert drv.ddr_weights is None                                      # freed with the driver
