"""Logic depth of a Yosys ``synth_xilinx`` netlist, and the clock it supports.

Input: the mapped netlist as Yosys ``write_json`` writes it (the estimate writes
``netlist.json`` after synthesis, see ``yosys_commands``).  Output (``analyze``): for every
timing endpoint the deepest combinational path into it, a histogram of endpoints by depth,
the deepest path cell by cell with the RTL it comes from, and the RTL spots that hold the
deep paths.

What is counted, per path, from a start point to an endpoint:
    lut    LUT1..LUT6 and INV (Vivado turns a leftover inverter into a LUT1) and the
           asynchronous read of a distributed RAM or shift register (address -> output, a
           LUT); one level each.  MUXF7/F8/F9 add no LUT level: they sit in the slice of
           the LUTs that feed them and cost about a tenth of a level; they are counted
           apart as ``muxf``.
    carry  CARRY4 / CARRY8 (and MUXCY/XORCY) cells passed through, one each.  This Yosys
           maps adders to CARRY4 on UltraScale+ as well (a 32-bit add: 1 LUT level + 8
           CARRY4), where Vivado uses CARRY8 (4 of them): on UltraScale+ the count is about
           twice Vivado's.
    dsp    DSP48 stages passed through without a register (an input whose A/B/C/D/...REG is
           0 up to the next of MREG/PREG that is set, or through to P when PREG=0): the
           path goes on through the DSP, and ``dsp`` counts it; no LUT level is added.
The path kept for an endpoint is the one with the most LUT levels; among those, the most
carry cells, then DSP stages, then MUXFs (one linear pass over the cells in topological
order, so the paper-model netlist takes seconds, not a path enumeration).

Start points (depth 0): flip-flop and latch outputs, block RAM / UltraRAM outputs (a
synchronous read; a path's start carries a ``note`` when the RAM's output register is off,
DOA_REG/DOB_REG=0 or URAM OREG=FALSE, which adds about a LUT level of clock-to-out), DSP
outputs behind a register, distributed-RAM contents, the top's input ports, constants.
Endpoints: flip-flops and latches (D, CE, set/reset), block RAMs and UltraRAMs (every
input), DSPs (the registered inputs; an unregistered one counts the DSP stage it feeds),
distributed RAMs and shift registers (write side), and each bit of the top's output ports.
An endpoint cell's depth is the deepest of its input pins; clock pins are not endpoints.

Names: ``-flatten`` keeps hierarchical net names (``u_core.u_enc.count``) and ``src``
attributes (``fsvae_lif_update.sv:134.5-134.20``) on registers, carry chains and DSPs, but
the LUTs that ABC makes have neither; a path shows the names and RTL lines that survive.

Clock model (``supported_clock_mhz``): each family has a working limit, the LUT levels a
clean design meets at one anchor clock: 6 levels at 250 MHz on UltraScale+ -2 / -2LV (K26),
10 levels at 100 MHz on 7-series -1 (xc7z020).  A LUT level including its routing then
costs anchor period / anchor levels (0.667 ns and 1.0 ns), a carry cell 0.15 of a level
(the hop through a 4-bit carry block is ~0.1 ns, entering a chain more), a DSP stage
without its register 3 levels (a multiply without MREG/PREG is 2-4 ns).  The clock a path
supports is 1 / (levels x cost), capped at a ceiling; the slowest endpoint by that measure
sets the design's.  ZCU104's xczu7ev -2 uses the K26 figures.  These are rules of thumb
for planning, not a timing analysis: Vivado's placement decides.  Yosys's LUT mapping
(ABC, delay-driven with per-pin LUT delays) is not level-optimal: a 36-input XOR comes
out 3 levels deep and a 1296-input one 7, where 2 and 4 suffice; wide reductions and LUT
ROMs read deeper here than Vivado will make them.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

from fsvae_fpga.codegen import boards

# --- cell classes ---------------------------------------------------------------------------
LUT_CELL = re.compile(r"^(LUT[1-6](_2)?|INV)$")
MUXF_CELL = re.compile(r"^MUXF[5-9]$")
CARRY_CELL = re.compile(r"^(CARRY4|CARRY8|MUXCY|XORCY)$")
FF_CELL = re.compile(r"^(FD[A-Z]*|LD[A-Z]*)(_1)?$")
BRAM_CELL = re.compile(r"^RAMB(18|36)(E1|E2)?$")
URAM_CELL = re.compile(r"^URAM288(_BASE)?$")
DSP_CELL = re.compile(r"^DSP48(E1|E2|A1)?$")
LUTRAM_CELL = re.compile(r"^(RAM\d+X\d+[SD]|RAM\d+M\d*|RAM32X16DR8|RAM64X8SW)$")
SRL_CELL = re.compile(r"^SRL(C)?(16|32)E?$")
# read-address ports of distributed RAMs / shift registers (asynchronous read: a LUT level)
LUTRAM_ADDR_PORT = re.compile(r"^(A\d*|ADDR[A-H]|DPRA\d*)$")
# shift-register cascade outputs come straight from a register
SRL_REG_OUT = {"Q15", "Q31"}
CLOCK_PORTS = {"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "CLKA", "CLKB", "CLKARDCLKL",
               "CLKARDCLKU", "CLKBWRCLKL", "CLKBWRCLKU", "RDCLK", "WRCLK"}
IGNORED_CELL = re.compile(r"^(\$scopeinfo|VCC|GND|BUFG.*|IBUF.*|OBUF.*)$")

# Integer path keys: one LUT level, carry cell, DSP stage, MUXF, packed so that comparing
# two keys compares (lut, carry, dsp, muxf) in that order.
_MUXF, _DSP, _CARRY, _LUT = 1, 1 << 8, 1 << 14, 1 << 28
_FIELD = {"lut": (_LUT, 1 << 20), "carry": (_CARRY, 1 << 14), "dsp": (_DSP, 1 << 6),
          "muxf": (_MUXF, 1 << 8)}


def unpack(key: int) -> dict:
    return {name: (key // unit) % span for name, (unit, span) in _FIELD.items()}


# DSP48E1/E2 register parameter of each data/control input, and the stage the input feeds:
# "mult" (A, B, D, INMODE: the pre-adder and multiplier, registered next by MREG) or "alu"
# (C, OPMODE, ALUMODE, carry-in, the P cascade: the post-adder, registered by PREG).
DSP_INPUTS = {
    "A": ("AREG", "mult"), "ACIN": ("AREG", "mult"), "B": ("BREG", "mult"), "BCIN": ("BREG", "mult"),
    "D": ("DREG", "mult"), "INMODE": ("INMODEREG", "mult"),
    "C": ("CREG", "alu"), "OPMODE": ("OPMODEREG", "alu"), "ALUMODE": ("ALUMODEREG", "alu"),
    "CARRYIN": ("CARRYINREG", "alu"), "CARRYINSEL": ("CARRYINSELREG", "alu"),
    "PCIN": (None, "alu"), "CARRYCASCIN": (None, "alu"), "MULTSIGNIN": (None, "alu"),
}
DSP_AB_CASCADE_OUT = {"ACOUT": "A", "BCOUT": "B"}

# --- clock model ------------------------------------------------------------------------------
# Working limits per Yosys family: LUT levels a clean design meets at the anchor clock on the
# anchor part (with its routing, clock-to-out, setup and clock uncertainty folded in).
# UltraScale+ parts of speed grade -2 or -2LV (KV260's xck26 -2LV, ZCU104's xczu7ev -2) share
# the xcup anchor: the ZCU104's -2 may be slightly faster than the K26, which this model does
# not claim.  Ceiling: no clock above it is suggested whatever the depth (clock
# network, block RAM and DSP limits of a design that is not pipelined for them).
CLOCK_MODEL = {
    "xcup": {"anchor": "K26 -2LV", "anchor_mhz": 250.0, "anchor_levels": 6, "ceiling_mhz": 450.0},
    "xc7": {"anchor": "xc7z020 -1", "anchor_mhz": 100.0, "anchor_levels": 10, "ceiling_mhz": 250.0},
}
CARRY_LEVEL = 0.15          # a carry cell (CARRY4 as Yosys maps them) on the path, in LUT levels
DSP_STAGE_LEVELS = 3.0      # a DSP48 stage passed through without a register, in LUT levels

# PL clocks the processing system can make: a PLL output over two 6-bit dividers.  Assumed
# PLL rates: Zynq-7000, the IO PLL at 1000 MHz (the PYNQ-Z2 setting); Zynq UltraScale+, a
# PLL at 1500 MHz or 1000 MHz (Vivado's PS configuration picks the PLL and the dividers, and
# shows the clock it actually gets).
PL_PLL_MHZ = {"xc7": (1000.0,), "xcup": (1000.0, 1500.0)}


def clock_model(board: str) -> dict:
    b = boards.board(board)
    family = b["yosys_family"]
    if family not in CLOCK_MODEL:
        raise boards.BoardError(f"no logic-depth clock model for Yosys family {family!r} (board {board})")
    m = dict(CLOCK_MODEL[family])
    m["family"] = family
    m["ns_per_level"] = round(1000.0 / (m["anchor_mhz"] * m["anchor_levels"]), 4)
    # the number of levels that fits the board's configured clock
    m["clock_mhz"] = float(b["clock_mhz"])
    m["limit_levels"] = levels_for_clock(board, m["clock_mhz"])
    return m


def levels_for_clock(board: str, mhz: float) -> int:
    """The most LUT levels (no carry) a path may have at ``mhz`` on ``board``'s part."""
    m = CLOCK_MODEL[boards.board(board)["yosys_family"]]
    return int(math.floor(m["anchor_levels"] * m["anchor_mhz"] / mhz + 1e-9))


