"""The accelerator as data, shared by both back ends (hls.py and rtl.py render it).

``describe(hw, board)`` -> ``Design``: per layer of the design, in data-flow order, a
``LayerPlan`` with every fact about that layer on that board that a writer, the fit check or
a cycle model needs: lanes, datapath widths, engine copies and spike streams (hw/boards.yaml),
whether its weights are loaded at run time, whether they are a small LUT ROM.  The RTL
writer lowers it to a graph of engines and streams (dataflow.py); the HLS writer renders
its arrays (hls_memory.py); the cycle model (latency.py) reads the same plans.  The RTL's
output stage, which computes the output layer from the last spiking layer's spike masks by
exact algebra (the HLS core computes its currents), is ``Design.output_sum``
(``OutputSumPlan``: lanes, geometry, widths, the bias term).

Also here: the weight layouts the engines read (``engine_weight``, ``output_sum_weight``),
the load_weights blob's memories and order, the on-chip bit budget, and the output table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from fsvae_fpga.codegen import balance, boards
from fsvae_fpga.contract.hwmodel import HwModel, signed_bits


class CodegenError(ValueError):
    pass


def cname(layer_name: str) -> str:
    return layer_name.replace(".", "_")


def lanes(board: dict, name: str, cout: int) -> int:
    """P for a layer: hw/boards.yaml `layer_lanes` for that layer, else the board's `lanes`,
    reduced to divide the layer's output width."""
    return math.gcd(int((board.get("layer_lanes") or {}).get(name, board["lanes"])), cout)


# --- weight layouts --------------------------------------------------------------------------
def engine_weight(hw: HwModel, name: str) -> np.ndarray:
    """The layer's weights in the layout its engine reads (one event -> P consecutive outputs)."""
    layer, w = hw.layer(name), hw.weights[name].astype(np.int64)
    if layer["kind"] == "conv":                       # (O, C, K, K) -> [C*K*K][O]
        return w.transpose(1, 2, 3, 0).reshape(-1, w.shape[0])
    if layer["kind"] == "convT":                      # (C, O, K, K) -> [C*K*K][O]
        return w.transpose(0, 2, 3, 1).reshape(-1, w.shape[1])
    w = w.T                                           # linear (out, in) -> [in][out]
    if name == "encoder_fc":                          # inputs arrive channel-last from encoder.3
        c, h, x = hw.layer(hw.names("encoder")[-2])["out_shape"]
        w = w.reshape(c, h, x, -1).transpose(1, 2, 0, 3).reshape(c * h * x, -1)
    if name == "decoder_fc":                          # emit channel-last for decoder.0
        c, h, x = hw.layer("decoder.0")["in_shape"]
        w = w.reshape(-1, c, h, x).transpose(0, 2, 3, 1).reshape(-1, c * h * x)
    return w


