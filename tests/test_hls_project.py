"""The generated Vitis HLS project: C simulation with g++ drives the top function through every
mode of hw/interface.yaml and equals the golden model byte for byte (small configuration);
the project is self-contained (it compiles after a move); the load_weights blob is the RTL's;
memories are counted in blocks by bank geometry and boards that cannot hold the design are
refused with the shortfall in blocks; static checks catch what Vitis would reject.  Designs that
stream weight rows from DDR get the pointer weights_base (m_axi_gmem) at hw/interface.yaml's
offset, no arrays for the streamed weights, and equal the golden model with the DDR image the
testbench passes.  Layers whose plan scatters events in pairs run lif_linear_step_pairs on
two-port weight memories, bit-exact too."""
import dataclasses
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT
from fsvae_fpga.codegen import boards
from fsvae_fpga.contract import hwmodel
from fsvae_fpga.codegen import hls, hls_memory
from fsvae_fpga.toolchain.csim import run_csim, static_check
from fsvae_fpga.codegen.design import ddr_weight_image, ddr_weight_layout, describe
from fsvae_fpga.codegen.hls import CodegenError, write_project
from fsvae_fpga.contract.export import export
from fsvae_fpga.contract.golden import quantize_images
from fsvae_fpga.data import load_images
from fsvae_fpga.contract.vectors import write_vectors

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is needed for C simulation")

# small enough that the small configuration loads several layers at run time (linear and
# transposed-conv memories, as the RTL writer's rule picks them)
LOAD_SMALL = {"weight_memory": {"loadable_min_bits": 8000}}


@pytest.fixture(scope="module")
def small_hw(trained_small_model, tmp_path_factory):
    return hwmodel.load(export(trained_small_model, tmp_path_factory.mktemp("hw") / "small"))


def _vectors(hw, n, seed, path):
    x = quantize_images(load_images("mnist-embedded", "test", 32, limit=n).images.numpy())
    return write_vectors(hw, x, n, seed, path)


def _texts(folder):
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "csim" and path.suffix != ".bin":
            yield path, path.read_text()


@pytest.fixture(scope="module")
def pynq_project(small_hw, tmp_path_factory):
    """Small model, PYNQ-Z2, reconstruction and run-time loaded weights; written in one folder,
    then moved to another and simulated there."""
    tmp = tmp_path_factory.mktemp("prj")
    vec = _vectors(small_hw, 5, 3, tmp / "vectors")
    info = write_project(small_hw, "pynq-z2", tmp / "written", vectors_dir=vec, identity=0x1234abcd,
                         overrides=LOAD_SMALL)
    assert info["reconstruction"] and info["weight_load"]["words"] > 0
    moved = tmp / "elsewhere" / "prj"
    moved.parent.mkdir()
    shutil.move(tmp / "written", moved)
    ok, log = run_csim(moved)
    return moved, info, ok, log


def test_csim_runs_every_mode_and_equals_golden(pynq_project):
    _, info, ok, log = pynq_project
    assert ok, log
    words = info["weight_load"]["words"]
    assert "mode 7 (no such mode): status 0x702, nothing sent" in log            # error_mode, has_* bits
    assert "generate before load_weights: status 0x704, nothing sent" in log      # error_no_weights
    assert f"load_weights: {words} of {words} words taken, status 0x701" in log  # TLAST mid-blob ignored
    assert "generate: 5 images, 0 pixels differ" in log and "reconstruct: 5 images, 0 pixels differ" in log
    assert "read while empty" not in log and "leftover" not in log, log          # refused starts take nothing


def test_project_is_self_contained(pynq_project):
    """It compiled and passed after the move (above); no text in it names the checkout or the
    folder it was written in, and it carries the library it includes."""
    project, _, ok, _ = pynq_project
    assert ok
    written = project.parent.parent / "written"
    for path, text in _texts(project):
        assert str(ROOT) not in text and str(written) not in text, path
    assert sorted(p.name for p in (project / "firmware" / "fsvae").iterdir()) == sorted(hls.LIBRARY)
    tcl = (project / "build_prj.tcl").read_text()
    assert "-I" not in tcl and "cosim_design -argv {vectors 1}" in tcl and "-DFSVAE_CHECK_DEPENDENCE" in tcl


def test_csim_detects_a_wrong_expected_byte(pynq_project, tmp_path):
    project, _, _, _ = pynq_project
    vec = tmp_path / "vectors"
    shutil.copytree(project / "vectors", vec)
    data = bytearray((vec / "gen_expected.bin").read_bytes())
    data[100] ^= 1
    (vec / "gen_expected.bin").write_bytes(bytes(data))
    ok, log = run_csim(project, vectors=vec, rebuild=False)
    assert not ok and "generate: 5 images, 1 pixels differ" in log and "FAIL" in log