def path_levels(lut_levels: float, carry_levels: float = 0, dsp_stages: float = 0) -> float:
    """A path in LUT levels of delay: carry cells and unregistered DSP stages weighted."""
    return lut_levels + CARRY_LEVEL * carry_levels + DSP_STAGE_LEVELS * dsp_stages


def supported_clock_mhz(board: str, lut_levels: float, carry_levels: float = 0,
                        dsp_stages: float = 0) -> float:
    """The highest clock (MHz) a path of ``lut_levels`` LUT levels, ``carry_levels`` carry
    cells and ``dsp_stages`` unregistered DSP stages supports on ``board``'s part under the
    model above (capped at the family ceiling)."""
    m = CLOCK_MODEL[boards.board(board)["yosys_family"]]
    levels = max(1.0, path_levels(lut_levels, carry_levels, dsp_stages))
    ns = levels * 1000.0 / (m["anchor_mhz"] * m["anchor_levels"])
    return round(min(m["ceiling_mhz"], 1000.0 / ns), 1)


def pl_clock_mhz(board: str, mhz: float) -> float:
    """The highest PL clock at or below ``mhz`` that the board's processing system can make."""
    family = boards.board(board)["yosys_family"]
    best = 0.0
    for pll in PL_PLL_MHZ.get(family, (1000.0,)):
        n = max(1, math.ceil(pll / mhz - 1e-9))
        if n <= 63 * 63:
            best = max(best, pll / n)
    return math.floor(best * 10 + 1e-6) / 10


