"""The generated Vitis HLS project: C simulation with g++ equals the golden model byte for
byte (small configuration), static checks catch what Vitis would reject, and boards that
cannot hold the model are refused with the size of the shortfall."""
import shutil
import subprocess

import pytest

from fsvae_fpga import hwmodel
from fsvae_fpga.codegen.csim import run_csim, static_check
from fsvae_fpga.codegen.hls import CodegenError, HLS_DIR, write_project
from fsvae_fpga.export import export
from fsvae_fpga.golden import quantize_images
from fsvae_fpga.data import load_images
from fsvae_fpga.vectors import write_vectors

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is needed for C simulation")


@pytest.fixture(scope="module")
def small_hw(trained_small_model, tmp_path_factory):
    return hwmodel.load(export(trained_small_model, tmp_path_factory.mktemp("hw") / "small"))


@pytest.fixture(scope="module")
def pynq_project(small_hw, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prj")
    x = quantize_images(load_images("mnist-embedded", "test", 32, limit=5).images.numpy())
    vec = write_vectors(small_hw, x, 5, 3, tmp / "vectors")
    info = write_project(small_hw, "pynq-z2", tmp / "prj", vectors_dir=vec)
    assert info["reconstruction"]
    ok, log = run_csim(tmp / "prj")
    return tmp / "prj", ok, log


def test_csim_equals_golden(pynq_project):
    _, ok, log = pynq_project
    assert ok, log
    assert "generate: 5 images, 0 pixels differ" in log and "reconstruct: 5 images, 0 pixels differ" in log


def test_csim_with_more_lanes_and_another_seed(small_hw, tmp_path):
    """KV260 has 16 lanes: other engine instantiations, same bytes."""
    x = quantize_images(load_images("mnist-embedded", "test", 32, limit=5).images.numpy())
    vec = write_vectors(small_hw, x, 5, 2 ** 32 - 7, tmp_path / "vectors")
    write_project(small_hw, "kv260", tmp_path / "prj", vectors_dir=vec)
    ok, log = run_csim(tmp_path / "prj")
    assert ok, log


def test_csim_detects_a_wrong_expected_byte(pynq_project, tmp_path):
    project, _, _ = pynq_project
    vec = tmp_path / "vectors"
    shutil.copytree(project / "vectors", vec)
    data = bytearray((vec / "gen_expected.bin").read_bytes())
    data[100] ^= 1
    (vec / "gen_expected.bin").write_bytes(bytes(data))
    ok, log = run_csim(project, vectors=vec, rebuild=False)
    assert not ok and "generate: 5 images, 1 pixels differ" in log and "FAIL" in log


def test_generated_code_passes_static_checks(small_hw, tmp_path):
    write_project(small_hw, "kv260", tmp_path / "prj")
    sources = sorted((tmp_path / "prj" / "firmware").glob("*.cpp")) + sorted((HLS_DIR / "fsvae").glob("*.h"))
    assert static_check(sources) == []
    tcl = (tmp_path / "prj" / "build_prj.tcl").read_text()
    assert "xck26-sfvc784-2LV-c" in tcl and "create_clock -period 4.000" in tcl and "export_design" in tcl


def test_static_checks_can_fail(tmp_path):
    bad = tmp_path / "bad.cpp"
    bad.write_text("int f(int n) {\n#pragma HLS FOO\n  int *p = new int[3];\n  for (int i = 0; i < n; ++i) {}\n"
                   "  return f(n - 1);\n}\n")
    problems = "\n".join(static_check([bad]))
    assert "unknown pragma HLS FOO" in problems
    assert "dynamic memory (new)" in problems
    assert "no constant bound or LOOP_TRIPCOUNT" in problems
    assert "f calls itself" in problems


def test_model_too_big_for_the_board_is_refused(small_hw, tmp_path, monkeypatch):
    from fsvae_fpga import boards
    real = boards.board

    def tiny(name):
        b = real(name)
        b["resources"] = dict(b["resources"], bram36=1, uram=0)
        return b
    monkeypatch.setattr(boards, "board", tiny)
    with pytest.raises(CodegenError, match=r"over by \d+ KiB"):
        write_project(small_hw, "pynq-z2", tmp_path / "prj")


def test_make_hls_without_vitis_names_the_tool_and_release():
    from conftest import ROOT
    if shutil.which("vitis_hls"):
        pytest.skip("Vitis HLS is installed here")
    res = subprocess.run(["make", "-s", "hls"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode != 0
    assert "Vitis HLS 2024.1 (vitis_hls) is not on the PATH" in res.stdout + res.stderr


def test_reconstruction_is_dropped_where_only_generation_fits(small_hw, tmp_path, monkeypatch):
    from fsvae_fpga import boards
    from fsvae_fpga.codegen.hls import memory_bits
    real = boards.board
    gen_bits = sum(memory_bits(small_hw, real("pynq-z2"), False).values())
    rec_bits = sum(memory_bits(small_hw, real("pynq-z2"), True).values())
    assert gen_bits < rec_bits

    def sized(name):      # room for generation, not for the encoder and posterior too
        b = real(name)
        need = (gen_bits + rec_bits) / 2 / b["memory_budget"]
        b["resources"] = dict(b["resources"], bram36=int(need // boards.BRAM36_BITS), uram=0)
        return b
    monkeypatch.setattr(boards, "board", sized)
    info = write_project(small_hw, "pynq-z2", tmp_path / "prj")
    assert info["reconstruction"] is False
    assert "#define FSVAE_RECONSTRUCTION 0" in (tmp_path / "prj" / "firmware" / "parameters.h").read_text()