def test_csim_detects_a_wrong_weight_word(pynq_project, tmp_path):
    """The loaded weights are used: one flipped blob bit changes images."""
    project, _, _, _ = pynq_project
    vec = tmp_path / "vectors"
    shutil.copytree(project / "vectors", vec)
    blob = bytearray((vec / "weights.bin").read_bytes())
    for i in range(0, len(blob), 4):
        blob[i] ^= 0x40                 # every word's lane 0, bit 6: an error no image escapes
    (vec / "weights.bin").write_bytes(bytes(blob))
    ok, log = run_csim(project, vectors=vec, rebuild=False)
    assert not ok and "generate: 5 images, 0 pixels differ" not in log


def test_weight_blob_is_the_rtl_blob(pynq_project, small_hw, tmp_path):
    """Same board settings, same layers loaded, same bytes as codegen rtl's mem/weights.bin."""
    from fsvae_fpga.codegen.rtl import write_rtl
    project, info, _, _ = pynq_project
    manifest = write_rtl(small_hw, "pynq-z2", tmp_path / "rtl", overrides=LOAD_SMALL)
    assert [m["layer"] for m in manifest["weight_load"]["memories"]] == info["memory"]["loaded_layers"]
    assert manifest["weight_load"]["memories"] == info["weight_load"]["memories"]
    assert (tmp_path / "rtl" / "mem" / "weights.bin").read_bytes() == (project / "vectors" / "weights.bin").read_bytes()
    params = (project / "firmware" / "parameters.h").read_text()
    assert f"#define FSVAE_WEIGHT_WORDS {manifest['weight_load']['words']}" in params
    assert "#define FSVAE_IDENTITY 0x1234abcdu" in params
    weights_h = (project / "firmware" / "weights.h").read_text()
    for layer in info["memory"]["loaded_layers"]:            # RAMs, not ROM initialisers
        assert f"{hls.cname(layer)}_weight[" not in weights_h


def test_csim_generation_only_build_with_wide_words(small_hw, tmp_path):
    """KV260's 32 lanes (its balance plan off: a loaded memory word is 8 stream words, in URAM), reconstruction left
    out: mode reconstruct is refused like any mode the design lacks, and no reader of in_r for
    images is generated."""
    vec = _vectors(small_hw, 3, 2 ** 32 - 7, tmp_path / "vectors")
    info = write_project(small_hw, "kv260", tmp_path / "prj", vectors_dir=vec,
                         overrides={**LOAD_SMALL, "reconstruction": False, "balance": None})
    assert not info["reconstruction"]
    assert any(m["words_per_entry"] == 8 for m in info["weight_load"]["memories"])
    core = (tmp_path / "prj" / "firmware" / "fsvae_core.cpp").read_text()
    assert "#define FSVAE_RECONSTRUCTION 0" in (tmp_path / "prj" / "firmware" / "parameters.h").read_text()
    assert "impl=uram" in core
    ok, log = run_csim(tmp_path / "prj")
    assert ok, log
    assert "reconstruct (not in this design): status 0x502, nothing sent" in log
    assert "generate: 3 images, 0 pixels differ" in log
    assert not any(line.startswith("reconstruct:") for line in log.splitlines())


def test_csim_with_balanced_lanes_equals_golden(small_hw, tmp_path):
    """KV260's balance plan (codegen/balance.py): lanes per layer from the measured events, so
    that neighbouring layers differ in lanes (an engine's mask words feed a consumer of other
    lanes); C simulation bit-exact."""
    from fsvae_fpga.codegen.design import describe
    board = describe(small_hw, {**boards.board("kv260"), **LOAD_SMALL}).board
    lanes = board["layer_lanes"]
    assert len(set(lanes.values())) > 1, lanes
    vec = _vectors(small_hw, 2, 9, tmp_path / "vectors")
    write_project(small_hw, "kv260", tmp_path / "prj", vectors_dir=vec, overrides={**LOAD_SMALL, "reconstruction": False})
    params = (tmp_path / "prj" / "firmware" / "parameters.h").read_text()
    for name, p in lanes.items():
        assert f"static const int {hls.cname(name)}_P = {p};" in params, name
    ok, log = run_csim(tmp_path / "prj")
    assert ok, log
    assert "generate: 2 images, 0 pixels differ" in log


# KV260 with event pairs on the small model: lanes held at 8, so that the balance plan pairs the
# linear layers of the prior and decoder_fc (as sim/fsvae_top's kv260-pairs bench), their
# weights loaded at run time into UltraRAM
PAIRS_SMALL = {"weight_memory": {"loadable_min_bits": 4096, "style": "ultra"},
               "balance": {**boards.board("kv260")["balance"], "max_lanes": 8}}


def _linear_steps(core: str) -> dict[str, str]:
    """The engine each on-chip linear layer runs in fsvae_core.cpp, by C name."""
    return dict((n, step) for step, n in re.findall(r"fsvae::(lif_linear_step\w*)<[^;]*?\(\w+, \w+, (\w+)_weight,", core))