# --- Yosys side ---------------------------------------------------------------------------
def yosys_commands(top: str, json_path: str) -> list[str]:
    """Script lines that write the mapped top module (without the cell library's blackboxes)
    as JSON, for ``analyze``; run them after synth_xilinx."""
    return [f"select {top}", f"write_json -selected {json_path}", "select -clear"]


# --- netlist ------------------------------------------------------------------------------
def _param(cell: dict, name: str, default=0):
    v = cell.get("parameters", {}).get(name)
    if v is None:
        return default
    if isinstance(v, int):
        return v
    s = str(v)
    # write_json gives numbers as bit strings ("1", "0000...0001", x/z bits allowed) and
    # strings that look like bits with a trailing space
    if s and set(s) <= set("01xz"):
        return int(s.replace("x", "0").replace("z", "0"), 2)
    return s.strip()


def _truthy(v) -> bool:
    """A flag as write_json writes it: a number, a bit string or TRUE/FALSE."""
    if isinstance(v, int):
        return v != 0
    s = str(v).strip()
    if s and set(s) <= set("01xz"):
        return "1" in s
    return s.upper() in ("TRUE", "YES")


def _rtl_src(attrs: dict) -> list[str]:
    """The RTL locations of a ``src`` attribute, without Yosys's own library files."""
    src = attrs.get("src", "")
    return [s for s in src.split("|") if s and not s.startswith("/share/")]


def _top_module(netlist: dict, top: str | None) -> tuple[str, dict]:
    mods = netlist["modules"]
    if top is not None:
        if top not in mods:
            raise KeyError(f"module {top!r} not in the netlist (modules: {sorted(mods)[:10]})")
        return top, mods[top]
    tops = [n for n, m in mods.items() if _truthy(m.get("attributes", {}).get("top", 0))]
    if len(tops) == 1:
        return tops[0], mods[tops[0]]
    real = [n for n, m in mods.items() if not _truthy(m.get("attributes", {}).get("blackbox", 0))]
    if len(real) == 1:
        return real[0], mods[real[0]]
    raise KeyError(f"cannot tell the top module among {sorted(mods)[:10]}; pass top=")


class _Graph:
    """Combinational nodes (one per cell, or per DSP output group) over net bits."""

    def __init__(self):
        self.delta: list[int] = []        # key added by the node
        self.inputs: list[list] = []      # input bits of the node
        self.cell: list[str] = []         # cell name
        self.driver: dict = {}            # bit -> node index
        # endpoints: cell name -> list of (bit, extra key)
        self.endpoints: dict[str, list] = {}
        self.endpoint_kind: dict[str, str] = {}
        self.start_flags: dict = {}       # start bit -> note (RAM without output register)

    def node(self, name: str, delta: int, inputs: list, outputs: list) -> None:
        i = len(self.delta)
        self.delta.append(delta)
        self.inputs.append([b for b in inputs if isinstance(b, int)])
        self.cell.append(name)
        for b in outputs:
            if isinstance(b, int):
                self.driver[b] = i

    def endpoint(self, name: str, kind: str, bits: list, extra: int = 0) -> None:
        lst = self.endpoints.setdefault(name, [])
        lst.extend((b, extra) for b in bits if isinstance(b, int))
        self.endpoint_kind[name] = kind


