"""The board driver (sw/fsvae_fpga/board) on the simulated board: the generated PYNQ-Z2 RTL of
the small configuration in Verilator behind an AXI DMA model (sim/board_sim), against the
golden model.  One Verilator build and one simulated board serve the whole module."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

BOARD = "pynq-z2"
TIMEOUT_S = 0.004            # board seconds per wait: 400k cycles, ~4x the first image's latency


@pytest.fixture(scope="module")
def board_sim():
    """Hardware model, RTL, Verilator build and simulated overlay folder (incremental: a rerun
    reuses the build while the design's sha256 is unchanged)."""
    import run_notebook
    return run_notebook.prepare(BOARD, work=ROOT / "build" / "board-sim" / f"test-{BOARD}", n_selftest=2)


@pytest.fixture(scope="module")
def hw(board_sim):
    from fsvae_fpga.contract import hwmodel
    return hwmodel.load(board_sim["hwmodel"])


@pytest.fixture(scope="module")
def drv(board_sim):
    """The driver on the simulated board; runs of at most two images (split runs)."""
    from fsvae_fpga.board import open_overlay
    image_bytes = int(np.prod(json.loads((board_sim["overlay"] / "fsvae.json").read_text())["image_shape"]))
    d = open_overlay(board_sim["overlay"], simulated=True, timeout_s=TIMEOUT_S, max_transfer_bytes=2 * image_bytes)
    yield d
    d.close()
    assert d.backend.proc.poll() is not None, "the simulated board outlived close()"


def test_generate_equals_golden_two_seeds_and_split_runs(drv, hw):
    from fsvae_fpga.contract import golden
    assert drv.images_per_run == 2
    got = drv.generate(3, 2 ** 32 - 5)                     # runs of 2 + 1 images
    assert drv.last_times.runs == 2
    want = golden.generate(hw, 3, 2 ** 32 - 5)
    assert got.dtype == np.uint8 and got.shape == want.shape
    assert np.array_equal(got, want)
    got = drv.generate(1, 77, image_base=5)
    assert np.array_equal(got, golden.generate(hw, 1, 77, first_image=5))
    t = drv.last_times
    assert 0 < t.compute_s <= t.run_s <= t.total_s < 0.01    # simulated board time, not wall time


def test_self_test_passes(drv):
    result = drv.self_test()
    assert result.passed, str(result)
    assert len(result.cases) == 2 and all(c["equal"] for c in result.cases)
    assert "self-test passed" in str(result)


def _timeout_under_fault(drv, seed, fault, **params):
    """generate(1, seed) with a fault injected into the simulated board: the FsvaeTimeout it
    raises.  The timeout is long enough (in board cycles, whatever the clock) for image 0 to
    reach the output stage; afterwards the fault is cleared and the board reset."""
    from fsvae_fpga.board import FsvaeTimeout
    drv.backend.inject_fault(fault, **params)
    saved, drv.timeout_s = drv.timeout_s, 150_000 / (drv.clock_mhz * 1e6)
    try:
        with pytest.raises(FsvaeTimeout) as err:
            drv.generate(1, seed)
    finally:
        drv.timeout_s = saved
        drv.backend.clear_faults()
        drv.reset()
    return err.value


def test_stalled_out_r_times_out_naming_channel_units_and_registers(drv):
    e = _timeout_under_fault(drv, 3, "stall_out_r", after_words=0)
    msg = str(e)
    assert "S2MM" in e.waiting_on and "output_sum" in e.waiting_on, msg
    assert "DMA channel S2MM (out_r -> memory) not idle" in msg and "running, not idle" in msg
    assert "Core units still busy:" in msg and "output_sum" in msg
    for reg in ("CTRL=0x", "status=0x", "progress=", "engines_busy=0x", "MM2S_DMASR=0x", "S2MM_DMASR=0x"):
        assert reg in msg, f"{reg} missing from: {msg}"
    assert {"CTRL", "status", "progress", "engines_busy", "MM2S_DMASR", "S2MM_DMASR"} <= set(e.registers)
    assert "reset()" in msg


def test_mid_run_reset_then_generate_equals_golden(drv, hw):
    """A run stopped half way (core busy, S2MM waiting for image 1): reset(), then the next
    generate gives the golden images again."""
    from fsvae_fpga.contract import golden
    be, r, img = drv.backend, drv.reg, drv.image_bytes
    with be.allocate((3 * img,), np.uint8) as buf:
        for name, value in (("seed", 11), ("n_images", 3), ("image_base", 0), ("mode", drv.mode_values["generate"])):
            be.core.write(r[name], value)
        be.recvchannel.transfer(buf, 0, img)
        be.core.write(r["CTRL"], 1)
        deadline = be.clock.now() + TIMEOUT_S
        while not be.recvchannel.idle:
            assert be.clock.now() < deadline, "image 0 did not arrive"
            be.clock.pause(20e-6)
        be.inject_fault("stall_out_r", after_words=100)    # image 1 stops half way, whatever the timing
        be.recvchannel.transfer(buf, img, img)
        be.clock.pause(200e-6)
        assert be.core.read(r["engines_busy"]) and not be.core.read(r["CTRL"]) & 4, "not mid-run"
        be.clear_faults()
    drv.reset()
    assert be.core.read(r["CTRL"]) & 4 and be.core.read(r["engines_busy"]) == 0
    assert np.array_equal(drv.generate(2, 11, image_base=1), golden.generate(hw, 2, 11, first_image=1))


def test_s2mm_that_never_starts_is_named(drv):
    """An S2MM length write that never takes (the channel reads idle from the last transfer)
    must not pass for a received image."""
    assert drv.backend.recvchannel.idle, "needs a finished S2MM transfer before (previous test)"
    e = _timeout_under_fault(drv, 5, "drop_s2mm_start")
    assert "never started" in str(e) and "S2MM" in e.waiting_on


def test_identity_mismatch_is_refused(drv, board_sim, tmp_path):
    from fsvae_fpga.board import FsvaeDriver, IdentityMismatch
    other = tmp_path / "overlay"
    shutil.copytree(board_sim["overlay"], other)
    m = json.loads((other / "fsvae.json").read_text())
    m["identity"] ^= 0x1
    (other / "fsvae.json").write_text(json.dumps(m))
    with pytest.raises(IdentityMismatch) as err:
        FsvaeDriver(drv.backend, other)             # what open_overlay does first
    msg = str(err.value)
    assert f"0x{m['identity'] ^ 1:08x}" in msg and f"0x{m['identity']:08x}" in msg
    assert "different builds" in msg
    assert drv.check_identity() == m["identity"] ^ 1     # the matching folder still opens


def test_reconstruct_is_refused_where_the_design_lacks_it(drv):
    from fsvae_fpga.board import Unsupported
    assert "reconstruct" not in drv.modes
    with pytest.raises(Unsupported, match="no reconstruct mode"):
        drv.reconstruct(np.zeros((1, *drv.image_shape), np.int8))


def test_throughput_reports_simulated_time_and_no_power(drv):
    rep = drv.throughput_test(1, seed=4)
    assert rep["images"] == 1 and rep["images_per_s"] > 0 and rep["power_w"] is None
    assert "simulated time" in rep["clock"] and "power: not available" in str(rep)
    assert 10_000 < rep["cycles_per_image"] < 1_000_000


def test_board_side_modules_import_only_stdlib_numpy_and_pynq(board_sim):
    """The driver, the simulated back end and the golden-model copies in the overlay folder
    import nothing outside the standard library, numpy and pynq."""
    code = textwrap.dedent(f"""
        import importlib.abc, sys
        BLOCKED = ("torch", "brevitas", "cocotb", "cocotb_tools", "cocotbext", "yaml", "PIL", "pynq")
        class Refuse(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError("refused: " + name)
        sys.meta_path.insert(0, Refuse())
        sys.path.insert(0, {str(board_sim["overlay"])!r})
        before = set(sys.modules)
        import fsvae_fpga.board.driver, fsvae_fpga.board.simulated, fsvae_fpga.board.pynq_backend
        import fsvae_fpga.board.show, fsvae_fpga.board.wire
        import fsvae_fpga.contract.golden, fsvae_fpga.contract.hwmodel, fsvae_fpga.contract.sampler
        assert fsvae_fpga.__file__.startswith({str(board_sim["overlay"])!r}), fsvae_fpga.__file__
        new = {{m.split(".")[0] for m in set(sys.modules) - before}}
        extra = sorted(m for m in new if m not in sys.stdlib_module_names and m not in ("numpy", "fsvae_fpga", "cython_runtime")
                       and not m.startswith("_"))
        print(extra)
        assert not extra, extra
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert res.returncode == 0, res.stdout + res.stderr


def test_overlay_writer_never_takes_a_foreign_folder(board_sim, tmp_path):
    from fsvae_fpga.toolchain.overlay import OverlayError, write_overlay_files
    args = (board_sim["rtl"], board_sim["hwmodel"], BOARD)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OverlayError, match="not written by write_overlay_files"):
        write_overlay_files(foreign, *args, n_selftest=1)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    vivado = tmp_path / "vivado"                    # what the Vivado flow leaves before calling us
    vivado.mkdir()
    (vivado / "fsvae.bit").write_bytes(b"bit")
    (vivado / "fsvae.hwh").write_text("hwh")
    write_overlay_files(vivado, *args, n_selftest=1)
    write_overlay_files(vivado, *args, n_selftest=1)   # ours now: rewritten in place
    marker = json.loads((vivado / "fsvae-overlay.json").read_text())
    assert (vivado / "fsvae.bit").read_bytes() == b"bit" and "fsvae.bit" in marker["files"]
    assert (vivado / "fsvae_fpga" / "board" / "driver.py").is_file() and (vivado / "generate.ipynb").is_file()
    with pytest.raises(OverlayError, match="generated for board"):
        write_overlay_files(tmp_path / "other", board_sim["rtl"], board_sim["hwmodel"], "kv260")


def test_notebook_runs_headless_on_the_simulated_board(board_sim, tmp_path):
    """sim/board_sim/run_notebook.py: self-test, images, golden side by side, throughput."""
    nbformat = pytest.importorskip("nbformat", reason="needs nbformat, nbclient, ipykernel (requirements.txt)")
    pytest.importorskip("nbclient", reason="needs nbclient (requirements.txt)")
    pytest.importorskip("ipykernel", reason="needs ipykernel (requirements.txt)")
    out = tmp_path / "generate.ipynb"
    res = subprocess.run([sys.executable, str(ROOT / "sim" / "board_sim" / "run_notebook.py"), "--board", BOARD,
                          "--work", str(board_sim["work"]), "--out", str(out), "--n", "2", "--n-throughput", "1",
                          "--n-selftest", "2"], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs)
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
    assert "self-test passed" in text and "pixels equal the golden model" in text and "images/s" in text
    assert not any(o.output_type == "error" for o in outputs)
