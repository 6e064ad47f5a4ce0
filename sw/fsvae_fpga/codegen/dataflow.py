"""The generated accelerator as a graph: engines (nodes) and the AXI streams between them.

``lower(design)`` turns the design description (design.py) into the graph in three steps, as FINN's transformations
do on its dataflow graph:

1. ``build``: one node per unit in data-flow order: the latent pick and its two event lists,
   one ``lif_linear`` per linear layer, per spiking transposed-conv layer one ``convt_current``
   (the scatter) or, for a layer of the plan's ``dense_layers``, one ``convt_dense`` (the
   dense engine), followed by one ``lif_update`` (the neurons) with ``spike_streams`` outputs,
   except the last and those before a dense layer, whose ``lif_update`` hands its spike
   masks (one word of P neurons a cycle) to the ``output_sum`` (the output layer and the
   membrane output by exact algebra, pixels out on out_r) or to the dense engine.  Nodes are
   wired producer -> consumer directly.
2. ``insert_copies``: a transposed-conv layer with ``replicas`` R > 1 (hw/boards.yaml) becomes
   R ``convt_current`` copies, R / S per input spike stream, dealt round robin by an
   ``event_split`` and summed by a ``current_join`` (copy 0 adds the bias, the others a zero
   bias).
3. ``insert_fifos``: a FIFO on every stream from one layer to another, except where the
   producer's output is a FIFO already (the mask stream: the LIF update's mask FIFO): into a
   layer of the decoder, an ``event_fifo`` in block RAM that holds a step of the producer's
   events (its outputs, up to EVENT_FIFO_MAX), so that a layer runs a step ahead of the next
   instead of waiting, beat by beat, for it to start the step (measured on the paper model,
   KV260: 257 k -> 208 k cycles per image); elsewhere (the prior's loop, which runs its layers
   one after another anyway) a small ``stream_fifo``.

The RTL writer (rtl_top.py) renders every node as one module instance of hw/rtl/; the
manifest lists the engines from the same graph, and make sim's report reads the manifest.
Every stream is named by the signal prefix it has in the generated top, with
``<prefix>_tdata/_tvalid/_tready`` and, where the stream has them, ``_tlast`` and ``_tuser``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from fsvae_fpga.codegen.design import CodegenError, Design, cname

FIFO_DEPTH = 16
EVENT_FIFO_MAX = 2048        # event_fifo entries at most (2048 x 18 bits: one BRAM36)
MASK_DEPTH_MAX = 2048        # lif_update: masks of one step buffered per spike stream
# Bits per word of the latent bitmaps (latent_pick -> event_list).  16, not 32: the event
# list's scan clears the lowest set bit of a word (x & (x - 1)), which Yosys maps to a chain
# of LUTs as long as the word; at 32 bits it set the KV260 design's deepest path (10 LUT
# levels, 150 MHz), at 16 the design measures 8 (166.7 MHz).  Costs 4 words more a step.
LATENT_WORD_BITS = 16


def latent_word_bits(C: int) -> int:
    """The latent bitmap's word width for C latent channels."""
    return min(LATENT_WORD_BITS, C)


def masked_prior(lp, picks: int) -> bool:
    """Whether the prior's last layer sends the latent pick its spike masks (fsvae_lif_linear
    MASKS, fsvae_latent_pick MP = its lanes): lanes a power of two dividing C*K, not streamed
    (the streamed engine's emitter path is the one measured on PYNQ-Z2)."""
    p = lp.lanes
    return p & (p - 1) == 0 and picks % p == 0 and not lp.streamed


def index_bits(n: int) -> int:
    """Index width for a range of n values (as the engines compute it)."""
    return max(1, (n - 1).bit_length())


@dataclass
class Stream:
    name: str                  # signal prefix in the top
    width: int                 # tdata bits
    last: bool = True
    user: bool = True          # tuser: "empty step" marker of event streams
    buffered: bool = False     # the producer's output is a FIFO: insert_fifos adds none

    @property
    def signals(self) -> list[str]:
        return ["tdata", "tvalid", "tready"] + ["tlast"] * self.last + ["tuser"] * self.user


@dataclass
class Node:
    name: str                  # instance name without the u_ prefix
    op: str                    # event_list | latent_pick | lif_linear | convt_current | lif_update
    #                            | output_sum | event_split | current_join | stream_fifo
    layer: str                 # the layer it belongs to ("latent" for the pick and its lists)
    inputs: list[str] = field(default_factory=list)     # stream names, in port order
    outputs: list[str] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)


