"""codegen rtl's output folder: a generation that stops half way leaves a folder marked as
the generator's own but incomplete, which the simulator and the estimate refuse by name and
the next generation replaces; a folder the generator did not write is never touched."""
from __future__ import annotations

import json

import pytest

from fsvae_fpga.codegen import rtl, rtl_top
from fsvae_fpga.codegen.design import CodegenError


@pytest.fixture(scope="module")
def small_hw(tmp_path_factory):
    from fsvae_fpga.contract.export import export
    from fsvae_fpga.contract.hwmodel import load
    from fsvae_fpga.training.checkpoint import SHIPPED_DIR, load_model
    model, _ = load_model(SHIPPED_DIR.parent / "small" / "model.pt")
    return load(export(model, tmp_path_factory.mktemp("hw") / "small"))


def test_a_stopped_generation_is_marked_incomplete_and_replaced(small_hw, tmp_path, monkeypatch):
    import rtl_sim
    from fsvae_fpga.toolchain.estimate import EstimateError, read_manifest
    out = tmp_path / "rtl"

    def stop(self):
        raise KeyboardInterrupt
    with monkeypatch.context() as m:
        m.setattr(rtl_top.TopBody, "render", stop)
        with pytest.raises(KeyboardInterrupt):
            rtl.write_rtl(small_hw, "pynq-z2", out)
    marker = json.loads((out / "manifest.json").read_text())
    assert marker == {"format": "fsvae-rtl", "complete": False}
    with pytest.raises(FileNotFoundError, match="did not finish"):
        rtl_sim.manifest(out)
    with pytest.raises(EstimateError, match="did not finish"):
        read_manifest(out)
    manifest = rtl.write_rtl(small_hw, "pynq-z2", out)          # ours: replaced
    assert manifest["complete"] is True and rtl_sim.manifest(out)["sources"] == manifest["sources"]


def test_a_foreign_folder_is_refused_and_left_alone(small_hw, tmp_path):
    out = tmp_path / "mine"
    (out / "rtl").mkdir(parents=True)
    (out / "rtl" / "notes.txt").write_text("keep")
    with pytest.raises(CodegenError, match="not a folder written by codegen rtl"):
        rtl.write_rtl(small_hw, "pynq-z2", out)
    assert (out / "rtl" / "notes.txt").read_text() == "keep" and not (out / "manifest.json").exists()
