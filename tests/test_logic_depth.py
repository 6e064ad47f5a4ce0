"""Logic depth (toolchain/logic_depth.py) on netlists of known depth.

Two kinds of check: hand-built netlists (no Yosys) for the walker's rules, and small Verilog
designs of known depth synthesised together by one Yosys synth_xilinx run (about 10 s after
the first Yosys call on a machine, which compiles the WebAssembly build once).
"""
import json
import math
import subprocess

import pytest

from fsvae_fpga.toolchain import clock_model as cm
from fsvae_fpga.toolchain import logic_depth as ld
from fsvae_fpga.toolchain import netlist_graph
from fsvae_fpga.toolchain.estimate import yosys_command

STAGES = 8          # LUT6 stages of the chain design

# A chain of STAGES LUT6 primitives (six-input XOR), each of the previous stage and five fresh
# register bits, between the input register r and q.  Instantiated primitives are kept as
# they are by synth_xilinx, so the depth is known: inferred logic would be re-mapped by ABC,
# which rebalances such a chain into a tree.  MID=1 registers the middle stage's output.
VERILOG = f"""
module chain #(parameter N = {STAGES}, parameter MID = 0) (
    input clk, input [5*N:0] d, output reg q);
  reg [5*N:0] r;
  wire [N:0] s;
  reg mid_q;
  assign s[0] = r[0];
  genvar i;
  generate for (i = 1; i <= N; i = i + 1) begin : g_stage
    wire x = (MID && i == N/2 + 1) ? mid_q : s[i-1];
    LUT6 #(.INIT(64'h6996966996696996)) u_lut (
      .O(s[i]), .I0(x), .I1(r[5*i-4]), .I2(r[5*i-3]), .I3(r[5*i-2]), .I4(r[5*i-1]), .I5(r[5*i]));
  end endgenerate
  always @(posedge clk) begin
    r <= d;
    mid_q <= s[N/2];
    q <= s[N];
  end
endmodule
module adder (input clk, input [31:0] a, input [31:0] b, output reg [31:0] s);
  reg [31:0] ar, br;
  always @(posedge clk) begin ar <= a; br <= b; s <= ar + br; end
endmodule
module mul_xor (input clk, input [15:0] a, input [15:0] b, output reg [15:0] q);
  reg [15:0] ar, br;
  wire [31:0] m = ar * br;
  always @(posedge clk) begin ar <= a; br <= b; q <= m[31:16] ^ m[15:0]; end
endmodule
// all four in one design: one synthesis for the whole test file
module depth_top (input clk, input [5*{STAGES}:0] d_flat, input [5*{STAGES}:0] d_mid,
                  input [31:0] a, input [31:0] b, input [15:0] ma, input [15:0] mb,
                  output q_flat, output q_mid, output [31:0] s, output [15:0] mq);
  chain #(.MID(0)) u_flat (.clk(clk), .d(d_flat), .q(q_flat));
  chain #(.MID(1)) u_mid (.clk(clk), .d(d_mid), .q(q_mid));
  adder u_add (.clk(clk), .a(a), .b(b), .s(s));
  mul_xor u_mul (.clk(clk), .a(ma), .b(mb), .q(mq));
endmodule
"""