@dataclass
class Graph:
    design: Design
    nodes: list[Node] = field(default_factory=list)
    streams: dict[str, Stream] = field(default_factory=dict)

    @property
    def hw(self):
        return self.design.hw

    def add_stream(self, name: str, width: int, last: bool = True, user: bool = True, buffered: bool = False) -> str:
        if name in self.streams:
            raise CodegenError(f"internal: stream {name} defined twice")
        self.streams[name] = Stream(name, width, last, user, buffered)
        return name

    def producer(self, stream: str) -> Node | None:
        return next((n for n in self.nodes if stream in n.outputs), None)

    def consumers(self, stream: str) -> list[Node]:
        return [n for n in self.nodes if stream in n.inputs]

    def engines(self) -> list[Node]:
        """The layer engines, each with its own step sequencer and counters."""
        return [n for n in self.nodes if n.op in ("lif_linear", "convt_current", "convt_dense")]

    def check(self) -> None:
        """Every stream has one producer and one consumer (the pixels leave on the top's out_r,
        from the output_sum, not as a graph stream)."""
        for s in self.streams:
            prod, cons = [n.name for n in self.nodes if s in n.outputs], [n.name for n in self.consumers(s)]
            if len(prod) != 1 or len(cons) != 1:
                raise CodegenError(f"internal: stream {s} has producers {prod} and consumers {cons}")


