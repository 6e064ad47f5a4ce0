"""The HLS design's on-chip arrays: one description per array (``Memory``), from which the
writer (hls.py) renders declarations and pragmas, and from which blocks are counted by bank
geometry (BRAM18 shapes 16Kx1 .. 1Kx18, 512x36 simple dual port; URAM 4Kx72; LUTRAM for small
banks).  ``fit_blocks`` places the run-time loaded weights (URAM or BRAM) and refuses a
design over the board's memory budget, naming the shortfall in blocks.  The weights of layers
streamed from DDR (design ``LayerPlan.streamed``) have no array: only their engine's row
buffer is counted.  A layer that scatters its events in pairs (``LayerPlan.event_pairs``,
fsvae/lif_linear.h ``lif_linear_step_pairs``) reads two weight rows a cycle: its weight array
is a two-port memory (rom_2p, or ram_2p where load_weights writes it).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from fsvae_fpga.codegen.design import CodegenError, cname, describe, stream_settings, threshold_sum_bits
from fsvae_fpga.contract.hwmodel import HwModel

# --- memories: one description per array, rendered as pragmas and counted in blocks ----------
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18))   # depth x width, any port mode
BRAM18_SDP = (512, 36)          # simple dual port only (one read port, one write port)
URAM_SHAPE = (4096, 72)
LUTRAM_MAX_BITS = 4096          # a bank this small goes to LUTs: a BRAM18 would be mostly empty
STORAGE_TYPE = {"rom": "rom_1p", "load": "ram_1p", "ram": "ram_s2p"}
# two reads a cycle (event pairs): block RAM and UltraRAM have the second port anyway (the
# same blocks; BRAM18 shapes of a ROM are counted without 512x36 either way), LUTs do not
# (lutram_luts)
STORAGE_TYPE_2P = {"rom": "rom_2p", "load": "ram_2p"}


def bram18_blocks(depth: int, width: int, sdp: bool) -> int:
    """BRAM18 primitives for one bank (a BRAM36 counts 2: same shapes at twice the depth)."""
    shapes = BRAM18_SHAPES + ((BRAM18_SDP,) if sdp else ())
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in shapes)


def uram_blocks(depth: int, width: int) -> int:
    return math.ceil(width / URAM_SHAPE[1]) * math.ceil(depth / URAM_SHAPE[0])


def lutram_luts(depth: int, width: int, rom: bool, read_ports: int = 1) -> int:
    """LUTs of one bank in distributed memory (an estimate: 64x1 per LUT for a ROM; for a RAM
    with a read and a write port RAM64X1D (64x1, 2 LUTs) or RAM64M8 (64x7, 8 LUTs), plus the
    read multiplexer beyond 256 entries).  Two read ports (event pairs): a ROM answers one
    address per LUT, so it is two copies; a RAM is RAM64X1D, whose write address reads too;
    each port has its own multiplexer."""
    slices = math.ceil(depth / 64)
    mux = width * math.ceil(slices / 4) if slices > 4 else 0
    if rom:
        return read_ports * (slices * width + mux)
    per = min(2 * width, 8 * math.ceil(width / 7)) if read_ports == 1 else 2 * width
    return slices * per + read_ports * mux


@dataclass
class Memory:
    """One on-chip array of the generated design."""
    name: str                  # C identifier
    ctype: str
    dims: tuple[int, ...]
    bits: int                  # element width
    role: str                  # weight | bias | state | events
    storage: str               # rom (initialised) | load (RAM written by load_weights) | ram (no initial contents)
    lanes: int = 1             # P: elements read or written together, along dimension `dim`
    dim: int = 1               # 1-based
    declared: str = "core"     # weights.h | core | engine (a local array of an engine: counted only)
    layer: str | None = None
    layout: str = "none"       # partition (P banks) | reshape (one word of P lanes) | none
    impl: str = ""             # lutram | bram | uram
    read_ports: int = 1        # 2: two reads a cycle (a weight array read by event pairs)

    @property
    def elements(self) -> int:
        return int(np.prod(self.dims))

    def geometry(self, layout: str | None = None) -> tuple[int, int, int]:
        """(banks, depth, width in bits) of the array in a layout."""
        layout = layout or self.layout
        if self.lanes == 1 or layout == "none":
            return 1, self.elements, self.bits
        if layout == "partition":
            return self.lanes, self.elements // self.lanes, self.bits
        return 1, self.elements // self.lanes, self.lanes * self.bits

    def blocks(self, impl: str | None = None, layout: str | None = None) -> dict[str, int]:
        impl = impl or self.impl
        banks, depth, width = self.geometry(layout)
        if impl == "lutram":
            luts = lutram_luts(depth, width, self.storage == "rom", self.read_ports)
            return {"bram18": 0, "uram": 0, "lut": banks * luts}
        if impl == "uram":
            return {"bram18": 0, "uram": banks * uram_blocks(depth, width), "lut": 0}
        return {"bram18": banks * bram18_blocks(depth, width, self.storage == "ram"), "uram": 0, "lut": 0}

    def pragmas(self) -> list[str]:
        if self.declared == "engine":
            return []
        out = []
        if self.layout in ("partition", "reshape") and self.lanes > 1:
            kind = "ARRAY_PARTITION" if self.layout == "partition" else "ARRAY_RESHAPE"
            out.append(f"#pragma HLS {kind} variable={self.name} type=cyclic factor={self.lanes} dim={self.dim}")
        kind = STORAGE_TYPE_2P[self.storage] if self.read_ports == 2 else STORAGE_TYPE[self.storage]
        out.append(f"#pragma HLS BIND_STORAGE variable={self.name} type={kind} impl={self.impl}")
        return out

    def declaration(self) -> str:
        return f"static {self.ctype} {self.name}{''.join(f'[{d}]' for d in self.dims)};"


def memories(hw: HwModel, board: dict, reconstruction: bool) -> list[Memory]:
    """Every array of the design (the core's state and event lists, the engines' local
    accumulators, the weight and bias ROMs, the run-time loaded weight RAMs), with its layout
    and binding chosen except for the loaded weights (``allocate`` places those)."""
    design = describe(hw, board, reconstruction)
    wm = board.get("weight_memory") or {}
    mems: list[Memory] = []
    L = hw.layer
    idx = "index_t"

    def add(*args, **kw):
        mems.append(Memory(*args, **kw))

    for name, lp in design.layers.items():
        n, t, p, cout = cname(name), lp.widths, lp.lanes, lp.cout
        rows = hw.weights[name].size // cout
        if lp.streamed:
            # weight rows in DDR (weight_stream): no weight array on chip, only the engine's
            # buffer of the current event's row (lif_linear_step_ddr: G words of P lanes)
            wb = p * t["w"]
            per_beat = max(1, stream_settings(board)["port_bits"] // wb)       # words written a cycle
            add(f"{n}_row", f"ap_uint<{wb}>", (cout // p,), wb, "state", "ram", math.gcd(per_beat, cout // p), 1,
                "engine", name)
        else:
            add(f"{n}_weight", f"{n}_w_t", (rows, cout), t["w"], "weight", "load" if lp.loaded else "rom",
                p, 2, "core" if lp.loaded else "weights.h", name, read_ports=2 if lp.event_pairs else 1)
        add(f"{n}_bias", f"{n}_b_t", (cout,), t["b"], "bias", "rom", p, 1, "weights.h", name)
        if lp.kind == "linear":
            add(f"{n}_mem", f"{n}_mem_t", (cout,), t["mem"], "state", "ram", p, 1, "core", name)
            add(f"{n}_spk", "spike_t", (cout,), 1, "state", "ram", p, 1, "core", name)
            add(f"{n}_acc", f"{n}_acc_t", (cout,), t["acc"], "state", "ram", p, 1, "engine", name)
            continue
        npos = lp.outputs // cout
        acc = "cur" if name == "encoder.0" else "acc"
        add(f"{n}_{acc}", f"{n}_acc_t", (npos, cout), t["acc"], "state", "ram", p, 2, "core", name)
        if name != "output":
            add(f"{n}_mem", f"{n}_mem_t", (npos, cout), t["mem"], "state", "ram", p, 2, "core", name)
            add(f"{n}_spk", "spike_t", (npos, cout), 1, "state", "ram", p, 2, "core", name)
            add(f"{n}_ev", idx, (npos * cout,), 16, "events", "ram", p, 1, "core", name)
    # event lists and latent state between the engines
    C, F = hw.C, L("decoder_fc")["out_shape"][0]
    o = L("output")
    add("out_sum", "out_sum_t", (o["out_shape"][1] * o["out_shape"][2], o["out_shape"][0]), threshold_sum_bits(hw),
        "state", "ram", 4, 1, "core", "output")
    add("z_ev", idx, (C,), 16, "events", "ram")
    add("fc_ev", idx, (F,), 16, "events", "ram")
    add("rng", "ap_uint<32>", (C,), 32, "state", "ram")
    add("z", "spike_t", (C,), 1, "state", "ram")
    nets = ["prior"] + (["posterior"] if reconstruction else [])
    for net in nets:
        add(f"{net}_in_ev", idx, (C if net == "prior" else 2 * C,), 16, "events", "ram")
        for name in hw.names(net)[:-1]:
            add(f"{cname(name)}_ev", idx, (L(name)["out_shape"][0],), 16, "events", "ram", layer=name)
    if reconstruction:
        cin, ih, iw = L("encoder.0")["in_shape"]
        # 4 banks: read_image writes a word's 4 pixels (4 positions of one channel) a cycle
        add("image", "ap_int<8>", (ih * iw, cin), 8, "state", "ram", 4, 1)
        add("posterior_in", "spike_t", (2 * C,), 1, "state", "ram")
    # layouts and bindings (loaded weights: allocate)
    for m in mems:
        if m.storage == "load":
            m.layout = "reshape" if m.lanes > 1 else "none"
            continue
        if m.role == "weight":
            # one word of P lanes: the engines read a whole row slice, and a wide word fills
            # block RAM far better than P narrow banks
            m.layout = "reshape" if m.lanes > 1 else "none"
            small = m.elements * m.bits <= max(int(wm.get("lut_rom_max_bits", 0)), LUTRAM_MAX_BITS)
            m.impl = "lutram" if small else "bram"
            continue
        m.layout = "partition" if m.lanes > 1 else "none"
        banks, depth, width = m.geometry()
        if depth * width <= LUTRAM_MAX_BITS:
            m.impl = "lutram"
            continue
        m.impl = "bram"
        if m.role == "state" and m.lanes > 1 and m.name not in ("out_sum", "image") and m.declared == "core":
            # state: P banks, or one word of P lanes where that takes fewer block RAMs
            if m.blocks("bram", "reshape")["bram18"] < m.blocks("bram", "partition")["bram18"]:
                m.layout = "reshape"
    return mems


def _budget(board: dict) -> dict[str, int]:
    r = board["resources"]
    return {"bram18": int(2 * r["bram36"] * board["memory_budget"]),
            "uram": int(r["uram"] * board["memory_budget"])}


def _load_impls(board: dict) -> tuple[str, ...]:
    style = (board.get("weight_memory") or {}).get("style", "auto")
    impls = {"ultra": ("uram", "bram"), "block": ("bram",), "distributed": ("lutram",)}.get(style, ("uram", "bram"))
    return tuple(i for i in impls if i != "uram" or board["resources"]["uram"] > 0) or ("bram",)


def _total(mems: list[Memory]) -> dict[str, int]:
    tot = {"bram18": 0, "uram": 0, "lut": 0}
    for m in mems:
        for k, v in m.blocks().items():
            tot[k] += v
    return tot


def allocate(mems: list[Memory], board: dict) -> dict:
    """Place the run-time loaded weights in URAM or BRAM so that both fit the budget (every
    combination is tried; the one with the most headroom wins).  Returns the totals."""
    budget = _budget(board)
    loads = [m for m in mems if m.storage == "load"]
    best = None
    for combo in itertools.product(*[_load_impls(board) for _ in loads]):
        for m, impl in zip(loads, combo):
            m.impl = impl
        tot = _total(mems)
        over = {k: max(0, tot[k] - budget[k]) for k in budget}
        fill = max(tot[k] / budget[k] if budget[k] else (math.inf if tot[k] else 0) for k in budget)
        score = (sum(over.values()) > 0, sum(over[k] / max(budget[k], 1) for k in budget), fill)
        if best is None or score < best[0]:
            best = (score, combo)
    for m, impl in zip(loads, best[1]):
        m.impl = impl
    tot = _total(mems)
    return {"bram18": tot["bram18"], "uram": tot["uram"], "lutram_luts": tot["lut"],
            "bram18_budget": budget["bram18"], "uram_budget": budget["uram"],
            "bram18_device": 2 * board["resources"]["bram36"], "uram_device": board["resources"]["uram"],
            "fits": tot["bram18"] <= budget["bram18"] and tot["uram"] <= budget["uram"]}


def fit_blocks(hw: HwModel, board: dict, reconstruction: bool) -> tuple[list[Memory], dict]:
    """Memories of the design and their block totals; CodegenError (naming the shortfall in
    blocks) when they exceed the board's memory budget."""
    mems = memories(hw, board, reconstruction)
    usage = allocate(mems, board)
    loaded = [m.layer for m in mems if m.storage == "load"]
    usage["loaded_layers"] = loaded
    streamed = [n for n, lp in describe(hw, board, reconstruction).layers.items() if lp.streamed]
    usage["streamed_layers"] = streamed
    if usage["fits"]:
        return mems, usage
    short = [f"{usage[k] - usage[k + '_budget']} {label}" for k, label in (("bram18", "BRAM18"), ("uram", "URAM"))
             if usage[k] > usage[k + "_budget"]]
    largest = sorted(mems, key=lambda m: -(m.blocks()["bram18"] + 8 * m.blocks()["uram"]))[:4]
    big = ", ".join(f"{m.name} {m.blocks()['bram18']} BRAM18" if m.impl != "uram" else
                    f"{m.name} {m.blocks()['uram']} URAM" for m in largest)
    if loaded:
        loading = (f" even with run-time loading of {', '.join(loaded)} (mode load_weights, hw/boards.yaml "
                   f"weight_memory.loadable_min_bits), placed in {'/'.join(_load_impls(board)).upper()}")
    else:
        loading = ("; this board loads no weights at run time (hw/boards.yaml weight_memory.loadable_min_bits), "
                   "so every weight is a ROM in block RAM or LUTs (UltraRAM has no initial contents)")
    if streamed:
        loading += (f"; the weights of {', '.join(streamed)} are read from DDR (hw/boards.yaml weight_stream) and "
                    "count nothing here (only linear layers can stream)")
    design = "generation and reconstruction" if reconstruction else "generation"
    raise CodegenError(
        f"the {design} design does not fit {board['name']}: counted by bank geometry it needs "
        f"{usage['bram18']} BRAM18 and {usage['uram']} URAM, the budget is {usage['bram18_budget']} BRAM18 and "
        f"{usage['uram_budget']} URAM ({board['memory_budget']:.0%} of {usage['bram18_device']} BRAM18 and "
        f"{usage['uram_device']} URAM): short by {' and '.join(short)}{loading}.  Largest arrays: {big}.  Use a "
        f"smaller configuration (configs/small.yaml) or a larger board")
