"""Resource estimate (toolchain/estimate.py): Yosys synth_xilinx on a small RTL folder.

The first Yosys call on a machine compiles the WebAssembly build (about 75 s, cached under
~/.cache/YoWASP); later runs of this file take a few seconds per synthesis.
"""
import json
import random
import shutil
from pathlib import Path

import pytest
from rtl_sources import sources

from fsvae_fpga.codegen import boards
from fsvae_fpga.toolchain.estimate import RESOURCES, EstimateError, count_cells, estimate, format_table

ROOT = Path(__file__).resolve().parents[1]
IN, OUT, P, W_BITS, B_BITS = 16, 8, 4, 8, 32
# fsvae_lif_linear and the modules it instantiates (hw/rtl/sources.yaml), in compile order
LINEAR_SOURCES = [p.name for p in sources("fsvae_lif_linear")]
G = OUT // P

WRAPPER = f"""\
// Small fsvae_lif_linear for the estimate test: parameters fixed, ports passed through.
`default_nettype none
module est_top (
    input  wire logic clk, input wire logic rst,
    input  wire logic start, input wire logic first_step,
    output logic busy, output logic done, output logic [31:0] cycles,
    input  wire logic [{(IN - 1).bit_length() - 1}:0] ev_data,
    input  wire logic ev_valid, output logic ev_ready, input wire logic ev_last, input wire logic ev_user,
    output logic [{(OUT - 1).bit_length() - 1}:0] sp_data,
    output logic sp_valid, input wire logic sp_ready, output logic sp_last, output logic sp_user,
    input  wire logic [{(G - 1).bit_length() - 1}:0] dbg_group,
    output logic [{P * 20 - 1}:0] dbg_membrane, output logic [{P - 1}:0] dbg_spike
);
    fsvae_lif_linear #(
        .IN({IN}), .OUT({OUT}), .P({P}), .W_BITS({W_BITS}), .B_BITS({B_BITS}),
        .ACC_BITS(18), .MEM_BITS(20), .THRESHOLD(64),
        .WEIGHT_FILE("mem/layer.weight.hex"), .BIAS_FILE("mem/layer.bias.hex")
    ) u_layer (
        .clk, .rst, .start, .first_step, .busy, .done, .cycles,
        .s_axis_event_tdata(ev_data), .s_axis_event_tvalid(ev_valid), .s_axis_event_tready(ev_ready),
        .s_axis_event_tlast(ev_last), .s_axis_event_tuser(ev_user),
        .m_axis_spike_tdata(sp_data), .m_axis_spike_tvalid(sp_valid), .m_axis_spike_tready(sp_ready),
        .m_axis_spike_tlast(sp_last), .m_axis_spike_tuser(sp_user),
        .wl_en(1'b0), .wl_addr('0), .wl_data('0),
        .dbg_group, .dbg_membrane, .dbg_spike
    );
endmodule
`default_nettype wire
"""


def hex_lines(words: int, bits: int, rng: random.Random) -> str:
    return "".join(f"{rng.getrandbits(bits):0{(bits + 3) // 4}x}\n" for _ in range(words))


@pytest.fixture(scope="module")
def rtl_dir(tmp_path_factory) -> Path:
    """A generator-shaped folder: manifest.json, rtl/*.sv, mem/*.hex (read by relative path)."""
    d = tmp_path_factory.mktemp("rtl")
    (d / "rtl").mkdir()
    (d / "mem").mkdir()
    for f in LINEAR_SOURCES:
        shutil.copy(ROOT / "hw" / "rtl" / f, d / "rtl")
    (d / "rtl" / "est_top.sv").write_text(WRAPPER)
    rng = random.Random(0)
    (d / "mem" / "layer.weight.hex").write_text(hex_lines(IN * G, P * W_BITS, rng))
    (d / "mem" / "layer.bias.hex").write_text(hex_lines(G, P * B_BITS, rng))
    (d / "manifest.json").write_text(json.dumps(
        {"top": "est_top", "board": "kv260", "sources": [f"rtl/{f}" for f in LINEAR_SOURCES] + ["rtl/est_top.sv"]}))
    return d