def _weight_storage(core: str) -> dict[str, str]:
    """Every weight array's BIND_STORAGE type, by C name."""
    return dict(re.findall(r"BIND_STORAGE variable=(\w+)_weight type=(\w+) ", core))


def test_csim_with_event_pairs_equals_golden(small_hw, tmp_path):
    """The layers the plan pairs (LayerPlan.event_pairs) run lif_linear_step_pairs on two-port
    weight memories (ram_2p: written by load_weights, read twice a cycle), the others
    lif_linear_step; C simulation bit-exact in every mode."""
    board = describe(small_hw, {**boards.board("kv260"), **PAIRS_SMALL}).board
    assert board["event_pairs"] == ["prior.0", "prior.1", "prior.2", "decoder_fc"]
    vec = _vectors(small_hw, 2, 13, tmp_path / "vectors")
    info = write_project(small_hw, "kv260", tmp_path / "prj", vectors_dir=vec, overrides=PAIRS_SMALL)
    assert info["reconstruction"]
    fw = tmp_path / "prj" / "firmware"
    core = (fw / "fsvae_core.cpp").read_text()
    steps, storage = _linear_steps(core), _weight_storage(core)
    linear = small_hw.names("prior") + small_hw.names("posterior") + ["decoder_fc", "encoder_fc"]
    assert sorted(steps) == sorted(hls.cname(n) for n in linear)
    for name in linear:
        n, paired = hls.cname(name), name in board["event_pairs"]
        assert steps[n] == ("lif_linear_step_pairs" if paired else "lif_linear_step"), name
        assert storage[n] == ("ram_2p" if paired else "rom_1p"), name
    assert static_check(sorted(fw.glob("*.cpp")) + sorted((fw / "fsvae").glob("*.h"))) == []
    ok, log = run_csim(tmp_path / "prj")
    assert ok, log
    words = info["weight_load"]["words"]
    assert f"load_weights: {words} of {words} words taken, status 0x701" in log
    assert "generate: 2 images, 0 pixels differ" in log and "reconstruct: 2 images, 0 pixels differ" in log


def test_two_port_weight_memories():
    """A weight array read by event pairs is a two-port memory: rom_2p (ram_2p where load_weights
    writes it), the same block RAM and UltraRAM (their second port), twice the LUTs as a LUT ROM
    (a second copy), RAM64X1D as LUT RAM."""
    rom = hls_memory.Memory("w", "signed char", (10, 64), 8, "weight", "rom", lanes=8, dim=2, layout="reshape",
                            impl="lutram")
    two = dataclasses.replace(rom, read_ports=2)
    assert rom.pragmas()[-1] == "#pragma HLS BIND_STORAGE variable=w type=rom_1p impl=lutram"
    assert two.pragmas()[-1] == "#pragma HLS BIND_STORAGE variable=w type=rom_2p impl=lutram"
    assert two.blocks()["lut"] == 2 * rom.blocks()["lut"] > 0
    assert all(two.blocks(impl) == rom.blocks(impl) for impl in ("bram", "uram"))
    load = dataclasses.replace(two, storage="load", impl="uram")
    assert load.pragmas()[-1] == "#pragma HLS BIND_STORAGE variable=w type=ram_2p impl=uram"
    # 80 words of 64 bits: RAM64X1D, 2 LUTs a bit in each of 2 slices (one read port: RAM64M8)
    assert load.blocks("lutram")["lut"] == 2 * 2 * 64
    assert dataclasses.replace(load, read_ports=1).blocks("lutram")["lut"] == 2 * 8 * 10


def test_csim_without_run_time_weights(small_hw, tmp_path):
    """Nothing to load (the board's default for the small model): load_weights ends at once,
    weights already loaded, no error; generation runs without a load."""
    vec = _vectors(small_hw, 2, 11, tmp_path / "vectors")
    info = write_project(small_hw, "pynq-z2", tmp_path / "prj", vectors_dir=vec)
    assert info["weight_load"] is None and not (tmp_path / "prj" / "vectors" / "weights.bin").exists()
    # no identity given: the register reports the hardware model's, as the RTL's does
    params = (tmp_path / "prj" / "firmware" / "parameters.h").read_text()
    assert f"#define FSVAE_IDENTITY 0x{small_hw.identity32:08x}u" in params
    ok, log = run_csim(tmp_path / "prj", images=1)
    assert ok, log
    assert "load_weights (no run-time weights): status 0x701, nothing sent" in log
    assert "generate: 1 images, 0 pixels differ" in log and "reconstruct: 1 images, 0 pixels differ" in log