def output_sum_weight(weight: np.ndarray, p: int) -> np.ndarray:
    """The output layer's weights (CIN, 1, K, K) as fsvae_output_sum reads them: word
    (ky*K + kx)*G + g holds W[g*P + p, 0, ky, kx] in lane p (G = CIN / P: the channel groups
    of the last spiking layer's mask words)."""
    w = np.asarray(weight, dtype=np.int64)
    cin, _, k, _ = w.shape
    return w[:, 0].transpose(1, 2, 0).reshape(k * k * (cin // p), p)


def dense_weight(hw: HwModel, name: str) -> np.ndarray:
    """A transposed conv's weights as the dense engine reads them (fsvae_convt_dense): one row
    per (input channel, kernel row), every (output channel, kernel column) in it:
    (C, O, K, K) -> [C*K][O*K]."""
    w = hw.weights[name].astype(np.int64)
    c, o, k, _ = w.shape
    return w.transpose(0, 2, 1, 3).reshape(c * k, o * k)


def engine_bias(hw: HwModel, name: str) -> np.ndarray:
    b = hw.biases[name].astype(np.int64)
    if name == "decoder_fc":
        c, h, x = hw.layer("decoder.0")["in_shape"]
        b = b.reshape(c, h, x).transpose(1, 2, 0).reshape(-1)
    return b


def design_names(hw: HwModel, reconstruction: bool) -> list[str]:
    """The layers a design holds, in data-flow order: generation (prior, decoder, output),
    plus encoder and posterior where it also reconstructs."""
    if reconstruction:
        return [layer["name"] for layer in hw.desc["layers"]]
    return hw.mode_layers("generate")


def layer_widths(layer: dict) -> dict[str, int]:
    """Datapath widths (weight, bias, accumulator, membrane): the bound analysis, widened so
    that the threshold is representable."""
    acc = layer["current_bits"]
    mem = layer.get("membrane_bits", acc)
    if layer.get("spiking"):
        t = signed_bits(layer["threshold"], layer["threshold"])
        acc, mem = max(acc, t), max(mem, t)
    return {"w": layer["weight"]["bits"], "b": layer["bias"]["bits"], "acc": acc, "mem": mem}


# --- run-time loaded weights: one rule, one order, the same blob for both back ends ---------
def loadable_layers(hw: HwModel, board: dict) -> list[str]:
    """Layers whose weights are loaded at run time (board key weight_memory.loadable_min_bits):
    the large ones, so that they can be UltraRAM, which has no initial contents."""
    wm = board.get("weight_memory") or {}
    if "loadable_min_bits" not in wm:
        return []
    names = hw.mode_layers("generate")
    return [n for n in names
            if hw.weights[n].size * hw.layer(n)["weight"]["bits"] >= int(wm["loadable_min_bits"])]


def rtl_lut_rom_max_bits(board: dict) -> int:
    """The largest weight ROM (bits) the RTL makes of LUTs; larger ones are block RAM
    (weight_memory.rtl_lut_rom_max_bits if set, else lut_rom_max_bits, which the HLS core uses)."""
    wm = board.get("weight_memory") or {}
    return int(wm.get("rtl_lut_rom_max_bits", wm.get("lut_rom_max_bits", 0)))


def weight_load_memories(hw: HwModel, board: dict, names: list[str]) -> list[dict]:
    """The load_weights blob's memories, as the RTL writer lists them (manifest weight_load)."""
    mems, offset = [], 0
    for n in names:
        layer = hw.layer(n)
        p, w = lanes(board, n, layer["out_shape"][0]), layer["weight"]["bits"]
        depth, width = hw.weights[n].size // p, p * w
        chunks = (width + 31) // 32
        mems.append({"layer": n, "depth": depth, "width": width, "words_per_entry": chunks,
                     "offset_words": offset, "words": depth * chunks})
        offset += depth * chunks
    return mems


# --- the output table -------------------------------------------------------------------------
def threshold_sum_bits(hw: HwModel) -> int:
    """Signed width of the membrane-output sum once the thresholds are clipped to its range."""
    lo, hi = hw.desc["output"]["sum_range"]
    return signed_bits(lo, hi + 1)


def clipped_pixel_thresholds(hw: HwModel) -> np.ndarray:
    """The pixel thresholds clamped to [min sum, max sum + 1]: the same pixels (outside that
    range a threshold always or never holds), and every value fits threshold_sum_bits."""
    out = hw.desc["output"]
    lo, hi = out["sum_range"]
    return np.clip(np.asarray(out["pixel_thresholds"], dtype=np.int64), lo, hi + 1)


# --- the design description --------------------------------------------------------------------
def replicas(board: dict, name: str) -> int:
    """Engine copies for a transposed-conv layer: hw/boards.yaml `replicas` (by layer name)."""
    return max(1, int((board.get("replicas") or {}).get(name, 1)))


def spike_streams(board: dict, name: str) -> int:
    """Spike streams out of a layer's LIF update (hw/boards.yaml `spike_streams`)."""
    return max(1, int((board.get("spike_streams") or {}).get(name, 1)))


@dataclass(frozen=True)
class LayerPlan:
    """One layer of the design on one board."""
    name: str
    kind: str                   # linear | conv | convT
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    lanes: int                  # P: outputs an engine updates per cycle
    widths: dict                # w, b, acc, mem (layer_widths)
    copies: int                 # engine copies (transposed convs: hw/boards.yaml replicas)
    spike_streams: int          # spike streams out of its LIF update
    loaded: bool                # weights written at run time by load_weights (not a ROM)
    lut_rom: bool               # RTL: weights small enough for a LUT ROM (weight_memory.rtl_lut_rom_max_bits, else lut_rom_max_bits)
    streamed: bool              # weight rows read from DDR per input event (weight_stream)
    threshold: int | None
    fused: bool = False         # RTL: membranes kept in the scatter engine's RAM (fused_membranes)
    lutram_copies: int = 0      # RTL: the last copies whose currents are in LUTs (the balance plan's)
    dense: bool = False         # RTL: computed by fsvae_convt_dense from its input's spike masks (balance.dense)
    dense_tiles: int = 1        # RTL, dense: column tiles a row (fsvae_convt_dense XT)
    event_pairs: bool = False   # linear: two events a scatter (fsvae_lif_linear PAIRS, lif_linear_step_pairs; the balance plan's)

    @property
    def shared_weights(self) -> bool:
        """RTL: the layer's engine copies read their weights in pairs, copies 2j and 2j + 1 from
        the two ports of one memory (fsvae_weight_mem_pair; an odd last copy keeps its own), so
        a pair costs one weight memory, not two.  Not for a LUT ROM (no ports to save) or a
        streamed layer (no weight memory)."""
        return self.copies > 1 and not self.lut_rom and not self.streamed

    @property
    def cur_bits(self) -> int:
        """Bits of a lane of what the RTL scatter engine hands the neurons: the current, or,
        fused, the membrane itself."""
        return self.widths["mem"] if self.fused else self.widths["acc"]

    @property
    def cout(self) -> int:
        return self.out_shape[0]

    @property
    def in_events(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def outputs(self) -> int:
        return int(np.prod(self.out_shape))


@dataclass(frozen=True)
class OutputSumPlan:
    """The RTL's output stage, fsvae_output_sum: the output layer (a stride-1 transposed conv to
    one channel) and the membrane output by exact algebra, m = b*sum(coef) + W * Sc with
    Sc = sum_t coef[t] * s_t over the spikes of ``source`` (the last spiking layer), whose
    spike masks it takes, ``lanes`` channels a word, and the same number of multiply-accumulates
    a cycle.  The HLS back end computes the output layer by its currents (LayerPlan "output")."""
    source: str                 # the last spiking layer
    lanes: int                  # P: that layer's lanes, channels per mask word
    in_shape: tuple[int, int, int]      # (CIN, IH, IW)
    out_shape: tuple[int, int, int]     # (1, OH, OW)
    kernel: int
    stride: int
    padding: int
    output_padding: int
    w_bits: int                 # signed weights
    coef_bits: int              # unsigned decay coefficients
    s_bits: int                 # unsigned Sc: holds sum(coef)
    sum_bits: int               # signed m: the output's sum_range with the clipped thresholds
    bias_sum: int               # b * sum(coef)

    @property
    def groups(self) -> int:
        return self.in_shape[0] // self.lanes

    @property
    def words(self) -> int:
        """Mask words per step (Sc RAM words)."""
        return self.in_shape[1] * self.in_shape[2] * self.groups

    @property
    def sc_bits(self) -> int:
        """The Sc RAM's bits."""
        return int(np.prod(self.in_shape)) * self.s_bits


def output_sum_plan(hw: HwModel, plans: dict[str, LayerPlan]) -> OutputSumPlan:
    layer, out = hw.layer("output"), hw.desc["output"]
    source = hw.names("decoder")[-1]
    if layer["stride"] != 1 or layer["out_shape"][0] != 1:
        raise CodegenError(f"output layer with stride {layer['stride']} and {layer['out_shape'][0]} channels: "
                           "the RTL output stage (fsvae_output_sum) implements stride 1 and one channel")
    coef = [int(c) for c in out["decay_coefficients"]]
    return OutputSumPlan(
        source=source, lanes=plans[source].lanes, in_shape=tuple(layer["in_shape"]),
        out_shape=tuple(layer["out_shape"]), kernel=layer["kernel_size"], stride=layer["stride"],
        padding=layer["padding"], output_padding=layer["output_padding"], w_bits=layer["weight"]["bits"],
        coef_bits=max(1, max(coef).bit_length()), s_bits=max(1, sum(coef).bit_length()),
        sum_bits=threshold_sum_bits(hw), bias_sum=int(hw.biases["output"][0]) * sum(coef))


@dataclass
class Design:
    hw: HwModel
    board: dict
    reconstruction: bool
    layers: dict[str, LayerPlan]        # in data-flow order

    def plan(self, name: str) -> LayerPlan:
        return self.layers[name]

    @cached_property
    def output_sum(self) -> OutputSumPlan:
        """The RTL's output stage (the RTL writer's; raises CodegenError for an output layer
        it does not implement)."""
        return output_sum_plan(self.hw, self.layers)

    @property
    def loadable(self) -> list[str]:
        """Layers whose weights load_weights writes, in blob order."""
        return [n for n, p in self.layers.items() if p.loaded]


def _plans(hw: HwModel, board: dict, reconstruction: bool, streamed: set[str]) -> dict[str, LayerPlan]:
    loaded = set(loadable_layers(hw, board)) - streamed
    lut_max = rtl_lut_rom_max_bits(board)
    plans = {}
    for name in design_names(hw, reconstruction):
        layer = hw.layer(name)
        on_chip = name not in streamed
        plans[name] = LayerPlan(
            name=name, kind=layer["kind"], in_shape=tuple(layer["in_shape"]), out_shape=tuple(layer["out_shape"]),
            lanes=lanes(board, name, layer["out_shape"][0]), widths=layer_widths(layer),
            copies=replicas(board, name) if layer["kind"] == "convT" else 1,
            spike_streams=spike_streams(board, name) if layer.get("spiking") else 1,
            loaded=name in loaded,
            lut_rom=on_chip and name not in loaded and hw.weights[name].size * layer["weight"]["bits"] <= lut_max,
            streamed=not on_chip, threshold=layer.get("threshold"),
            fused=fused_membranes(board, layer, replicas(board, name)),
            lutram_copies=min(replicas(board, name), int((board.get("lutram_copies") or {}).get(name, 0)))
            if layer["kind"] == "convT" else 0,
            dense=name in (board.get("dense_layers") or []),
            dense_tiles=int((board.get("dense_tiles") or {}).get(name, 1)),
            event_pairs=name in (board.get("event_pairs") or []))
        check_event_pairs(plans[name])
    return plans


def check_event_pairs(lp: LayerPlan) -> None:
    """fsvae_lif_linear PAIRS reads two rows of the layer's own weight memory, and a pair
    takes G = COUT / P >= 2 cycles (the events arrive one a cycle)."""
    if not lp.event_pairs:
        return
    why = ("it is not a linear layer" if lp.kind != "linear" else
           "its weight rows are streamed from DDR" if lp.streamed else
           "it has a LUT ROM (no second port)" if lp.lut_rom else
           f"its {lp.cout} outputs over {lp.lanes} lanes are one group a cycle (G = 1)"
           if lp.cout // lp.lanes < 2 else None)
    if why:
        raise CodegenError(f"{lp.name}: event_pairs (two events a scatter) is not possible: {why}; "
                           "leave it out of hw/boards.yaml event_pairs (or the balance plan)")


def fused_membranes(board: dict, layer: dict, copies: int) -> bool:
    """hw/boards.yaml fused_membranes: the spiking transposed-conv layers of one engine copy keep
    their membranes in the scatter engine's RAM (fsvae_convt_current FUSED, fsvae_lif_update
    STATELESS): one word per neuron instead of a current, a membrane and a spike bit.  Layers
    with several copies cannot (one membrane per neuron, in one engine)."""
    return bool(board.get("fused_membranes")) and layer["kind"] == "convT" and bool(layer.get("spiking")) \
        and copies == 1


def describe(hw: HwModel, board: dict, reconstruction: bool = False) -> Design:
    """The design of ``hw`` on ``board``; with the board's ``weight_stream`` the layers whose
    weights stay in DDR (``streamed_layers``); with its ``balance``, per-layer lanes and engine
    copies from the model's measured events (balance.resolve)."""
    board = balance.resolve(hw, board)
    design = Design(hw, board, reconstruction, _plans(hw, board, reconstruction, set()))
    streamed = streamed_layers(design)
    if streamed:
        design = Design(hw, board, reconstruction, _plans(hw, board, reconstruction, set(streamed)))
    return design


# --- weight streaming from DDR (hw/boards.yaml weight_stream) -----------------------------------
STREAMABLE_KINDS = ("linear",)      # the engines with a weight-stream mode (fsvae_lif_linear)


def stream_settings(board: dict) -> dict:
    """The board's weight_stream settings with their defaults (empty dict: no streaming)."""
    ws = board.get("weight_stream")
    if not ws:
        return {}
    out = {"layers": "auto", "port_bits": 64, "addr_bits": 32, "max_burst": 16, "fifo_beats": 256,
           "max_outstanding": 8, "latency_cycles": 60, "beats_per_cycle": 0.75, **ws}
    if out["port_bits"] not in (32, 64, 128):
        raise CodegenError(f"{board['name']}: weight_stream.port_bits {out['port_bits']}: use 32, 64 or 128")
    return out


def streamed_layers(design: Design) -> list[str]:
    """Layers whose weight rows stay in DDR: weight_stream.layers, or with ``auto`` the
    streamable layers (linear) with the most weight bits, one after another, until the
    rest fits the on-chip budget (none when everything fits)."""
    ws = stream_settings(design.board)
    if not ws:
        return []
    hw, names = design.hw, list(design.layers)
    candidates = [n for n in names if hw.layer(n)["kind"] in STREAMABLE_KINDS]
    if ws["layers"] != "auto":
        chosen = list(ws["layers"])
        bad = [n for n in chosen if n not in candidates]
        if bad:
            raise CodegenError(f"{design.board['name']}: weight_stream.layers {bad}: only the design's linear "
                               f"layers can stream ({candidates})")
        return [n for n in names if n in chosen]
    budget = int(boards.onchip_bits(design.board) * design.board["memory_budget"])
    by_size = sorted(candidates, key=lambda n: -hw.weights[n].size * hw.layer(n)["weight"]["bits"])
    chosen: list[str] = []
    for n in by_size:
        if sum(memory_bits(design, set(chosen)).values()) <= budget:
            break
        chosen.append(n)
    return [n for n in names if n in chosen]


def row_stride(useful: int, beat_bytes: int, burst_bytes: int) -> int:
    """Bytes from one row's start to the next: a multiple of the burst (rows of a burst or
    more), else a power of two of at least a beat, so that a burst never crosses a burst
    boundary (nor, with 4 KB-aligned layers, a 4 KB one)."""
    if useful >= burst_bytes:
        return -(-useful // burst_bytes) * burst_bytes
    return max(beat_bytes, 1 << (useful - 1).bit_length())


DDR_LAYER_ALIGN = 4096


def ddr_weight_layout(design: Design) -> list[dict]:
    """Where each streamed layer's rows lie in the DDR weight image: one row per input event
    (the engine's weight words of that input, word g = outputs g*P .. g*P+P-1, lane 0 in the
    low bits, little-endian), layers 4 KB-aligned in design order."""
    ws = stream_settings(design.board)
    beat = ws.get("port_bits", 64) // 8
    burst = beat * ws.get("max_burst", 16)
    out, offset = [], 0
    for name, lp in design.layers.items():
        if not lp.streamed:
            continue
        word_bits = lp.lanes * lp.widths["w"]
        if word_bits % 8 or not (ws["port_bits"] % word_bits == 0 or word_bits % ws["port_bits"] == 0):
            raise CodegenError(f"{name}: a weight word of {lp.lanes} lanes x {lp.widths['w']} bits does not divide "
                               f"or fill the {ws['port_bits']}-bit DDR port; choose lanes accordingly")
        words = lp.outputs // lp.lanes
        useful = words * word_bits // 8
        stride = row_stride(useful, beat, burst)
        out.append({"layer": name, "offset": offset, "rows": lp.in_events, "row_words": words,
                    "word_bits": word_bits, "row_bytes": useful, "row_stride": stride,
                    "beats_per_row": -(-useful // beat)})
        offset += -(-(stride * lp.in_events) // DDR_LAYER_ALIGN) * DDR_LAYER_ALIGN
    return out


def ddr_weight_image(design: Design) -> bytes:
    """The DDR weight image (ddr_weight_layout): what the driver copies to the buffer whose
    address it writes into weights_base; padding bytes are zero."""
    layout = ddr_weight_layout(design)
    if not layout:
        return b""
    last = layout[-1]
    image = bytearray(last["offset"] + last["rows"] * last["row_stride"])
    for m in layout:
        rows = engine_weight(design.hw, m["layer"])
        bits = design.hw.layer(m["layer"])["weight"]["bits"]
        for i, row in enumerate(rows):
            start = m["offset"] + i * m["row_stride"]
            image[start:start + m["row_bytes"]] = pack_lanes(row, bits).to_bytes(m["row_bytes"], "little")
    return bytes(image)


def pack_lanes(row, bits: int) -> int:
    """One memory word (or DDR row): signed values, `bits` each, lane 0 in the low bits."""
    mask, word = (1 << bits) - 1, 0
    for p, v in enumerate(row):
        word |= (int(v) & mask) << (p * bits)
    return word


# --- memory budget in bits (the RTL writer's check) ---------------------------------------------
def memory_bits(design: Design, streamed: set[str] | None = None) -> dict[str, int]:
    """On-chip bits of the RTL design: weights (but those of streamed layers) and biases, plus
    accumulator (one per engine copy), membrane and spike state (the bound analysis' widths); the output layer's
    state is the output stage's Sc RAM.  ``streamed``: count as if these layers streamed."""
    hw, used = design.hw, {"weights": 0, "state": 0}
    if streamed is None:
        streamed = {n for n, p in design.layers.items() if p.streamed}
    for name in design.layers:
        layer = hw.layer(name)
        if name not in streamed:
            used["weights"] += hw.weights[name].size * layer["weight"]["bits"]
        used["weights"] += hw.biases[name].size * layer["bias"]["bits"]
        if name == "output":
            used["state"] += design.output_sum.sc_bits
            continue
        n = int(np.prod(layer["out_shape"]))
        if design.layers[name].fused:           # the membrane alone (its leak and reset done in place)
            used["state"] += n * design.layers[name].widths["mem"]
            continue
        # every engine copy of a transposed conv holds a current for each neuron of the layer
        used["state"] += n * (design.layers[name].copies * layer["current_bits"] + layer.get("membrane_bits", 0) + 1)
    return used


def check_fits(design: Design, buffers: dict[str, int] | None = None) -> dict:
    """Bits against the board's BRAM + URAM bits (codegen rtl; ``buffers``: more on-chip bits by
    kind, the RTL's event FIFOs); the HLS writer counts blocks (hls_memory.fit_blocks)."""
    board = design.board
    used = {**memory_bits(design), **(buffers or {})}
    budget = int(boards.onchip_bits(board) * board["memory_budget"])
    total = sum(used.values())
    streamed = [n for n, p in design.layers.items() if p.streamed]
    streaming = (f", with the weights of {', '.join(streamed)} streamed from DDR (only linear layers can "
                 "stream)" if streamed else "")
    if total > budget:
        raise CodegenError(
            f"the model needs {total / 8 / 1024:.0f} KiB of on-chip memory on {board['name']} "
            f"(weights {used['weights'] / 8 / 1024:.0f} KiB, state {used['state'] / 8 / 1024:.0f} KiB"
            + "".join(f", {k.replace('_', ' ')} {v / 8 / 1024:.0f} KiB" for k, v in (buffers or {}).items())
            + ") but the "
            f"budget is {budget / 8 / 1024:.0f} KiB ({board['memory_budget']:.0%} of BRAM/URAM): over by "
            f"{(total - budget) / 8 / 1024:.0f} KiB{streaming}.  Use a smaller configuration (configs/small.yaml) or a "
            f"larger board")
    return {"used_bits": total, "budget_bits": budget, **used}
