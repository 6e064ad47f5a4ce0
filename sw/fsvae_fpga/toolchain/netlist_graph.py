"""A Yosys ``synth_xilinx`` netlist (``write_json``) as a timing graph: cell classes, start
points and endpoints, and the longest path into every endpoint (``longest_paths``), in LUT
levels, carry cells, DSP stages and MUXFs.  logic_depth.py reads it.

Names: ``-flatten`` keeps hierarchical net names (``u_core.u_enc.count``) and ``src``
attributes (``fsvae_lif_update.sv:134.5-134.20``) on registers, carry chains and DSPs, but
the LUTs that ABC makes have neither; a path shows the names and RTL lines that survive.
"""
from __future__ import annotations

import re
from collections import Counter


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


def rtl_src(attrs: dict) -> list[str]:
    """The RTL locations of a ``src`` attribute, without Yosys's own library files."""
    src = attrs.get("src", "")
    return [s for s in src.split("|") if s and not s.startswith("/share/")]


def top_module(netlist: dict, top: str | None) -> tuple[str, dict]:
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


class TimingGraph:
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


def _dsp(g: TimingGraph, name: str, cell: dict, conns: dict, dirs: dict) -> None:
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


def _carry(g: TimingGraph, name: str, conns: dict) -> None:
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


def build_graph(module: dict) -> tuple[TimingGraph, Counter]:
    g = TimingGraph()
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


def longest_paths(g: TimingGraph) -> tuple[list[int], list[int], int]:
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