def test_vectors_of_another_model_are_refused(small_hw, tmp_path):
    """Vectors follow one hardware model (vectors.json hwmodel_identity): an edited model,
    identity recomputed, is another model."""
    vec = _vectors(small_hw, 1, 5, tmp_path / "vectors")
    other = tmp_path / "other"
    shutil.copytree(small_hw.path, other)
    desc = json.loads((other / "hwmodel.json").read_text())
    desc["output"]["decay_frac_bits"] += 1
    desc["identity"] = hwmodel.identity(desc)
    (other / "hwmodel.json").write_text(json.dumps(desc))
    with pytest.raises(CodegenError, match=f"made from hardware model {small_hw.identity[:12]}, not "
                                           f"{hwmodel.identity(desc)[:12]}.*regenerate them"):
        write_project(hwmodel.load(other), "pynq-z2", tmp_path / "prj", vectors_dir=vec)


def test_generated_code_passes_static_checks(small_hw, tmp_path):
    write_project(small_hw, "kv260", tmp_path / "prj", overrides=LOAD_SMALL)
    fw = tmp_path / "prj" / "firmware"
    assert static_check(sorted(fw.glob("*.cpp")) + sorted((fw / "fsvae").glob("*.h"))) == []
    tcl = (tmp_path / "prj" / "build_prj.tcl").read_text()
    period = 1000 / boards.board("kv260")["clock_mhz"]
    assert "xck26-sfvc784-2LV-c" in tcl and f"create_clock -period {period:.3f}" in tcl and "export_design" in tcl
    assert "set fsvae_offsets {seed 0x10 n_images 0x18 mode 0x20 image_base 0x28 identity 0x30" in tcl


def test_static_checks_can_fail(tmp_path):
    bad = tmp_path / "bad.cpp"
    bad.write_text("int f(int n) {\n#pragma HLS FOO\n  int *p = new int[3];\n  for (int i = 0; i < n; ++i) {}\n"
                   "  return f(n - 1);\n}\n")
    problems = "\n".join(static_check([bad]))
    assert "unknown pragma HLS FOO" in problems
    assert "dynamic memory (new)" in problems
    assert "no constant bound or LOOP_TRIPCOUNT" in problems
    assert "f calls itself" in problems


def test_top_arguments_follow_the_register_map(small_hw, tmp_path, monkeypatch):
    """The scalar arguments come in hw/interface.yaml's order; offsets that are not the layout
    Vitis gives that order are refused; a 16-byte output slot layout is accepted."""
    write_project(small_hw, "pynq-z2", tmp_path / "a")
    top = (tmp_path / "a" / "firmware" / "fsvae_top.cpp").read_text()
    regs = [r for r in boards.interface()["control"]["registers"] if r["offset"] >= 0x10 and not r.get("pointer")]
    signature = top[top.index("void fsvae_top("):top.index("{", top.index("void fsvae_top("))]
    assert [signature.index(f" {'&' if r['access'] == 'r' else ''}{r['name']}") for r in regs] == sorted(
        signature.index(f" {'&' if r['access'] == 'r' else ''}{r['name']}") for r in regs)
    real = boards.interface

    def moved(offsets):
        def iface():
            d = real()
            for r in d["control"]["registers"]:
                r["offset"] = offsets.get(r["name"], r["offset"])
            return d
        return iface
    monkeypatch.setattr(boards, "interface", moved({"status": 0x3c}))
    with pytest.raises(CodegenError, match="not the layout Vitis HLS gives"):
        write_project(small_hw, "pynq-z2", tmp_path / "b")
    monkeypatch.setattr(boards, "interface", moved({"status": 0x40, "progress": 0x50, "engines_busy": 0x60}))
    info = write_project(small_hw, "pynq-z2", tmp_path / "c")
    assert info["warnings"] == []
    assert "engines_busy 0x60" in (tmp_path / "c" / "build_prj.tcl").read_text()


def test_block_geometry():
    assert hls_memory.bram18_blocks(1024, 18, False) == 1 and hls_memory.bram18_blocks(2048, 9, False) == 1
    assert hls_memory.bram18_blocks(512, 36, True) == 1 and hls_memory.bram18_blocks(512, 36, False) == 2
    assert hls_memory.bram18_blocks(1024, 19, False) == 2 and hls_memory.bram18_blocks(16384, 1, False) == 1
    assert hls_memory.bram18_blocks(40960, 256, False) == 580          # 29 columns of 2Kx9, 20 deep
    assert hls_memory.uram_blocks(4096, 72) == 1 and hls_memory.uram_blocks(4097, 72) == 2 and hls_memory.uram_blocks(40960, 256) == 40
    m = hls_memory.Memory("a", "short", (64, 32), 14, "state", "ram", lanes=32, dim=2, layout="partition")
    assert m.geometry() == (32, 64, 14) and m.geometry("reshape") == (1, 64, 448)


def test_model_too_big_for_the_board_is_refused(small_hw, tmp_path, monkeypatch):
    real = boards.board

    def tiny(name):
        b = real(name)
        b["resources"] = dict(b["resources"], bram36=4, uram=0)
        return b
    monkeypatch.setattr(boards, "board", tiny)
    with pytest.raises(CodegenError, match=r"short by \d+ BRAM18.*no weights at run time"):
        write_project(small_hw, "pynq-z2", tmp_path / "prj")