@pytest.fixture(scope="module")
def netlist(tmp_path_factory):
    d = tmp_path_factory.mktemp("depth")
    (d / "designs.v").write_text(VERILOG)
    script = ["read_verilog designs.v",
              "synth_xilinx -family xcup -top depth_top -flatten -noiopad -noclkbuf",
              *netlist_graph.yosys_commands("depth_top", "depth_top.json")]
    (d / "designs.ys").write_text("\n".join(script) + "\n")
    proc = subprocess.run(yosys_command() + ["-q", "-s", "designs.ys"], cwd=d, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads((d / "depth_top.json").read_text())


@pytest.fixture(scope="module")
def depths(netlist):
    return ld.register_depths(netlist)


def test_chain_depth_matches_the_design(netlist, depths):
    r = ld.analyze(netlist)
    d = r["deepest"]
    assert (d["lut"], d["carry"], d["dsp"]) == (STAGES, 0, 0)
    logic = [s for s in d["path"] if s["role"] == "logic"]
    assert len(logic) == STAGES and all(s["type"] == "LUT6" for s in logic)
    assert d["path"][0]["net"].startswith("u_flat.r[") and d["path"][0]["type"].startswith("FD")
    assert d["path"][-1]["net"] == "u_flat.q"
    assert d["instances"] == ["u_flat"] and d["rtl_files"] == ["designs.v"]
    assert depths["u_flat.q"]["lut"] == STAGES
    assert r["histogram"][STAGES] == 1
    assert r["endpoints"] == sum(r["histogram"])
    assert r["combinational_loops"] == 0 and r["unknown_cells"] == {}


def test_register_in_the_middle_halves_the_depth(depths):
    assert depths["u_mid.q"]["lut"] == depths["u_mid.mid_q"]["lut"] == depths["u_flat.q"]["lut"] // 2


def test_adder_is_one_lut_level_and_the_carry_chain(netlist, depths):
    add_line = next(i for i, line in enumerate(VERILOG.splitlines(), 1) if "ar + br" in line)
    cells = netlist["modules"]["depth_top"]["cells"].values()
    carries = [c for c in cells if c["type"].startswith("CARRY")
               and c["attributes"].get("src", "").startswith(f"designs.v:{add_line}.")]
    assert len(carries) >= 4                      # 32 bits: 8 CARRY4 (or 4 CARRY8)
    s = {n: v for n, v in depths.items() if n.startswith("u_add.s[")}
    assert len(s) == 32 and all(v["lut"] == 1 for v in s.values())
    assert max(v["carry"] for v in s.values()) == len(carries) == depths["u_add.s[31]"]["carry"]


def test_unregistered_dsp_output_is_a_stage(depths):
    q = [v for n, v in depths.items() if n.startswith("u_mul.q[")]
    assert len(q) == 16 and all(v["dsp"] == 1 and v["lut"] >= 1 for v in q)


# --- hand-built netlists ---------------------------------------------------------------------
def _cell(t, **conns):
    dirs = {p: ("output" if p in ("O", "Q", "CO", "P", "DOADO") else "input") for p in conns}
    return {"type": t, "port_directions": dirs, "connections": conns, "attributes": {}, "parameters": {}}


def _module(cells, ports=None):
    return {"modules": {"top": {"attributes": {"top": "1"}, "ports": ports or {}, "cells": cells,
                                "netnames": {"a": {"hide_name": 0, "bits": [2], "attributes": {}}}}}}


def test_muxf_is_part_of_the_lut_level_and_loops_terminate():
    cells = {
        "ff_a": _cell("FDRE", C=[1], D=[20], CE=["1"], R=["0"], Q=[2]),
        "l1": _cell("LUT6", I0=[2], I1=[2], O=[3]),
        "l2": _cell("LUT6", I0=[2], O=[4]),
        "mx": _cell("MUXF7", I0=[3], I1=[4], S=[2], O=[5]),
        "l3": _cell("LUT2", I0=[5], I1=[2], O=[6]),
        "ff_b": _cell("FDRE", C=[1], D=[6], CE=["1"], R=["0"], Q=[7]),
        # a loop: l4 <-> l5, read by ff_c
        "l4": _cell("LUT2", I0=[9], I1=[7], O=[8]),
        "l5": _cell("LUT2", I0=[8], O=[9]),
        "ff_c": _cell("FDRE", C=[1], D=[9], CE=["1"], R=["0"], Q=[10]),
        "ram": _cell("RAMB18E2", CLKARDCLK=[1], ADDRARDADDR=[6], DOADO=[20]),
    }
    r = ld.analyze(_module(cells))
    d = r["deepest"]
    assert (d["lut"], d["muxf"]) == (2, 1)
    assert d["path"][0]["net"] == "a" and d["path"][-1]["cell"] in ("ff_b", "ram")
    assert r["combinational_loops"] >= 1
    assert r["endpoints"] == 4
    # the RAM's output register is off by default: its output is flagged where a path starts
    assert d["path"][0]["cell"] == "ff_a"


def test_reconvergent_paths_take_the_longest():
    # l4 is visited first and reads l1 directly and through l2, l3: the walk must finish l1,
    # l2, l3 before l4 (depth 4), and count every endpoint once
    cells = {
        "l4": _cell("LUT2", I0=[3], I1=[5], O=[6]),
        "l1": _cell("LUT1", I0=[2], O=[3]),
        "l2": _cell("LUT1", I0=[3], O=[4]),
        "l3": _cell("LUT2", I0=[4], I1=[3], O=[5]),
        "ff_a": _cell("FDRE", C=[1], D=[6], CE=["1"], R=["0"], Q=[2]),
        "ff_b": _cell("FDRE", C=[1], D=[4], CE=[5], R=["0"], Q=[7]),
    }
    r = ld.analyze(_module(cells))
    assert r["histogram"] == [0, 0, 0, 1, 1]
    assert [s["cell"] for s in r["deepest"]["path"]] == ["ff_a", "l1", "l2", "l3", "l4", "ff_a"]
    assert r["combinational_loops"] == 0


def test_carry_outputs_are_separate_nodes():
    # O[0] of a CARRY4 feeding S[2] of the same cell through a LUT is no loop
    cells = {
        "ff": _cell("FDRE", C=[1], D=[9], CE=["1"], R=["0"], Q=[2]),
        "c": {"type": "CARRY4", "attributes": {}, "parameters": {},
              "port_directions": {"CI": "input", "CYINIT": "input", "S": "input", "DI": "input",
                                  "O": "output", "CO": "output"},
              "connections": {"CI": ["0"], "CYINIT": ["0"], "S": [2, 2, 4, 2], "DI": ["0"] * 4,
                              "O": [3, 10, 11, 12], "CO": [13, 14, 15, 9]}},
        "l": _cell("LUT1", I0=[3], O=[4]),
    }
    r = ld.analyze(_module(cells))
    assert r["combinational_loops"] == 0
    assert (r["deepest"]["lut"], r["deepest"]["carry"]) == (1, 2)


@pytest.mark.parametrize("preg", ["0", "1"])
def test_dsp_registers_from_parameters(preg):
    # parameters as write_json gives them: bit strings of any width
    dsp = {"type": "DSP48E2", "attributes": {}, "connections": {"A": [2], "B": ["0"], "CLK": [1], "P": [3]},
           "port_directions": {"A": "input", "B": "input", "CLK": "input", "P": "output"},
           "parameters": {"AREG": "00000000000000000000000000000000", "BREG": "0", "MREG": "0", "PREG": preg}}
    cells = {"ff_a": _cell("FDRE", C=[1], D=["0"], CE=["1"], R=["0"], Q=[2]),
             "dsp": dsp,
             "l": _cell("LUT1", I0=[3], O=[4]),
             "ff_b": _cell("FDRE", C=[1], D=[4], CE=["1"], R=["0"], Q=[5])}
    r = ld.analyze(_module(cells))
    d = r["deepest"]
    if preg == "0":      # A -> multiplier -> P -> LUT -> ff_b
        assert (d["lut"], d["dsp"], d["path"][-1]["cell"]) == (1, 1, "ff_b")
    else:                # A -> multiplier -> P register: the DSP is the endpoint; P starts ff_b's path
        assert r["histogram"] == [2, 1] and r["endpoints_through_dsp"] == 1
        assert r["deepest_through_dsp"] == {"lut": 0, "carry": 0, "dsp": 1, "muxf": 0}


def test_top_ports_are_start_and_end_points():
    cells = {"l1": _cell("LUT1", I0=[2], O=[3]), "l2": _cell("LUT1", I0=[3], O=[4])}
    ports = {"a": {"direction": "input", "bits": [2]}, "y": {"direction": "output", "bits": [4]}}
    r = ld.analyze(_module(cells, ports))
    d = r["deepest"]
    assert d["lut"] == 2 and d["endpoint_kind"] == "output port"
    assert d["path"][0]["type"] == "input port" and d["path"][-1]["net"] == "y[0]"


# --- clock model -------------------------------------------------------------------------------
def test_clock_model_anchors():
    assert cm.supported_clock_mhz("kv260", 6) == 250.0
    assert cm.supported_clock_mhz("pynq-z2", 10) == 100.0
    assert cm.supported_clock_mhz("zcu104", 6) == 250.0          # the -2 part uses the K26 figures
    assert cm.supported_clock_mhz("kv260", 12) == 125.0
    assert cm.supported_clock_mhz("kv260", 10, carry_levels=4) < cm.supported_clock_mhz("kv260", 10)
    assert cm.supported_clock_mhz("kv260", 1) == cm.CLOCK_MODEL["xcup"]["ceiling_mhz"]
    assert cm.levels_for_clock("kv260", 250) == 6 and cm.levels_for_clock("pynq-z2", 100) == 10
    assert cm.clock_model("kv260")["limit_levels"] == cm.levels_for_clock("kv260", cm.clock_model("kv260")["clock_mhz"])


def test_pl_clocks():
    assert cm.pl_clock_mhz("pynq-z2", 100) == 100.0
    assert cm.pl_clock_mhz("pynq-z2", 99) == 90.9                 # 1000 / 11
    assert cm.pl_clock_mhz("pynq-z2", 83.4) == 83.3
    assert cm.pl_clock_mhz("kv260", 190) == 187.5                 # 1500 / 8
    assert cm.pl_clock_mhz("kv260", 250) == 250.0
    assert cm.pl_clock_mhz("kv260", 160) == 150.0
    for mhz in (37.0, 123.4, 212.0):
        f = cm.pl_clock_mhz("kv260", mhz)
        assert f <= mhz and any(math.isclose(p / round(p / f), f, abs_tol=0.1) for p in cm.PL_PLL_MHZ["xcup"])