def _dsp(g: _Graph, name: str, cell: dict, conns: dict, dirs: dict) -> None:
    """A DSP48: unregistered inputs continue through the DSP (one ``dsp`` stage) to the next
    register inside it (an endpoint) or, with PREG=0, to its outputs."""
    mreg = _param(cell, "MREG", 1)
    preg = _param(cell, "PREG", 1)
    use_mult = str(_param(cell, "USE_MULT", "MULTIPLY")).upper()
    alu_comb, ab_comb = [], {"A": [], "B": []}
    for port, bits in conns.items():
        if dirs.get(port) != "input" or port in CLOCK_PORTS:
            continue
        reg, stage = DSP_INPUTS.get(port, (None, None))
        if stage is None:                  # CE*, RST*, unused ports: sampled at the clock edge
            g.endpoint(name, "DSP", bits)
            continue
        if reg is not None and _param(cell, reg, 1):
            g.endpoint(name, "DSP", bits)
            continue
        if port in ("A", "B"):
            ab_comb[port].extend(bits)
        if stage == "mult" and port == "D" and _param(cell, "ADREG", 1):
            g.endpoint(name, "DSP", bits, _DSP)
            continue
        # into the multiplier: MREG ends it (unless the A:B concatenation bypasses it);
        # into the post-adder: PREG ends it
        reaches_alu = stage == "alu" or not mreg or (use_mult == "NONE" and port in ("A", "B", "ACIN", "BCIN"))
        if reaches_alu and not preg:
            alu_comb.extend(bits)
        else:
            g.endpoint(name, "DSP", bits, _DSP)
    for port, bits in conns.items():
        if dirs.get(port) != "output":
            continue
        if port in DSP_AB_CASCADE_OUT:
            src = ab_comb[DSP_AB_CASCADE_OUT[port]]
            if src:
                g.node(name, 0, src, bits)
        elif not preg:
            # from the inputs above, or from a register inside (A/B/M): one DSP stage either way
            g.node(name, _DSP, alu_comb, bits)


def _carry(g: _Graph, name: str, conns: dict) -> None:
    """CARRY4/CARRY8 per output bit: CO[i] and O[i] depend on S/DI up to i and the carry-in
    (a whole-cell node would make false loops where O[i] feeds S[j>i] through a LUT)."""
    s, di = conns.get("S", []), conns.get("DI", [])
    cin = conns.get("CI", []) + conns.get("CYINIT", []) + conns.get("CI_TOP", [])
    co, o = conns.get("CO", []), conns.get("O", [])
    for i in range(max(len(co), len(o))):
        outs = ([co[i]] if i < len(co) else []) + ([o[i]] if i < len(o) else [])
        g.node(name, _CARRY, cin + s[:i + 1] + di[:i + 1], outs)


def _read_address(out_port: str, addr_ports: list[str]) -> list[str]:
    """The address ports an asynchronous read output depends on: DOB <- ADDRB (RAM32M...),
    DPO <- DPRA (dual-port RAMnX1D), otherwise A (single-port RAMs, SPO, shift registers)."""
    if out_port.startswith("DO") and f"ADDR{out_port[2:3]}" in addr_ports:
        return [f"ADDR{out_port[2:3]}"]
    if out_port == "DPO":
        return [p for p in addr_ports if p.startswith("DPRA")]
    own = [p for p in addr_ports if re.match(r"^A\d*$", p)]
    return own or addr_ports


def build_graph(module: dict) -> tuple[_Graph, Counter]:
    g = _Graph()
    unknown: Counter = Counter()
    for name, cell in module.get("cells", {}).items():
        t = cell["type"]
        if IGNORED_CELL.match(t):
            continue
        conns = cell.get("connections", {})
        dirs = cell.get("port_directions", {})
        ins = [b for p, bits in conns.items() if dirs.get(p) == "input" for b in bits]
        outs = [b for p, bits in conns.items() if dirs.get(p) == "output" for b in bits]
        if LUT_CELL.match(t):
            g.node(name, _LUT, ins, outs)
        elif t in ("CARRY4", "CARRY8"):
            _carry(g, name, conns)
        elif CARRY_CELL.match(t):
            g.node(name, _CARRY, ins, outs)
        elif MUXF_CELL.match(t):
            g.node(name, _MUXF, ins, outs)
        elif FF_CELL.match(t):
            g.endpoint(name, "FF", [b for p, bits in conns.items()
                                    if dirs.get(p) == "input" and p not in CLOCK_PORTS for b in bits])
        elif BRAM_CELL.match(t) or URAM_CELL.match(t):
            kind = "BRAM" if BRAM_CELL.match(t) else "URAM"
            g.endpoint(name, kind, [b for p, bits in conns.items()
                                    if dirs.get(p) == "input" and p not in CLOCK_PORTS for b in bits])
            for p, bits in conns.items():
                if dirs.get(p) != "output" or p.startswith("CAS"):
                    continue
                if kind == "BRAM":
                    reg = "DOA_REG" if p.startswith(("DOA", "DOUTA", "DOPA", "DOUTPA")) else "DOB_REG"
                    slow = not _param(cell, reg, 0)
                else:
                    reg = "OREG_A" if p.endswith("_A") else "OREG_B"
                    slow = not _truthy(_param(cell, reg, "TRUE"))
                if slow:
                    for b in bits:
                        if isinstance(b, int):
                            g.start_flags[b] = f"{kind} {reg}=off"
        elif DSP_CELL.match(t):
            _dsp(g, name, cell, conns, dirs)
        elif LUTRAM_CELL.match(t) or SRL_CELL.match(t):
            addr_ports = [p for p in conns if dirs.get(p) == "input" and LUTRAM_ADDR_PORT.match(p)]
            for p, bits in conns.items():
                if dirs.get(p) != "output" or p in SRL_REG_OUT:
                    continue
                g.node(name, _LUT, [b for a in _read_address(p, addr_ports) for b in conns[a]], bits)
            srl = bool(SRL_CELL.match(t))
            g.endpoint(name, "SRL" if srl else "LUTRAM",
                       [b for p, bits in conns.items() if dirs.get(p) == "input" and p not in CLOCK_PORTS
                        and not (srl and LUTRAM_ADDR_PORT.match(p)) for b in bits])
        elif t.startswith("$"):
            # a generic cell left unmapped: logic that would become LUTs
            unknown[t] += 1
            g.node(name, _LUT, ins, outs)
        else:
            # an unknown primitive or a black box: a register boundary
            unknown[t] += 1
            g.endpoint(name, t, [b for p, bits in conns.items()
                                 if dirs.get(p) == "input" and p not in CLOCK_PORTS for b in bits])
    return g, unknown


