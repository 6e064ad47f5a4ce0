"""Logic depth of a Yosys ``synth_xilinx`` netlist, and the clock it supports.

Input: the mapped netlist as Yosys ``write_json`` writes it (the estimate writes
``netlist.json`` after synthesis, see ``yosys_commands``).  Output (``analyze``): for every
timing endpoint the deepest combinational path into it, a histogram of endpoints by depth,
the deepest path cell by cell with the RTL it comes from, and the RTL spots that hold the
deep paths (``_depth_stats``: the endpoint summary; ``_Paths``: the traced and named paths;
``_rtl_spots``: the ranking of RTL spots).

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

The netlist graph is netlist_graph.py; the clock model is clock_model.py.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from fsvae_fpga.toolchain.clock_model import (CARRY_LEVEL, DSP_STAGE_LEVELS, clock_model, path_levels, pl_clock_mhz,
                                              supported_clock_mhz)
from fsvae_fpga.toolchain.netlist_graph import TimingGraph, build_graph, longest_paths, rtl_src, top_module, unpack


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
                "instance": ".".join(parts[:-1]), "src": rtl_src(attrs),
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
                    out[b] = (name, cell["type"], rtl_src(cell.get("attributes", {})))
    return out


def _trace(g: TimingGraph, best_in: list[int], bit) -> tuple[list, object]:
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


def _endpoint_depths(module: dict) -> tuple[TimingGraph, Counter, list[int], int, list]:
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
    _, module = top_module(_load(netlist), top)
    g, _, _, _, ends = _endpoint_depths(module)
    q_bits = {}
    for k, cell, b, extra in ends:
        if g.endpoint_kind[cell] == "FF":
            c = module["cells"][cell]
            q = [x for p, bits in c["connections"].items()
                 if c.get("port_directions", {}).get(p) == "output" for x in bits if isinstance(x, int)]
            if q:
                q_bits[q[0]] = (k, rtl_src(c.get("attributes", {})))
    names = _names(module, set(q_bits))
    out = {}
    for bit, (k, src) in q_bits.items():
        nm = _best_name(names.get(bit, []), src)
        if nm:
            out[nm["net"]] = unpack(k)
    return out


def _depth_stats(g: TimingGraph, ends: list, limit: int) -> dict:
    """The endpoint summary: histogram by LUT levels, deepest carry chain, endpoints behind an
    unregistered DSP, the costliest path by ``path_levels``, and the counts at the limit."""
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
    return {
        # endpoints by LUT levels: histogram[n] endpoints have n levels (a list: JSON keeps it as is)
        "histogram": [hist.get(n, 0) for n in range(max(hist) + 1 if hist else 0)],
        "max_lut": max(hist) if hist else 0,
        "max_carry": carry_max,
        "endpoints_through_dsp": dsp_ends,
        "deepest_through_dsp": deepest_dsp[1] if deepest_dsp else None,
        "costliest": costliest,
        "at_or_over": sum(v for k, v in hist.items() if k >= limit),
        "over": sum(v for k, v in hist.items() if k > limit),
        "by_kind": dict(by_kind),
    }


class _Paths:
    """The deepest paths into a set of endpoints, traced and named: one pass over the
    netnames and one over the cells for all of them; ``describe`` gives one path step by step."""

    def __init__(self, g: TimingGraph, module: dict, best_in: list[int], deep: list):
        self.g, self.module = g, module
        self.traces, self.end_out = {}, {}
        wanted = set()
        for e in deep:
            nodes, start = _trace(g, best_in, e[2])
            self.traces[e[1]] = (nodes, start)
            wanted.update(b for _, b in nodes)
            for b in (start, e[2]):
                if isinstance(b, int):
                    wanted.add(b)
            if g.endpoint_kind[e[1]] == "FF":
                c = module["cells"][e[1]]
                q = [x for p, bits in c.get("connections", {}).items()
                     if c.get("port_directions", {}).get(p) == "output" for x in bits if isinstance(x, int)]
                if q:
                    self.end_out[e[1]] = q[0]
                    wanted.add(q[0])
        self.names = _names(module, wanted)
        self.start_cells = _cells_driving(module, {s for _, s in self.traces.values() if isinstance(s, int)})
        self.port_bits = {b: f"{pn}[{i}]" for pn, p in module.get("ports", {}).items()
                          for i, b in enumerate(p.get("bits", [])) if isinstance(b, int) and b in wanted}
        self.cell_info: dict = {}

    def info(self, cname) -> tuple:
        """(type, RTL src) of a cell, looked up once."""
        if cname not in self.cell_info:
            c = self.module["cells"][cname]
            self.cell_info[cname] = (c["type"], rtl_src(c.get("attributes", {})))
        return self.cell_info[cname]

    def point(self, bit, cell=None, ctype=None, src=None) -> dict:
        """A path step: the cell, its type, the best name of the net ``bit`` and the RTL of both."""
        nm = _best_name(self.names.get(bit, []), src or []) if isinstance(bit, int) else {}
        return {"cell": cell, "type": ctype, "net": nm.get("net"), "instance": nm.get("instance"),
                "src": list(dict.fromkeys((src or []) + nm.get("src", [])))}

    def start_step(self, start) -> dict:
        """The first step of a path: the cell driving ``start``, an input port, a constant or nothing."""
        if isinstance(start, int) and start in self.start_cells:
            c, t, src = self.start_cells[start]
            first = dict(self.point(start, c, t, src), role="start")
            if start in self.g.start_flags:
                first["note"] = self.g.start_flags[start]
        elif isinstance(start, int) and start in self.port_bits:
            first = {"cell": None, "type": "input port", "net": self.port_bits[start], "instance": "",
                     "src": [], "role": "start"}
        else:
            first = {"cell": None, "type": "constant" if not isinstance(start, int) else "undriven",
                     "net": None, "instance": None, "src": [], "role": "start"}
        return first

    def end_step(self, cell, b) -> dict:
        """The last step of a path: the endpoint ``cell`` (or output port) reached at bit ``b``."""
        if self.g.endpoint_kind[cell] == "output port":
            end = {"cell": None, "type": "output port", "net": self.port_bits.get(b), "instance": "", "src": []}
        else:
            t, src = self.info(cell)
            # a flip-flop is named by the net its output drives
            end = self.point(self.end_out[cell], cell, t, src) if cell in self.end_out else \
                {"cell": cell, "type": t, "net": None, "instance": None, "src": src}
        end["role"] = "end"
        end["pin_net"] = _best_name(self.names.get(b, []), []).get("net")
        return end

    def describe(self, e) -> dict:
        """The deepest path into endpoint ``e``: its depth, kind, RTL files, instances and steps."""
        k, cell, b, extra = e
        nodes, start = self.traces[cell]
        steps = [self.start_step(start)]
        for v, out_bit in nodes:
            t, src = self.info(self.g.cell[v])
            steps.append(dict(self.point(out_bit, self.g.cell[v], t, src), role="logic"))
        steps.append(self.end_step(cell, b))
        u = unpack(k)
        rtl = list(dict.fromkeys(s.split(":")[0] for st in steps for s in st["src"]))
        instances = list(dict.fromkeys(st["instance"] for st in steps if st.get("instance")))
        return {"lut": u["lut"], "carry": u["carry"], "dsp": u["dsp"], "muxf": u["muxf"],
                "endpoint_kind": self.g.endpoint_kind[cell], "rtl_files": rtl, "instances": instances,
                "path": steps}


def _rtl_spots(paths: _Paths, deep: list, limit: int) -> list[dict]:
    """The RTL spots, worst first: the endpoints at or over the limit grouped by the RTL of their
    start and end points (file of the register's always block, its name inside the module,
    indices dropped), so that the replicas of one engine fall together."""
    spots: dict = {}
    for e in deep:
        if unpack(e[0])["lut"] < limit:
            continue
        d = paths.describe(e)
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
    return sorted(spots.values(), key=lambda s: (s["lut"], s["endpoints"], s["carry"]), reverse=True)


def analyze(netlist: dict | str | Path, top: str | None = None, limit_levels: int | None = None,
            hotspots: int = 5) -> dict:
    """Logic depth of a mapped netlist (``write_json`` output, a dict or a path).

    ``limit_levels``: the working limit of the board, for the count of endpoints above it and
    the RTL spots (``hotspots``) those endpoints belong to; default 10."""
    top_name, module = top_module(_load(netlist), top)
    g, unknown, best_in, loops, ends = _endpoint_depths(module)
    limit = 10 if limit_levels is None else int(limit_levels)
    stats = _depth_stats(g, ends, limit)
    ends.sort(key=lambda e: e[0], reverse=True)
    deep = [e for e in ends if unpack(e[0])["lut"] >= limit] or ends[:1]
    paths = _Paths(g, module, best_in, deep)
    deepest = paths.describe(ends[0]) if ends else None
    worst_spots = _rtl_spots(paths, deep, limit)
    return {
        "top": top_name,
        "counting": "LUT levels: LUT1-6, INV and distributed-RAM/SRL reads; MUXF7/8 part of the "
                    "LUT level (counted apart); carry: CARRY4/CARRY8 cells; dsp: unregistered DSP stages",
        "endpoints": len(ends),
        "histogram": stats["histogram"],
        "max_lut": stats["max_lut"],
        "max_carry": stats["max_carry"],
        "endpoints_through_dsp": stats["endpoints_through_dsp"],
        "deepest_through_dsp": stats["deepest_through_dsp"],
        "costliest": stats["costliest"],
        "limit_levels": limit,
        "endpoints_at_or_over_limit": stats["at_or_over"],
        "endpoints_over_limit": stats["over"],
        "endpoints_at_or_over_limit_by_kind": stats["by_kind"],
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