def test_reconstruction_is_dropped_where_only_generation_fits(small_hw, tmp_path, monkeypatch):
    real = boards.board
    gen = hls_memory.fit_blocks(small_hw, real("pynq-z2"), False)[1]["bram18"]
    rec = hls_memory.fit_blocks(small_hw, real("pynq-z2"), True)[1]["bram18"]
    assert gen < rec

    def sized(name):      # room for generation, not for the encoder and posterior too
        b = real(name)
        b["resources"] = dict(b["resources"], bram36=int((gen + rec) / 4 / b["memory_budget"]))
        return b
    monkeypatch.setattr(boards, "board", sized)
    info = write_project(small_hw, "pynq-z2", tmp_path / "prj")
    assert info["reconstruction"] is False
    assert "#define FSVAE_RECONSTRUCTION 0" in (tmp_path / "prj" / "firmware" / "parameters.h").read_text()


@pytest.fixture(scope="module")
def paper_hw(tmp_path_factory):
    from fsvae_fpga.contract.export import export_shipped
    return hwmodel.load(export_shipped("configs/mnist.yaml", tmp_path_factory.mktemp("hw") / "mnist"))


def test_paper_model_block_counts(paper_hw):
    """The shipped paper model: KV260 and ZCU104 hold generation only with their large layers
    loaded at run time (ROMs are never UltraRAM); PYNQ-Z2 cannot hold it even with every linear
    layer's weights in DDR, and says why."""
    for name in ("kv260", "zcu104"):
        board = boards.board(name)
        with pytest.raises(CodegenError, match="generation and reconstruction design does not fit"):
            hls_memory.fit_blocks(paper_hw, board, True)
        mems, usage = hls_memory.fit_blocks(paper_hw, board, False)
        assert usage["fits"] and "prior.2" in usage["loaded_layers"]
        assert usage["bram18"] <= usage["bram18_budget"] and usage["uram"] <= usage["uram_budget"]
        assert all(m.impl in ("bram", "lutram") for m in mems if m.storage == "rom")
        assert {m.impl for m in mems if m.storage == "load"} <= {"uram", "bram"}
    with pytest.raises(CodegenError, match=r"short by \d+ BRAM18; this board loads no weights at run time.*the "
                                           r"weights of prior.0, prior.1, prior.2, decoder_fc are read from DDR"):
        hls_memory.fit_blocks(paper_hw, boards.board("pynq-z2"), False)


def test_paper_model_pairs_on_kv260(paper_hw):
    """KV260 as shipped (balance.event_pairs): whichever linear layers the plan pairs (it
    chooses from the shipped model's measured events; prior.2, the latent loop's slowest, among
    them), the HLS core scatters exactly those in pairs, from two-port weight memories, and the
    others one event at a time from one-port ones."""
    design = describe(paper_hw, boards.board("kv260"))
    board = design.board
    paired = {n.replace(".", "_") for n in board["event_pairs"]}
    assert "prior_2" in paired
    mems, _ = hls_memory.fit_blocks(paper_hw, board, False)
    core = hls.core_cpp(paper_hw, False, board, mems)
    steps, storage = _linear_steps(core), _weight_storage(core)
    linear = {n.replace(".", "_") for n, lp in design.layers.items() if lp.kind == "linear"}
    assert set(steps) == linear and paired < linear
    for n in linear:
        assert steps[n] == ("lif_linear_step_pairs" if n in paired else "lif_linear_step"), n
        assert storage[n].endswith("_2p" if n in paired else "_1p"), (n, storage[n])