def longest_paths(g: _Graph) -> tuple[list[int], list[int], int]:
    """Key of the deepest path into each node's outputs and the input bit it came through;
    iterative depth-first in post-order, linear in the edges.  An input that closes a
    combinational loop is left out (its node's depth is then a lower bound); the number of
    such inputs is returned."""
    n = len(g.delta)
    key = [0] * n
    best_in = [-1] * n
    state = bytearray(n)            # 0 new, 1 open (on the stack), 2 done
    driver, inputs, delta = g.driver, g.inputs, g.delta
    loops = 0
    for root in range(n):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, 0)]
        while stack:
            v, i = stack[-1]
            ins = inputs[v]
            descended = False
            while i < len(ins):
                u = driver.get(ins[i])
                i += 1
                if u is not None and state[u] == 0:
                    stack[-1] = (v, i)
                    state[u] = 1
                    stack.append((u, 0))
                    descended = True
                    break
            if descended:
                continue
            stack.pop()
            k, arg = 0, (ins[0] if ins else -1)
            for b in ins:
                u = driver.get(b)
                if u is None:
                    continue
                if state[u] == 1:
                    loops += 1
                    continue
                if key[u] > k:
                    k, arg = key[u], b
            key[v] = k + delta[v]
            best_in[v] = arg
            state[v] = 2
    return key, best_in, loops


# --- analysis ------------------------------------------------------------------------------
def _names(module: dict, wanted: set) -> dict:
    """bit -> the names it has (public or not): [{net, instance, src, public, depth}]."""
    found: dict = {}
    for name, net in module.get("netnames", {}).items():
        bits = net.get("bits", [])
        hits = [(i, b) for i, b in enumerate(bits) if b in wanted]
        if not hits:
            continue
        attrs = net.get("attributes", {})
        hdl = attrs.get("hdlname")
        parts = hdl.split(" ") if hdl else name.split(".")
        offset = net.get("offset", 0) if isinstance(net.get("offset", 0), int) else 0
        for i, b in hits:
            found.setdefault(b, []).append({
                "net": name if len(bits) == 1 else f"{name}[{i + offset}]",
                "instance": ".".join(parts[:-1]), "src": _rtl_src(attrs),
                "public": not net.get("hide_name", 0), "depth": len(parts)})
    return found


def _best_name(cands: list, cell_src: list[str]) -> dict:
    """The name to show for a net: public; declared in the file of the cell that drives it
    (a register's own name, not the port names it is passed through); deepest in the
    hierarchy; shortest."""
    files = {s.split(":")[0] for s in cell_src}
    best = max(cands, key=lambda c: (c["public"], any(x.split(":")[0] in files for x in c["src"]),
                                     c["depth"], -len(c["net"])), default=None)
    return best if best and best["public"] else {}


def _cells_driving(module: dict, wanted: set) -> dict:
    """bit -> (cell name, cell type, RTL src) for the wanted bits."""
    out = {}
    for name, cell in module.get("cells", {}).items():
        dirs = cell.get("port_directions", {})
        for p, bits in cell.get("connections", {}).items():
            if dirs.get(p) != "output":
                continue
            for b in bits:
                if b in wanted:
                    out[b] = (name, cell["type"], _rtl_src(cell.get("attributes", {})))
    return out


def _trace(g: _Graph, best_in: list[int], bit) -> tuple[list, object]:
    """The nodes of the deepest path into ``bit``, start first, and the start bit."""
    nodes = []
    seen = set()
    while isinstance(bit, int) and bit in g.driver:
        v = g.driver[bit]
        if v in seen:
            break
        seen.add(v)
        nodes.append((v, bit))
        bit = best_in[v]
    nodes.reverse()
    return nodes, bit


_INDEX = re.compile(r"\[\d+\]")