# --- 1. the units, wired directly -------------------------------------------------------------
def build(design: Design) -> Graph:
    g, hw, plan = Graph(design), design.hw, design.plan
    prior = hw.names("prior")
    for side in ("zdec", "zfb"):
        g.add_stream(f"{side}_word", latent_word_bits(hw.C), last=False, user=False)
        g.add_stream(f"{side}_ev", index_bits(hw.C))
    pick = Node("pick", "latent_pick", "latent", [], ["zdec_word", "zfb_word"])     # input: the prior's output
    g.nodes.append(pick)
    for side in ("zdec", "zfb"):
        g.nodes.append(Node(f"list_{side}", "event_list", "latent", [f"{side}_word"], [f"{side}_ev"]))

    # the prior: z_{t-1} -> prior.0 -> ... -> the latent pick; the last prior layer hands the
    # pick its spike masks (P spikes a word, every word), not its spikes one a cycle: the
    # pick's merge then costs C*K/P words a step whatever the spike count, and the latent
    # loop (which runs the prior's layers one after another) is shorter by the spikes
    src = "zfb_ev"
    for name in prior:
        lp = plan(name)
        masks = name == prior[-1] and masked_prior(lp, hw.C * hw.k)
        if masks:                    # {w, mask}; stage C of the engine is the register: no FIFO
            dst = g.add_stream(f"{cname(name)}_mask", index_bits(lp.outputs // lp.lanes) + lp.lanes,
                               user=False, buffered=True)
        else:
            dst = g.add_stream(f"{cname(name)}_out", index_bits(lp.outputs))
        g.nodes.append(Node(cname(name), "lif_linear", name, [src], [dst], {"trace_out": name, "masks": masks}))
        src = dst
    pick.inputs = [src]

    # the decoder: z_t -> decoder_fc -> decoder.* -> spike masks -> output_sum (pixels)
    fc = g.add_stream("decoder_fc_out", index_bits(plan("decoder_fc").outputs))
    g.nodes.append(Node("decoder_fc", "lif_linear", "decoder_fc", ["zdec_ev"], [fc],
                        {"trace_in": "latent", "trace_out": "decoder_fc"}))
    srcs, prev = [fc], "decoder_fc"
    convs = hw.names("decoder")[1:]
    if plan("output").copies > 1:
        raise CodegenError(f"output: replicas ({plan('output').copies}): the RTL computes the output layer in one "
                           "fsvae_output_sum; remove it from the board's replicas")
    if plan(convs[-1]).spike_streams > 1:
        raise CodegenError(f"{convs[-1]}: spike_streams ({plan(convs[-1]).spike_streams}): the last spiking layer "
                           "hands the output stage its spike masks; remove it from the board's spike_streams")
    for i, name in enumerate(convs):
        n, lp = cname(name), plan(name)
        cur = g.add_stream(f"{n}_cur", lp.lanes * lp.cur_bits, user=False)
        if lp.dense:                 # the previous layer's spike masks in (below)
            if prev == "decoder_fc":
                raise CodegenError(f"{name}: the dense engine takes spike masks, which decoder_fc does not send; "
                                   "remove it from dense_layers")
            g.nodes.append(Node(f"{n}_dense", "convt_dense", name, list(srcs), [cur], {"trace_in": prev}))
        else:
            # decoder.1's input events are decoder_fc's spikes, already traced at decoder_fc's output
            g.nodes.append(Node(f"{n}_r0", "convt_current", name, list(srcs), [cur],
                                {"trace_in": None if prev == "decoder_fc" else prev}))
        if name != convs[-1] and plan(convs[i + 1]).dense:
            if lp.spike_streams > 1:
                raise CodegenError(f"{name}: spike_streams ({lp.spike_streams}): the next layer is dense and takes "
                                   "its spike masks; remove it from the board's spike_streams")
            mask = g.add_stream(f"{n}_mask", index_bits(lp.outputs // lp.lanes) + lp.lanes, user=False,
                                buffered=True)
            g.nodes.append(Node(f"{n}_update", "lif_update", name, [cur], [mask], {"masks": True}))
            srcs, prev = [mask], name
            continue
        if name == convs[-1]:
            # {w, mask}: the word index and P spikes; the update's mask FIFO is the buffer
            mask = g.add_stream(f"{n}_mask", index_bits(lp.outputs // lp.lanes) + lp.lanes, user=False,
                                buffered=True)
            g.nodes.append(Node(f"{n}_update", "lif_update", name, [cur], [mask], {"masks": True}))
            g.nodes.append(Node("output_sum", "output_sum", "output", [mask], [], {"trace_in": name}))
            break
        dsts = [g.add_stream(f"{n}_out{e}", index_bits(lp.outputs)) for e in range(lp.spike_streams)]
        g.nodes.append(Node(f"{n}_update", "lif_update", name, [cur], dsts))
        srcs, prev = dsts, name
    return g


# --- 2. engine copies -------------------------------------------------------------------------
def insert_copies(g: Graph) -> Graph:
    """Each convt_current with replicas R becomes R copies (+ event_split per input stream
    where a stream feeds more than one copy, + current_join)."""
    out: list[Node] = []
    for node in g.nodes:
        if node.op != "convt_current":
            out.append(node)
            continue
        name, n = node.layer, cname(node.layer)
        R, srcs, cur = g.design.plan(name).copies, node.inputs, node.outputs[0]
        if R % len(srcs):
            raise CodegenError(f"{name}: replicas ({R}) must be a multiple of the input spike streams ({len(srcs)})")
        if R == 1 and len(srcs) > 1:
            raise CodegenError(f"{name}: {len(srcs)} input spike streams need at least as many replicas")
        if R == 1:
            out.append(node)
            continue
        per, in_w = R // len(srcs), g.streams[srcs[0]].width
        copy_in: dict[int, str] = {}
        for i, src in enumerate(srcs):
            group = range(i * per, (i + 1) * per)
            if per == 1:
                copy_in[group[0]] = src
                continue
            outs = [g.add_stream(f"{n}_r{r}_in", in_w) for r in group]
            out.append(Node(f"{n}_s{i}_split", "event_split", name, [src], outs))
            copy_in.update(zip(group, outs))
        p_acc = g.streams[cur].width
        curs = [g.add_stream(f"{n}_r{r}_cur", p_acc, user=False) for r in range(R)]
        for r in range(R):
            out.append(Node(f"{n}_r{r}", "convt_current", name, [copy_in[r]], [curs[r]],
                            {**node.attrs, "zero_bias": r > 0, "copy": r}))
        out.append(Node(f"{n}_join", "current_join", name, curs, [cur]))
    g.nodes = out
    return g


# --- 3. FIFOs between layers ------------------------------------------------------------------
def event_fifo_depth(design: Design, producer: str, consumer: str) -> int | None:
    """Entries of the block-RAM FIFO into a decoder layer: a power of two that holds all of the
    producer's outputs (its most events in a step), at most the board's ``event_fifo_max``
    (default EVENT_FIFO_MAX: one BRAM36 of 18-bit entries; a smaller part may trade run-ahead for
    block RAM); None elsewhere."""
    if not (consumer == "decoder_fc" or consumer.startswith("decoder.")):
        return None
    outputs = design.plan(producer).outputs if producer in design.layers else design.hw.C
    cap = int(design.board.get("event_fifo_max", EVENT_FIFO_MAX))
    return min(cap, max(4, 1 << (outputs - 1).bit_length()))


def insert_fifos(g: Graph) -> Graph:
    """A FIFO_DEPTH stream_fifo on every stream whose producer and consumer belong to
    different layers; the consumer then reads the FIFO's output, ``<layer>_in`` (or
    ``<layer>_in<i>`` for the i-th of a layer's several input streams)."""
    producer = {s: g.producer(s) for s in g.streams}
    crossing = [(s, n) for n in g.nodes for s in n.inputs
                if producer[s].layer != n.layer and not g.streams[s].buffered]
    per_layer: dict[str, list[str]] = {}
    for s, n in crossing:
        per_layer.setdefault(n.layer, []).append(s)
    out: list[Node] = []
    for node in g.nodes:
        inputs = []
        for s in node.inputs:
            ins = per_layer.get(node.layer, [])
            if s not in ins or producer[s].layer == node.layer:
                inputs.append(s)
                continue
            dst = f"{cname(node.layer)}_in" + (str(ins.index(s)) if len(ins) > 1 else "")
            st = g.streams[s]
            g.add_stream(dst, st.width, st.last, st.user)
            depth = event_fifo_depth(g.design, producer[s].layer, node.layer)
            out.append(Node(f"fifo_{dst}", "event_fifo" if depth else "stream_fifo", node.layer, [s], [dst],
                            {"depth": depth or FIFO_DEPTH}))
            inputs.append(dst)
        out.append(dataclasses.replace(node, inputs=inputs))
    g.nodes = out
    return g


def lower(design: Design) -> Graph:
    g = insert_fifos(insert_copies(build(design)))
    g.check()
    return g