@pytest.fixture(scope="module")
def kv260_result(rtl_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("est")
    return out, estimate(rtl_dir, "kv260", out)


def test_estimate_counts_and_report(kv260_result):
    out, result = kv260_result
    assert set(result["resources"]) == set(RESOURCES)
    for r in RESOURCES:
        assert set(result["resources"][r]) == {"used", "available", "percent", "fits"}
        assert result["resources"][r]["available"] == boards.board("kv260")["resources"][r]
    for r in ("lut", "ff"):
        used = result["resources"][r]["used"]
        assert isinstance(used, int) and used > 0, (r, used)
    assert result["resources"]["lut"]["used"] >= result["detail"]["lutram"] >= 0
    assert result["detail"]["unmapped"] == {}
    assert result["fits"] is True and result["over"] == []
    assert json.loads((out / "estimate.json").read_text()) == result
    assert (out / "yosys.log").stat().st_size > 0
    assert "synth_xilinx -family xcup" in (out / "synth.ys").read_text()


def test_estimate_measures_logic_depth(kv260_result):
    out, result = kv260_result
    depth = result["logic_depth"]
    assert depth["endpoints"] == sum(depth["histogram"]) > 0
    assert depth["max_lut"] == depth["deepest"]["lut"] == len(depth["histogram"]) - 1 >= 1
    assert depth["deepest"]["path"][0]["role"] == "start" and depth["deepest"]["path"][-1]["role"] == "end"
    assert depth["combinational_loops"] == 0 and depth["unknown_cells"] == {}
    board = depth["board"]
    from fsvae_fpga.codegen.boards import board as board_of
    assert board["clock_mhz"] == board_of("kv260")["clock_mhz"] and board["limit_levels"] >= 6
    assert 0 < board["recommended_pl_clock_mhz"] <= board["supported_clock_mhz"]
    assert "write_json -selected" in (out / "synth.ys").read_text()
    assert not (out / "netlist.json").exists()           # large; kept only on request
    table = format_table(result)
    assert "Logic depth" in table and f"deepest path: {depth['deepest']['lut']} LUT levels" in table


def test_over_capacity_names_the_resource(rtl_dir, kv260_result, tmp_path, monkeypatch, capsys):
    ff_used = kv260_result[1]["resources"]["ff"]["used"]
    table = boards.boards()
    table["kv260"]["resources"]["ff"] = ff_used - 1
    monkeypatch.setattr(boards, "boards", lambda: table)
    result = estimate(rtl_dir, "kv260", tmp_path)
    assert result["fits"] is False
    assert result["over"] == ["ff"]
    assert result["resources"]["ff"] == {"used": ff_used, "available": ff_used - 1,
                                         "percent": round(100 * ff_used / (ff_used - 1), 2), "fits": False}
    assert "DOES NOT FIT kv260: FF" in capsys.readouterr().out


def test_an_undeclared_name_is_an_error_not_a_netlist(rtl_dir, tmp_path):
    """Yosys declares an undeclared name as a 1-bit wire and synthesises on: the estimate
    must refuse that netlist instead of reporting it as the design's."""
    bad = tmp_path / "rtl"
    shutil.copytree(rtl_dir, bad)
    top = bad / "rtl" / "est_top.sv"
    top.write_text(top.read_text().replace(".dbg_group, .dbg_membrane", ".dbg_group(not_declared), .dbg_membrane"))
    with pytest.raises(EstimateError, match="undeclared name.*not_declared"):
        estimate(bad, "kv260", tmp_path / "out")


def test_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(EstimateError, match="manifest.json: not found"):
        estimate(tmp_path, "kv260", tmp_path / "out")


def test_cell_mapping():
    use = count_cells({"LUT6": 3, "LUT2": 1, "INV": 1, "RAM32M16": 2, "SRLC32E": 1, "FDRE": 5, "FDCE": 1,
                       "DSP48E2": 2, "RAMB36E2": 1, "RAMB18E2": 3, "URAM288": 1, "CARRY8": 4, "BUFG": 1})
    assert (use["lut"], use["lutram"], use["ff"], use["dsp"], use["bram36"], use["uram"]) == (22, 17, 6, 2, 2.5, 1)
    assert use["unmapped"] == {}
    assert count_cells({"$mul": 1})["unmapped"] == {"$mul": 1}


def test_yosys_runs_compile_yowasp_one_at_a_time(monkeypatch, tmp_path):
    """warm_yosys (run before every Yosys run) waits while another process holds the machine-wide
    lock, so only one YoWASP compiles Yosys into its cache at a time, and says when it compiles."""
    import fcntl
    import sys
    import threading
    import time
    from fsvae_fpga.toolchain import estimate as est
    monkeypatch.setattr(est, "WARM_LOCK", tmp_path / "warm.lock")
    monkeypatch.setattr(est, "yosys_command", lambda: [sys.executable, "-c", "print('Preparing to run')"])
    said = []
    with open(tmp_path / "warm.lock", "a") as held:           # another process compiling
        fcntl.flock(held, fcntl.LOCK_EX)
        waiter = threading.Thread(target=est.warm_yosys, args=(said.append,))
        waiter.start()
        time.sleep(1.0)
        assert waiter.is_alive() and not said
        fcntl.flock(held, fcntl.LOCK_UN)
    waiter.join(timeout=30)
    assert not waiter.is_alive() and len(said) == 1 and "compiling Yosys" in said[0]