def _rtl_point(step: dict) -> str:
    """A path end as RTL: 'file.sv: name inside the module' with indices as [*]."""
    net = step.get("net") or step.get("pin_net")
    inst = step.get("instance") or ""
    if net and inst and net.startswith(inst + "."):
        net = net[len(inst) + 1:]
    name = _INDEX.sub("[*]", net) if net else step["type"]
    files = [x.split(":")[0] for x in step.get("src", [])]
    return f"{files[0].rsplit('/', 1)[-1]}: {name}" if files else name


def _load(netlist: dict | str | Path) -> dict:
    return netlist if isinstance(netlist, dict) else json.loads(Path(netlist).read_text())


def _endpoint_depths(module: dict) -> tuple[_Graph, Counter, list[int], int, list]:
    """The graph, the unknown cells, the node keys, the loop count and, per endpoint (cell,
    or top output bit), the deepest of its pins as (key, endpoint, bit, extra)."""
    g, unknown = build_graph(module)
    for port in module.get("ports", {}).values():
        if port.get("direction") in ("output", "inout"):
            for i, b in enumerate(port.get("bits", [])):
                if isinstance(b, int):
                    g.endpoints[f"<port>{i}:{b}"] = [(b, 0)]
                    g.endpoint_kind[f"<port>{i}:{b}"] = "output port"
    key, best_in, loops = longest_paths(g)
    ends = []
    for cell, pins in g.endpoints.items():
        best = None
        for b, extra in pins:
            v = g.driver.get(b) if isinstance(b, int) else None
            k = (0 if v is None else key[v]) + extra
            if best is None or k > best[0]:
                best = (k, cell, b, extra)
        ends.append(best if best is not None else (0, cell, None, 0))   # constant inputs only
    return g, unknown, best_in, loops, ends


def register_depths(netlist: dict | str | Path, top: str | None = None) -> dict:
    """Depth into each flip-flop, by the name of the net it drives (``u_core.count[3]``):
    {name: {lut, carry, dsp, muxf}}; flip-flops whose output has no public name are left out."""
    _, module = _top_module(_load(netlist), top)
    g, _, _, _, ends = _endpoint_depths(module)
    q_bits = {}
    for k, cell, b, extra in ends:
        if g.endpoint_kind[cell] == "FF":
            c = module["cells"][cell]
            q = [x for p, bits in c["connections"].items()
                 if c.get("port_directions", {}).get(p) == "output" for x in bits if isinstance(x, int)]
            if q:
                q_bits[q[0]] = (k, _rtl_src(c.get("attributes", {})))
    names = _names(module, set(q_bits))
    out = {}
    for bit, (k, src) in q_bits.items():
        nm = _best_name(names.get(bit, []), src)
        if nm:
            out[nm["net"]] = unpack(k)
    return out