def test_make_hls_without_vitis_names_the_tool_and_release():
    if shutil.which("vitis_hls"):
        pytest.skip("Vitis HLS is installed here")
    res = subprocess.run(["make", "-s", "hls"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode != 0
    assert "Vitis HLS 2024.1 (vitis_hls) is not on the PATH" in res.stdout + res.stderr


def test_memory_report_is_written(pynq_project):
    project, info, _, _ = pynq_project
    report = json.loads((project / "memory.json").read_text())
    assert report["usage"]["bram18"] == info["memory"]["bram18"]
    assert sum(a["bram18"] for a in report["arrays"]) == report["usage"]["bram18"]
    assert {a["storage"] for a in report["arrays"]} == {"rom", "load", "ram"}


# --- weight rows streamed from DDR (hw/boards.yaml weight_stream) --------------------------------
# the board's 4 lanes in every layer (its balance plan off), so that the row buffers' widths are known
STREAM_SMALL = {"weight_stream": {"layers": ["prior.2", "decoder_fc"]}, "balance": None}


@pytest.fixture(scope="module")
def stream_project(small_hw, tmp_path_factory):
    """Small model, PYNQ-Z2 with prior.2 and decoder_fc streamed from DDR, reconstruction too."""
    tmp = tmp_path_factory.mktemp("stream")
    vec = _vectors(small_hw, 3, 17, tmp / "vectors")
    info = write_project(small_hw, "pynq-z2", tmp / "prj", vectors_dir=vec, overrides=STREAM_SMALL)
    ok, log = run_csim(tmp / "prj")
    return tmp / "prj", info, ok, log


def _signature(top: str) -> str:
    start = top.index("void fsvae_top(")
    return top[start:top.index("{", start)]


def test_streaming_csim_equals_golden(stream_project):
    project, info, ok, log = stream_project
    assert ok, log
    words = info["weight_stream"]["bytes"] // 8
    assert f"DDR weight image: {words} beats of 64 bits" in log
    assert "generate: 3 images, 0 pixels differ" in log and "reconstruct: 3 images, 0 pixels differ" in log
    assert "read while empty" not in log and "leftover" not in log, log


def test_streaming_top_has_the_weights_pointer(stream_project, small_hw):
    """The pointer argument is weights_base (Vitis names the offset register after it), last,
    after the read-only outputs: m_axi bundle gmem (m_axi_gmem) with offset=slave, bursts of 16,
    depth = the image, its offset register in s_axi_control at 0x70 (build_prj.tcl checks it, 64
    bits wide)."""
    project, info, _, _ = stream_project
    top = (project / "firmware" / "fsvae_top.cpp").read_text()
    signature = _signature(top)
    assert signature.rstrip().endswith("ap_uint<32> &engines_busy, const ddr_word_t *weights_base)")
    words = info["weight_stream"]["bytes"] // 8
    pragma = next(line for line in top.splitlines() if "mode=m_axi" in line)
    for option in ("port=weights_base", "offset=slave", "bundle=gmem", f"depth={words}", "max_read_burst_length=16",
                   "num_read_outstanding=8", "latency=60", "max_widen_bitwidth=64"):
        assert f" {option}" in pragma, (option, pragma)
    assert "#pragma HLS INTERFACE mode=s_axilite port=weights_base bundle=control" in top
    assert "fsvae_core(in_r, out_r, seed, n_images, mode, image_base, progress, weights_base);" in top
    tcl = (project / "build_prj.tcl").read_text()
    assert "engines_busy 0x60 weights_base 0x70}" in tcl and "weights_base 64}" in tcl
    assert "config_interface -m_axi_addr64=true" in tcl
    assert info["weight_stream"]["port"] == "m_axi_gmem" and info["weight_stream"]["base_register"] == "weights_base"
    header = (project / "firmware" / "fsvae_core.h").read_text()
    assert "const ddr_word_t *weights_base);" in header and "ap_uint<32> &progress, const ddr_word_t *weights);" in header


def test_streamed_layers_have_no_weight_array(stream_project, small_hw):
    """prior.2 and decoder_fc: no ROM, no declaration, no pragma, not counted (only the engine's
    row buffer); their engine reads rows at the layout's offsets; the image in vectors/ is the
    design's (the RTL's mem/ddr_weights.bin: codegen rtl describes the generation design)."""
    project, info, _, _ = stream_project
    fw = project / "firmware"
    sources = "".join((fw / f).read_text() for f in ("weights.h", "fsvae_core.cpp", "parameters.h"))
    for n in ("prior_2", "decoder_fc"):
        assert f"{n}_weight" not in sources
        assert f"fsvae::lif_linear_step_ddr<" in sources and f"weights + {n}_DDR_OFFSET" in sources
    assert "prior_1_weight" in sources and "fsvae::lif_linear_step<32, 64, prior_1_P>" in sources
    report = json.loads((project / "memory.json").read_text())
    assert report["usage"]["streamed_layers"] == ["prior.2", "decoder_fc"]
    arrays = {a["name"]: a for a in report["arrays"]}
    assert "prior_2_weight" not in arrays and "decoder_fc_weight" not in arrays
    assert arrays["prior_2_row"]["storage"] == "ram" and arrays["prior_2_row"]["banks_depth_width"][2] == 32
    mems, plain = hls_memory.fit_blocks(small_hw, {**boards.board("pynq-z2"), "balance": None}, True)  # nothing streamed
    gone = [m.blocks() for m in mems if m.name in ("prior_2_weight", "decoder_fc_weight")]
    rows = [arrays[n] for n in ("prior_2_row", "decoder_fc_row")]
    assert len(gone) == 2 and sum(g["bram18"] for g in gone) > 0
    assert report["usage"]["bram18"] == plain["bram18"] - sum(g["bram18"] for g in gone) + sum(r["bram18"] for r in rows)
    assert report["usage"]["lutram_luts"] == (plain["lutram_luts"] - sum(g["lut"] for g in gone)
                                              + sum(r["lut"] for r in rows))
    layout = {m["layer"]: m for m in info["weight_stream"]["layers"]}
    params = (fw / "parameters.h").read_text()
    for name, n in (("prior.2", "prior_2"), ("decoder_fc", "decoder_fc")):
        assert f"static const int {n}_DDR_OFFSET = {layout[name]['offset'] // 8};" in params
        assert f"static const int {n}_DDR_STRIDE = {layout[name]['row_stride'] // 8};" in params
    board = {**boards.board("pynq-z2"), **STREAM_SMALL}
    assert (project / "vectors" / "ddr_weights.bin").read_bytes() == ddr_weight_image(describe(small_hw, board))
    assert info["weight_stream"]["layers"] == ddr_weight_layout(describe(small_hw, board))


def test_streaming_csim_reads_the_ddr_image(stream_project, tmp_path):
    """The rows come from the image the testbench passes: one flipped bit in every decoder_fc
    weight changes images."""
    project, info, _, _ = stream_project
    vec = tmp_path / "vectors"
    shutil.copytree(project / "vectors", vec)
    image = bytearray((vec / "ddr_weights.bin").read_bytes())
    fc = next(m for m in info["weight_stream"]["layers"] if m["layer"] == "decoder_fc")
    for i in range(fc["offset"], fc["offset"] + fc["rows"] * fc["row_stride"]):
        image[i] ^= 0x40
    (vec / "ddr_weights.bin").write_bytes(bytes(image))
    ok, log = run_csim(project, vectors=vec, rebuild=False)
    assert not ok and "generate: 3 images, 0 pixels differ" not in log


def test_streaming_and_loaded_weights_on_wide_words(small_hw, tmp_path):
    """KV260's 32 lanes (its balance plan off: an engine word of 256 bits spans 4 beats), generation only, prior.0
    streamed while the large layers load at run time: both paths in one design, bit-exact."""
    vec = _vectors(small_hw, 2, 4, tmp_path / "vectors")
    over = {**LOAD_SMALL, "reconstruction": False, "balance": None, "weight_stream": {"layers": ["prior.0", "prior.2"]}}
    info = write_project(small_hw, "kv260", tmp_path / "prj", vectors_dir=vec, overrides=over)
    assert info["weight_load"] and not {"prior.0", "prior.2"} & set(info["memory"]["loaded_layers"])
    assert [m["word_bits"] for m in info["weight_stream"]["layers"]] == [256, 256]
    fw = tmp_path / "prj" / "firmware"
    assert static_check(sorted(fw.glob("*.cpp")) + sorted((fw / "fsvae").glob("*.h"))) == []
    ok, log = run_csim(tmp_path / "prj")
    assert ok, log
    words = info["weight_load"]["words"]
    assert f"load_weights: {words} of {words} words taken, status 0x501" in log
    assert "generate: 2 images, 0 pixels differ" in log


def test_designs_without_streaming_have_no_pointer(small_hw, tmp_path):
    """The board's default for the small model streams nothing: no pointer argument, no m_axi
    port, no image; the register map ends with engines_busy."""
    info = write_project(small_hw, "pynq-z2", tmp_path / "prj")
    assert info["weight_stream"] is None and info["memory"]["streamed_layers"] == []
    top = (tmp_path / "prj" / "firmware" / "fsvae_top.cpp").read_text()
    assert "mode=m_axi" not in top and "weights_base" not in _signature(top) and "ddr_word_t" not in top
    assert "fsvae_core(in_r, out_r, seed, n_images, mode, image_base, progress);" in top
    assert "#define FSVAE_DDR_WORDS 0" in (tmp_path / "prj" / "firmware" / "parameters.h").read_text()
    assert not (tmp_path / "prj" / "vectors" / "ddr_weights.bin").exists()
    tcl = (tmp_path / "prj" / "build_prj.tcl").read_text()
    assert "engines_busy 0x60}" in tcl and "m_axi_addr64" not in tcl


def test_pointer_register_layout():
    """The offset register of a 64-bit pointer takes 12 bytes after the outputs (data_0, data_1,
    reserved); hw/interface.yaml's 0x70 is that layout; a pointer elsewhere is refused."""
    iface = boards.interface()
    regs, offsets = hls.scalar_registers(iface, pointers=True)
    assert regs[-1]["name"] == "weights_base" and offsets["weights_base"] == 0x70
    assert "weights_base" not in hls.scalar_registers(iface)[1]

    def edited(**changes):
        d = json.loads(json.dumps(iface))
        for r in d["control"]["registers"]:
            r.update(changes.get(r["name"], {}))
        d["control"]["registers"].sort(key=lambda r: r["offset"])
        return d
    with pytest.raises(CodegenError, match="not the layout Vitis HLS gives"):
        hls.scalar_registers(edited(weights_base={"offset": 0x74}), pointers=True)
    # a pointer between the scalars: fine for a top that has it, refused for one that has not
    moved = edited(weights_base={"offset": 0x30}, identity={"offset": 0x3c}, status={"offset": 0x4c},
                   progress={"offset": 0x5c}, engines_busy={"offset": 0x6c})
    assert hls.scalar_registers(moved, pointers=True)[1]["identity"] == 0x3c
    with pytest.raises(CodegenError, match="must come after the scalar registers"):
        hls.scalar_registers(moved, pointers=False)
    # outputs 8 bytes apart: the pointer follows at 0x50
    eight = edited(status={"offset": 0x38}, progress={"offset": 0x40}, engines_busy={"offset": 0x48},
                   weights_base={"offset": 0x50})
    assert hls.scalar_registers(eight, pointers=True)[1]["weights_base"] == 0x50


TCL_STUBS = """
proc open_project {args} {}
proc set_top {args} {}
proc add_files {args} {}
proc open_solution {args} {}
proc set_part {args} {}
proc create_clock {args} {}
proc config_interface {args} { puts "config_interface $args" }
proc csim_design {args} {}
proc cosim_design {args} {}
proc export_design {args} {}
proc csynth_design {args} {
    set d fsvae_prj/solution1/impl/misc/drivers/fsvae_top_v1_0/src
    file mkdir $d
    set f [open $d/xfsvae_top_hw.h w]
    puts $f $::env(FSVAE_HEADER)
    close $f
}
"""


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is needed")
def test_build_script_checks_the_pointer_register(stream_project, tmp_path):
    """build_prj.tcl (Vitis commands stubbed) against driver headers in Vitis' format: the
    documented layout passes; the offset register elsewhere, or 32 bits wide, fails."""
    project, _, _, _ = stream_project
    (tmp_path / "run.tcl").write_text(TCL_STUBS + "source build_prj.tcl\n")
    shutil.copy(project / "build_prj.tcl", tmp_path / "build_prj.tcl")
    regs = {"AP_CTRL": 0x00, "GIE": 0x04, "IER": 0x08, "ISR": 0x0c, "SEED_DATA": 0x10, "N_IMAGES_DATA": 0x18,
            "MODE_DATA": 0x20, "IMAGE_BASE_DATA": 0x28, "IDENTITY_DATA": 0x30, "IDENTITY_CTRL": 0x34,
            "STATUS_DATA": 0x40, "STATUS_CTRL": 0x44, "PROGRESS_DATA": 0x50, "PROGRESS_CTRL": 0x54,
            "ENGINES_BUSY_DATA": 0x60, "ENGINES_BUSY_CTRL": 0x64, "WEIGHTS_BASE_DATA": 0x70}

    def run(pointer_at=0x70, pointer_bits=64):
        lines = [f"#define XFSVAE_TOP_CONTROL_ADDR_{k:<20} 0x{(pointer_at if k == 'WEIGHTS_BASE_DATA' else v):02x}"
                 for k, v in regs.items()]
        lines += [f"#define XFSVAE_TOP_CONTROL_BITS_{k:<20} {pointer_bits if k == 'WEIGHTS_BASE_DATA' else 32}"
                  for k in regs if k.endswith("_DATA")]
        shutil.rmtree(tmp_path / "fsvae_prj", ignore_errors=True)
        return subprocess.run(["tclsh", "run.tcl"], cwd=tmp_path, capture_output=True, text=True,
                              env={**os.environ, "FSVAE_HEADER": "\n".join(lines)})
    good = run()
    assert good.returncode == 0, good.stderr
    assert "config_interface -m_axi_addr64=true" in good.stdout and "match hw/interface.yaml" in good.stdout
    moved = run(pointer_at=0x7c)
    assert moved.returncode != 0 and "Vitis put weights_base at 0x7c, hw/interface.yaml says 0x70" in moved.stderr
    narrow = run(pointer_bits=32)
    assert narrow.returncode != 0 and "Vitis made weights_base 32 bits wide" in narrow.stderr


def test_streaming_reconstruction_layers(small_hw, tmp_path):
    """Layers only the reconstruction design has (encoder_fc, posterior.1) stream too, bit-exact;
    that image is not codegen rtl's (a generation design), which the writer says."""
    vec = _vectors(small_hw, 1, 9, tmp_path / "vectors")
    info = write_project(small_hw, "pynq-z2", tmp_path / "prj", vectors_dir=vec,
                         overrides={"weight_stream": {"layers": ["posterior.1", "encoder_fc", "prior.2"]}})
    assert [m["layer"] for m in info["weight_stream"]["layers"]] == ["encoder_fc", "posterior.1", "prior.2"]
    assert any("is not codegen rtl's" in w for w in info["warnings"])
    ok, log = run_csim(tmp_path / "prj")
    assert ok, log
    assert "generate: 1 images, 0 pixels differ" in log and "reconstruct: 1 images, 0 pixels differ" in log