def analyze(netlist: dict | str | Path, top: str | None = None, limit_levels: int | None = None,
            hotspots: int = 5) -> dict:
    """Logic depth of a mapped netlist (``write_json`` output, a dict or a path).

    ``limit_levels``: the working limit of the board, for the count of endpoints above it and
    the RTL spots (``hotspots``) those endpoints belong to; default 10."""
    top_name, module = _top_module(_load(netlist), top)
    g, unknown, best_in, loops, ends = _endpoint_depths(module)
    limit = 10 if limit_levels is None else int(limit_levels)
    hist: Counter = Counter()
    by_kind: Counter = Counter()
    carry_max = dsp_ends = 0
    costliest = {"lut": 0, "carry": 0, "dsp": 0}  # the most levels by path_levels
    deepest_dsp = None                            # the deepest endpoint behind an unregistered DSP
    for k, cell, b, extra in ends:
        u = unpack(k)
        hist[u["lut"]] += 1
        carry_max = max(carry_max, u["carry"])
        if u["dsp"]:
            dsp_ends += 1
            if deepest_dsp is None or k > deepest_dsp[0]:
                deepest_dsp = (k, u)
        c = costliest
        if path_levels(u["lut"], u["carry"], u["dsp"]) > path_levels(c["lut"], c["carry"], c["dsp"]):
            costliest = {"lut": u["lut"], "carry": u["carry"], "dsp": u["dsp"]}
        if u["lut"] >= limit:
            by_kind[g.endpoint_kind[cell]] += 1
    ends.sort(key=lambda e: e[0], reverse=True)
    deep = [e for e in ends if unpack(e[0])["lut"] >= limit] or ends[:1]

    # names for the deepest path and for the endpoints over the limit: one pass over the
    # netnames and one over the cells for all of them
    traces, end_out = {}, {}
    wanted = set()
    for e in deep:
        nodes, start = _trace(g, best_in, e[2])
        traces[e[1]] = (nodes, start)
        wanted.update(b for _, b in nodes)
        for b in (start, e[2]):
            if isinstance(b, int):
                wanted.add(b)
        if g.endpoint_kind[e[1]] == "FF":
            c = module["cells"][e[1]]
            q = [x for p, bits in c.get("connections", {}).items()
                 if c.get("port_directions", {}).get(p) == "output" for x in bits if isinstance(x, int)]
            if q:
                end_out[e[1]] = q[0]
                wanted.add(q[0])
    names = _names(module, wanted)
    start_cells = _cells_driving(module, {s for _, s in traces.values() if isinstance(s, int)})
    port_bits = {b: f"{pn}[{i}]" for pn, p in module.get("ports", {}).items()
                 for i, b in enumerate(p.get("bits", [])) if isinstance(b, int) and b in wanted}
    cell_info: dict = {}

    def info(cname):
        if cname not in cell_info:
            c = module["cells"][cname]
            cell_info[cname] = (c["type"], _rtl_src(c.get("attributes", {})))
        return cell_info[cname]

    def point(bit, cell=None, ctype=None, src=None) -> dict:
        nm = _best_name(names.get(bit, []), src or []) if isinstance(bit, int) else {}
        return {"cell": cell, "type": ctype, "net": nm.get("net"), "instance": nm.get("instance"),
                "src": list(dict.fromkeys((src or []) + nm.get("src", [])))}

    def describe(e) -> dict:
        k, cell, b, extra = e
        nodes, start = traces[cell]
        if isinstance(start, int) and start in start_cells:
            c, t, src = start_cells[start]
            first = dict(point(start, c, t, src), role="start")
            if start in g.start_flags:
                first["note"] = g.start_flags[start]
        elif isinstance(start, int) and start in port_bits:
            first = {"cell": None, "type": "input port", "net": port_bits[start], "instance": "",
                     "src": [], "role": "start"}
        else:
            first = {"cell": None, "type": "constant" if not isinstance(start, int) else "undriven",
                     "net": None, "instance": None, "src": [], "role": "start"}
        steps = [first]
        for v, out_bit in nodes:
            t, src = info(g.cell[v])
            steps.append(dict(point(out_bit, g.cell[v], t, src), role="logic"))
        kind = g.endpoint_kind[cell]
        if kind == "output port":
            end = {"cell": None, "type": "output port", "net": port_bits.get(b), "instance": "", "src": []}
        else:
            t, src = info(cell)
            # a flip-flop is named by the net its output drives
            end = point(end_out[cell], cell, t, src) if cell in end_out else \
                {"cell": cell, "type": t, "net": None, "instance": None, "src": src}
        end["role"] = "end"
        end["pin_net"] = _best_name(names.get(b, []), []).get("net")
        steps.append(end)
        u = unpack(k)
        rtl = list(dict.fromkeys(s.split(":")[0] for st in steps for s in st["src"]))
        instances = list(dict.fromkeys(st["instance"] for st in steps if st.get("instance")))
        return {"lut": u["lut"], "carry": u["carry"], "dsp": u["dsp"], "muxf": u["muxf"],
                "endpoint_kind": kind, "rtl_files": rtl, "instances": instances, "path": steps}

    deepest = describe(ends[0]) if ends else None
    # RTL spots: the endpoints at or over the limit grouped by the RTL of their start and end
    # points (file of the register's always block, its name inside the module, indices
    # dropped), so that the replicas of one engine fall together
    spots: dict = {}
    for e in deep:
        if unpack(e[0])["lut"] < limit:
            continue
        d = describe(e)
        s, t = d["path"][0], d["path"][-1]
        gk = (_rtl_point(s), _rtl_point(t))
        spot = spots.get(gk)
        if spot is None:
            spots[gk] = spot = {"start": gk[0], "end": gk[1], "endpoints": 0, "lut": -1, "carry": 0,
                                "instances": [], "example": None, "rtl_files": [], "src": []}
        spot["endpoints"] += 1
        if (d["lut"], d["carry"]) > (spot["lut"], spot["carry"]):
            spot.update(lut=d["lut"], carry=d["carry"], rtl_files=d["rtl_files"],
                        src=list(dict.fromkeys(x for st in d["path"] for x in st["src"]))[:8],
                        example=f"{s.get('net') or s['type']} -> {t.get('net') or t.get('pin_net') or t['type']}")
        for inst in d["instances"]:
            if inst not in spot["instances"]:
                spot["instances"].append(inst)
    worst_spots = sorted(spots.values(), key=lambda s: (s["lut"], s["endpoints"], s["carry"]), reverse=True)
    # endpoints by LUT levels: histogram[n] endpoints have n levels (a list: JSON keeps it as is)
    hist_list = [hist.get(n, 0) for n in range(max(hist) + 1 if hist else 0)]
    return {
        "top": top_name,
        "counting": "LUT levels: LUT1-6, INV and distributed-RAM/SRL reads; MUXF7/8 part of the "
                    "LUT level (counted apart); carry: CARRY4/CARRY8 cells; dsp: unregistered DSP stages",
        "endpoints": len(ends),
        "histogram": hist_list,
        "max_lut": max(hist) if hist else 0,
        "max_carry": carry_max,
        "endpoints_through_dsp": dsp_ends,
        "deepest_through_dsp": deepest_dsp[1] if deepest_dsp else None,
        "costliest": costliest,
        "limit_levels": limit,
        "endpoints_at_or_over_limit": sum(v for k, v in hist.items() if k >= limit),
        "endpoints_over_limit": sum(v for k, v in hist.items() if k > limit),
        "endpoints_at_or_over_limit_by_kind": dict(by_kind),
        "deepest": deepest,
        "hotspots": worst_spots[:hotspots],
        "combinational_loops": loops,
        "unknown_cells": dict(unknown),
    }


def at_least(histogram: list[int], levels: int) -> int:
    """Endpoints with ``levels`` LUT levels or more."""
    return sum(histogram[max(0, levels):])


def board_summary(depth: dict, board: str) -> dict:
    """The board's working limit, the clock the measured depth supports (the endpoint with the
    most levels by ``path_levels``), and the PL clock to use."""
    m = clock_model(board)
    d = depth.get("costliest") or {"lut": 0, "carry": 0, "dsp": 0}
    mhz = supported_clock_mhz(board, d["lut"], d["carry"], d["dsp"])
    return {
        "clock_mhz": m["clock_mhz"],
        "limit_levels": m["limit_levels"],
        "model": (f"{m['ns_per_level']} ns per LUT level incl. routing ({m['anchor_levels']} levels at "
                  f"{m['anchor_mhz']:g} MHz on the {m['anchor']}), a carry cell {CARRY_LEVEL:g} level, "
                  f"an unregistered DSP stage {DSP_STAGE_LEVELS:g}, ceiling {m['ceiling_mhz']:g} MHz"),
        "ns_per_level": m["ns_per_level"],
        "limiting_path": dict(d),
        "supported_clock_mhz": mhz,
        "recommended_pl_clock_mhz": pl_clock_mhz(board, mhz),
        "meets_clock": mhz >= m["clock_mhz"],
        "endpoints_over_limit": at_least(depth["histogram"], m["limit_levels"] + 1),
    }


def format_summary(depth: dict, summary: dict | None = None) -> str:
    d = depth["deepest"]
    lines = [f"Logic depth (Yosys netlist; {depth['counting']}):"]
    if d is None:
        lines.append("  no endpoints")
        return "\n".join(lines)
    lines.append(f"  deepest path: {d['lut']} LUT levels, {d['carry']} carry cells"
                 + (f", {d['dsp']} DSP stages" if d["dsp"] else "") + (f", {d['muxf']} MUXF" if d["muxf"] else "")
                 + f" into a {d['endpoint_kind']}")
    s, e = d["path"][0], d["path"][-1]

    def where(step):
        src = step["src"][0] if step["src"] else None
        extra = [x for x in (src, step.get("note")) if x]
        return f" ({', '.join([step['type']] + extra)})"
    lines.append(f"    from {s.get('net') or s['type']}{where(s)}")
    lines.append(f"    to   {e.get('net') or e.get('pin_net') or e['type']}{where(e)}")
    carry_src = list(dict.fromkeys(x for st in d["path"][1:-1] for x in st["src"]))
    if carry_src:
        lines.append(f"    via  {', '.join(carry_src[:4])}")
    if d["instances"]:
        lines.append(f"    through {', '.join(d['instances'][:6])}")
    if d["rtl_files"]:
        lines.append(f"    RTL {', '.join(d['rtl_files'][:6])}")
    hist = depth["histogram"]
    lines.append("  endpoints by LUT levels: " + ", ".join(f"{k}:{v}" for k, v in enumerate(hist) if v))
    lines.append(f"  endpoints {depth['endpoints']}, at >= 10 levels {at_least(hist, 10)}, "
                 f"deepest carry chain {depth['max_carry']} cells")
    if depth.get("deepest_through_dsp"):
        x = depth["deepest_through_dsp"]
        lines.append(f"  {depth['endpoints_through_dsp']} endpoints behind an unregistered DSP stage; deepest "
                     f"{x['lut']} LUT + {x['carry']} carry + {x['dsp']} DSP stage(s)")
    if summary:
        lines.append(f"  working limit: {summary['limit_levels']} LUT levels at {summary['clock_mhz']:g} MHz "
                     f"({summary['model']}); {summary['endpoints_over_limit']} endpoints over it")
        lp = summary["limiting_path"]
        lines.append(f"  the slowest path ({lp['lut']} LUT + {lp['carry']} carry"
                     + (f" + {lp['dsp']} DSP" if lp.get("dsp") else "") + ") supports about "
                     f"{summary['supported_clock_mhz']:g} MHz; "
                     f"PL clock to use before pipelining: {summary['recommended_pl_clock_mhz']:g} MHz"
                     + ("" if summary["meets_clock"] else f" (below the configured {summary['clock_mhz']:g} MHz)"))
    if depth["hotspots"]:
        lines.append(f"  RTL spots with endpoints at >= {depth['limit_levels']} levels (deepest first):")
    for i, h in enumerate(depth["hotspots"]):
        lines.append(f"    {i + 1}. {h['lut']} LUT + {h['carry']} carry, {h['endpoints']} endpoints in "
                     f"{len(h['instances'])} instance(s): {h['start']} -> {h['end']}")
    if depth["combinational_loops"]:
        lines.append(f"  warning: {depth['combinational_loops']} combinational loop edges "
                     "(depth there is a lower bound)")
    return "\n".join(lines)
