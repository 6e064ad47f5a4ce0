"""Render the dataflow graph (dataflow.py) as the body of the generated top (hw/templates/
fsvae_top.sv.in, @BODY@): one module instance of hw/rtl/ per node, the stream signals
between them, and what only simulation reads (the event trace, queues_empty).

Every stream port of the library modules is named ``s_axis_<name>_t*`` / ``m_axis_<name>_t*``
(or ``s_axis_t*`` / ``m_axis_t*`` on a module with one of each), so a port is bound to a
stream by its prefix alone (``_bind``); a port of R streams is bound to their concatenation,
stream 0 in the low bits.
"""
from __future__ import annotations

import numpy as np

from fsvae_fpga.codegen.dataflow import FIFO_DEPTH, MASK_DEPTH_MAX, Graph, Node, Stream, index_bits
from fsvae_fpga.codegen.design import cname, ddr_weight_layout, stream_settings
from fsvae_fpga.codegen.latency import output_sum_cycles

MEMORY_STYLES = {"auto": 0, "ultra": 1, "block": 2, "distributed": 3}   # fsvae_weight_mem STYLE
MODULES = {"lif_linear": "fsvae_lif_linear", "convt_current": "fsvae_convt_current",
           "convt_dense": "fsvae_convt_dense", "lif_update": "fsvae_lif_update",
           "event_split": "fsvae_event_split", "current_join": "fsvae_current_join", "stream_fifo": "fsvae_stream_fifo",
           "event_fifo": "fsvae_event_fifo",
           "event_list": "fsvae_event_list", "latent_pick": "fsvae_latent_pick", "output_sum": "fsvae_output_sum"}
# modules the body instantiates besides MODULES (the template's own are listed in rtl.py)
HELPERS = ["fsvae_step_sequencer", "fsvae_run_counters", "fsvae_weight_stream", "fsvae_axi_read_arb",
           "fsvae_weight_mem_pair"]


def _bind(port: str, streams: list[Stream], signals: list[str] | None = None) -> str:
    """`.port_tdata(s_tdata), ...`: one stream, or R streams concatenated (stream 0 low)."""
    signals = signals or streams[0].signals
    out = []
    for sig in signals:
        names = [f"{s.name}_{sig}" for s in streams]
        out.append(f".{port}_{sig}({names[0] if len(names) == 1 else '{' + ', '.join(reversed(names)) + '}'})")
    return ", ".join(out)


def _instance(module: str, params: list[str], inst: str, ports: list[str]) -> list[str]:
    head = [f"    {module} #(", ",\n".join("        " + p for p in params), f"    ) u_{inst} ("] if params else \
        [f"    {module} u_{inst} ("]
    return head + [",\n".join("        " + p for p in ports), "    );"]


class TopBody:
    def __init__(self, g: Graph, mem: str):
        self.g, self.hw, self.mem, self.loadable = g, g.hw, mem, g.design.loadable
        self.plan = g.design.plan
        self.ddr_layout = ddr_weight_layout(g.design)
        self.stream_cfg = stream_settings(g.design.board)
        self.streamers: list[dict] = []    # manifest weight_stream.layers: one read port each
        self.lines: list[str] = []
        self.engines: list[dict] = []      # manifest "engines": what the perf report reads
        self.updates: list[str] = []       # manifest "lif_updates"
        self.weight_pairs: list[dict] = [] # manifest "weight_pairs": memories two copies share

    def emit(self, *lines: str) -> None:
        self.lines.extend(lines)

    def s(self, name: str) -> Stream:
        return self.g.streams[name]

    # --- what every layer engine has ------------------------------------------------------------
    def sequencer(self, n: str) -> None:
        self.emit(f"    logic {n}_start, {n}_busy, {n}_done, {n}_finished;",
                  "    /* verilator lint_off UNUSEDSIGNAL */   // step, image: read by the simulation trace only",
                  f"    logic {n}_first;                        // not read by current engines",
                  f"    logic [{index_bits(self.hw.T + 1) - 1}:0] {n}_step;",
                  f"    logic [31:0] {n}_image;",
                  "    /* verilator lint_on UNUSEDSIGNAL */",
                  f"    fsvae_step_sequencer #(.T(T)) u_seq_{n} (",
                  "        .clk, .rst, .go, .n_images(n_img),",
                  f"        .finished({n}_finished), .start({n}_start), .first_step({n}_first),",
                  f"        .busy({n}_busy), .done({n}_done), .step({n}_step), .image({n}_image)",
                  "    );")

    def counters(self, prefix: str, busy: str, stream: str | None, lanes: int = 0) -> None:
        """perf_<prefix>_busy / _events (the testbench reads every perf_* signal): the events
        of an event stream, or with ``lanes`` the set bits of a mask stream's low bits."""
        ev, e = "1'b0", 1
        if stream and lanes:
            ev, e = f"{stream}_tvalid && {stream}_tready ? {stream}_tdata[{lanes - 1}:0] : '0", lanes
        elif stream:
            ev = f"{stream}_tvalid && {stream}_tready && !{stream}_tuser"
        self.emit("    /* verilator lint_off UNUSEDSIGNAL */   // read by the testbench through the hierarchy",
                  f"    logic [31:0] perf_{prefix}_busy, perf_{prefix}_events;",
                  "    /* verilator lint_on UNUSEDSIGNAL */",
                  f"    fsvae_run_counters #(.W(32), .E({e})) u_perf_{prefix} (.clk, .rst, .busy({busy}), "
                  f".event_in({ev}), .busy_cycles(perf_{prefix}_busy), .events(perf_{prefix}_events));")

    def trace(self, label: str | None, n: str, stream: str) -> None:
        """Simulation-only record of the events on `stream`, during engine n's current step."""
        if not label:
            return
        self.emit("`ifndef SYNTHESIS",
                  "    always_ff @(posedge clk) begin",
                  f"        if (trace_on && !rst && {stream}_tvalid && {stream}_tready && !{stream}_tuser)",
                  f'            $fwrite(trace_fd, "%0d {label} %0d %0d\\n", base_q + {n}_image, {n}_step, {stream}_tdata);',
                  "    end",
                  "`endif")

    def shared_memory(self, node: Node) -> str | None:
        """The weight port binding of a copy that reads a memory shared with its pair (None:
        the engine has its own).  Copy 2j emits the pair's fsvae_weight_mem_pair, bound to
        its own read wires (port A) and to those of copy 2j + 1 (port B)."""
        lp, r = self.plan(node.layer), node.attrs.get("copy")
        if r is None or not lp.shared_weights or (r % 2 == 0 and r + 1 >= lp.copies):
            return None
        n, name = node.name, node.layer
        pw = lp.lanes * lp.widths["w"]
        words = self.hw.weights[name].size // lp.lanes
        if r % 2 == 0:
            mate = f"{cname(name)}_r{r + 1}"               # the copy's name (dataflow.insert_copies)
            wm = self.g.design.board.get("weight_memory") or {}
            params = [f".DEPTH({words})", f".WIDTH({pw})"]
            if lp.loaded:
                params += [".LOADABLE(1)", f'.STYLE({MEMORY_STYLES[wm.get("style", "auto")]})']
            else:
                params += [f'.INIT_FILE("{self.mem}/{name}.weight.hex")']
            wl = self.wl_ports(name, lp.lanes, lp.widths["w"], port="wr")
            self.emit(f"    // {name}: copies {r} and {r + 1} read one weight memory through its two ports")
            for c in (n, mate):
                self.emit(f"    logic {c}_w_rd_en;", f"    logic [{index_bits(words) - 1}:0] {c}_w_rd_addr;",
                          f"    logic [{pw - 1}:0] {c}_w_rd_data;")
            self.emit(*_instance("fsvae_weight_mem_pair", params, f"{cname(name)}_wm{r // 2}",
                                 [".clk", f".a_en({n}_w_rd_en), .a_addr({n}_w_rd_addr), .a_data({n}_w_rd_data)",
                                  f".b_en({mate}_w_rd_en), .b_addr({mate}_w_rd_addr), .b_data({mate}_w_rd_data)",
                                  wl]))
            self.weight_pairs.append({"layer": name, "instance": f"{cname(name)}_wm{r // 2}",
                                      "copies": [n, mate], "words": words, "width": pw})
        return f".w_rd_en({n}_w_rd_en), .w_rd_addr({n}_w_rd_addr), .w_rd_data({n}_w_rd_data)"

    def weight_params(self, node: Node, lif: bool, shared: bool = False) -> list[str]:
        name, lp = node.layer, self.plan(node.layer)
        wm = self.g.design.board.get("weight_memory") or {}
        load = []
        if shared:
            load = [".WEIGHT_EXT(1)"]
        elif lp.streamed:
            load = [".WEIGHT_STREAM(1)"]
        elif lp.loaded:
            load = [".WEIGHT_LOAD(1)", f'.WEIGHT_STYLE({MEMORY_STYLES[wm.get("style", "auto")]})']
        elif lp.lut_rom:
            load = [f'.WEIGHT_STYLE({MEMORY_STYLES["distributed"]})']   # small ROM: LUTs, not block RAM
        t = lp.widths
        bias = f"{self.mem}/{name}.bias_zero.hex" if node.attrs.get("zero_bias") else f"{self.mem}/{name}.bias.hex"
        weights = [] if lp.streamed or shared else [f'.WEIGHT_FILE("{self.mem}/{name}.weight.hex")']
        fused = [".FUSED(1)", ".T(T)", f".THRESHOLD({lp.threshold})"] if lp.fused and not lif else []
        return load + fused + [f".P({lp.lanes})", f".W_BITS({t['w']})", f".B_BITS({t['b']})", f".ACC_BITS({lp.cur_bits})",
                       *([f".MEM_BITS({t['mem']})", f".THRESHOLD({lp.threshold})"] if lif else []),
                       *weights, f'.BIAS_FILE("{bias}")']

    def wl_ports(self, name: str, p: int, w: int, port: str = "wl") -> str:
        """The weight loader's bus on a memory's write port (``port``_en/_addr/_data)."""
        if name not in self.loadable:
            return f".{port}_en(1'b0), .{port}_addr('0), .{port}_data('0)"
        words = self.hw.weights[name].size // p
        return (f".{port}_en(wl_en[{self.loadable.index(name)}]), .{port}_addr(wl_addr[{index_bits(words) - 1}:0]), "
                f".{port}_data(wl_data[{p * w - 1}:0])")

    def weight_stream(self, node: Node, src: Stream) -> tuple[Stream, str]:
        """A streamed layer's fsvae_weight_stream: the engine's events pass through it, and it
        reads the events' weight rows from DDR (one read port of the arbiter, streamers[i]).
        Returns the event stream the engine takes and its weight-word port binding."""
        n, lp = node.name, self.plan(node.layer)
        m = next(x for x in self.ddr_layout if x["layer"] == node.layer)
        ws, i = self.stream_cfg, len(self.streamers)
        ev = Stream(f"{n}_sev", src.width)
        wbits = m["word_bits"]
        self.emit(f"    // {node.layer}: weight rows from DDR at weights_base + {m['offset']:#x}, "
                  f"{m['row_stride']} bytes apart",
                  f"    logic [{ev.width - 1}:0] {ev.name}_tdata;",
                  f"    logic {', '.join(f'{ev.name}_{x}' for x in ev.signals[1:])};",
                  f"    logic [{wbits - 1}:0] {n}_w_tdata;", f"    logic {n}_w_tvalid, {n}_w_tready;",
                  f"    logic [{ws['addr_bits'] - 1}:0] {n}_base;",
                  "    /* verilator lint_off UNUSEDSIGNAL */   // read by the testbench through the hierarchy",
                  f"    logic [31:0] perf_{n}_ddr_beats, perf_{n}_starve;",
                  "    /* verilator lint_on UNUSEDSIGNAL */", f"    logic {n}_ws_error;             // -> status.error_ddr",
                  "    always_ff @(posedge clk) begin            // the base is static during a run: registered",
                  f"        {n}_base <= weights_base[{ws['addr_bits'] - 1}:0] + {ws['addr_bits']}'h{m['offset']:x};",
                  "    end")
        params = [f".IN({lp.in_events})", f".ROW_WORDS({m['row_words']})", f".WORD_BITS({wbits})",
                  f".DATA_BITS({ws['port_bits']})", f".ADDR_BITS({ws['addr_bits']})",
                  f".ROW_BYTES({m['row_stride']})", f".MAX_BURST({ws['max_burst']})",
                  f".FIFO_BEATS({ws['fifo_beats']})", f".MAX_OUTSTANDING({ws['max_outstanding']})"]
        a = ws["addr_bits"]
        ports = [".clk, .rst", f".base_addr({n}_base), .clear(go)", _bind("s_axis_event", [src]),
                 _bind("m_axis_event", [ev]),
                 f".m_axis_weight_tdata({n}_w_tdata), .m_axis_weight_tvalid({n}_w_tvalid), "
                 f".m_axis_weight_tready({n}_w_tready)",
                 f".m_axi_araddr(ws_araddr[{i * a} +: {a}]), .m_axi_arlen(ws_arlen[{i * 8} +: 8]), "
                 f".m_axi_arsize(), .m_axi_arburst(), .m_axi_arvalid(ws_arvalid[{i}]), .m_axi_arready(ws_arready[{i}])",
                 f".m_axi_rdata(ws_rdata), .m_axi_rresp(ws_rresp), .m_axi_rlast(ws_rlast), "
                 f".m_axi_rvalid(ws_rvalid[{i}]), .m_axi_rready(ws_rready[{i}])",
                 f".error({n}_ws_error), .beats(perf_{n}_ddr_beats), .starve_cycles(perf_{n}_starve)"]
        self.emit("    /* verilator lint_off PINCONNECTEMPTY */   // arsize, arburst: constants, driven by the top")
        self.emit(*_instance("fsvae_weight_stream", params, f"{n}_ws", ports))
        self.emit("    /* verilator lint_on PINCONNECTEMPTY */")
        self.streamers.append({"layer": node.layer, "instance": n, **m})
        return ev, f".s_axis_weight_tdata({n}_w_tdata), .s_axis_weight_tvalid({n}_w_tvalid), " \
                   f".s_axis_weight_tready({n}_w_tready)"

    # --- one renderer per op ------------------------------------------------------------------
    def engine(self, node: Node) -> None:
        """lif_linear (events in, spikes out) or convt_current (events in, currents out); a
        streamed layer's events reach the engine through its weight streamer."""
        n, name, lp, layer = node.name, node.layer, self.plan(node.layer), self.hw.layer(node.layer)
        p, t = lp.lanes, lp.widths
        spiking = node.op == "lif_linear"
        shared = None                      # a copy's binding to a memory it shares with its pair
        lutram = False                     # a copy whose currents are in LUTs
        src, dst = self.s(node.inputs[0]), self.s(node.outputs[0])
        nin, nout = lp.in_events, lp.outputs
        self.sequencer(n)
        weight_port = []
        if lp.streamed:
            src, wport = self.weight_stream(node, src)
            weight_port = [wport]
        elif spiking:
            weight_port = [".s_axis_weight_tdata('0), .s_axis_weight_tvalid(1'b0), .s_axis_weight_tready()"]
        masks = bool(node.attrs.get("masks"))
        if spiking:
            params = [f".IN({nin})", f".OUT({nout})"] + self.weight_params(node, True) + [".MASKS(1)"] * masks \
                + [".PAIRS(1)"] * lp.event_pairs
            dbg_decl = [f"    logic [{p * t['mem'] - 1}:0] {n}_dbg_u;", f"    logic [{p - 1}:0] {n}_dbg_s;"]
            extra = [f".dbg_group('0), .dbg_membrane({n}_dbg_u), .dbg_spike({n}_dbg_s)"]
            # the mode not chosen: its outputs open, its tready tied
            out_port = (_bind("m_axis_mask", [dst]) + ", .m_axis_spike_tdata(), .m_axis_spike_tvalid(), "
                        ".m_axis_spike_tready(1'b0), .m_axis_spike_tlast(), .m_axis_spike_tuser()") if masks else \
                (_bind("m_axis_spike", [dst]) + ", .m_axis_mask_tdata(), .m_axis_mask_tvalid(), "
                 ".m_axis_mask_tready(1'b0), .m_axis_mask_tlast()")
        else:
            cin, ih, iw = lp.in_shape
            shared = self.shared_memory(node)
            params = [f".CIN({cin})", f".COUT({lp.cout})", f".IH({ih})", f".IW({iw})",
                      f".K({layer['kernel_size']})", f".S({layer['stride']})", f".PAD({layer['padding']})",
                      f".OUTPAD({layer['output_padding']})"] + self.weight_params(node, False, shared is not None)
            lutram = node.attrs.get("copy", 0) >= lp.copies - lp.lutram_copies
            if lutram:                             # the block RAM has no room for this copy's currents
                params.append(".STATE_LUTRAM(1)")
            dbg_decl, extra = [], []
            out_port = _bind("m_axis_cur", [dst])
            # a copy of a pair reads the shared memory (and is not loaded: the memory is)
            weight_port = [shared] if shared else [".w_rd_en(), .w_rd_addr(), .w_rd_data('0)"]
        self.emit("    /* verilator lint_off UNUSEDSIGNAL */", f"    logic [31:0] {n}_cycles;", *dbg_decl,
                  "    /* verilator lint_on UNUSEDSIGNAL */")
        ports = [".clk, .rst",
                 f".start({n}_start), " + (f".first_step({n}_first), " if spiking else "")
                 + f".busy({n}_busy), .done({n}_done), .cycles({n}_cycles)",
                 _bind("s_axis_event", [src]), out_port, *weight_port,
                 ".wl_en(1'b0), .wl_addr('0), .wl_data('0)" if not spiking and shared else self.wl_ports(name, p, t["w"]),
                 *extra]
        open_pins = spiking or not shared        # a lif_linear's other output mode is open
        if open_pins:
            self.emit("    /* verilator lint_off PINCONNECTEMPTY */   // "
                      + ("the output mode not chosen (and without a weight stream its tready)" if spiking
                         else "its own weight memory: w_rd_* unused"))
        self.emit(*_instance(MODULES[node.op], params, n, ports))
        if open_pins:
            self.emit("    /* verilator lint_on PINCONNECTEMPTY */")
        self.counters(n, f"{n}_busy", src.name)
        self.trace(node.attrs.get("trace_in"), n, src.name)
        if spiking and masks:
            self.trace_masks(node.attrs.get("trace_out"), dst.name, p)
        elif spiking:
            self.trace(node.attrs.get("trace_out"), n, dst.name)
        self.engines.append({"layer": name, "instance": n, "module": MODULES[node.op], "lanes": p,
                             "acc_bits": lp.cur_bits, "mem_bits": t["mem"] if spiking else None,
                             "in_events": nin, "outputs": nout, "sequenced": True, "streamed": lp.streamed,
                             "fused": lp.fused, "state_lutram": lutram, "event_pairs": lp.event_pairs})

    def lif_update(self, node: Node) -> None:
        """The LIF neurons of a transposed-conv layer, after its current engines: spike streams
        out, or (attrs masks) the spike masks for the output stage."""
        n, lp = node.name, self.plan(node.layer)
        t, p = lp.widths, lp.lanes
        nw = lp.outputs // p
        masks = bool(node.attrs.get("masks"))
        ne = 1 if masks else len(node.outputs)
        # room for a stream's share of a step's masks, so that the current engines can read
        # out a whole step while the emitter (or the output stage) is still busy with the last
        depth = 1 << max(2, (min(nw // ne + 2, MASK_DEPTH_MAX) - 1).bit_length())
        params = [".T(T)", f".NW({nw})", f".P({p})", f".ACC_BITS({lp.cur_bits})", f".MEM_BITS({t['mem']})",
                  *([".STATELESS(1)"] if lp.fused else []),
                  f".THRESHOLD({lp.threshold})", f".MASK_DEPTH({depth})", f".NE({ne})", f".MASKS({int(masks)})"]
        outs = [self.s(o) for o in node.outputs]
        if masks:       # the spike ports unused
            ports = [_bind("m_axis_mask", outs), ".m_axis_spike_tdata(), .m_axis_spike_tvalid(), "
                     ".m_axis_spike_tready(1'b0), .m_axis_spike_tlast(), .m_axis_spike_tuser()"]
        else:           # the mask port unused
            ports = [_bind("m_axis_spike", outs), ".m_axis_mask_tdata(), .m_axis_mask_tvalid(), "
                     ".m_axis_mask_tready(1'b0), .m_axis_mask_tlast()"]
        self.emit(f"    logic {n}_busy;", "    /* verilator lint_off PINCONNECTEMPTY */   // the other mode's outputs")
        self.emit(*_instance(MODULES["lif_update"], params, n,
                             [".clk, .rst", _bind("s_axis_cur", [self.s(node.inputs[0])]), *ports,
                              f".busy({n}_busy)"]))
        self.emit("    /* verilator lint_on PINCONNECTEMPTY */")
        self.counters(n, f"{n}_busy", None)
        self.updates.append(cname(node.layer))

    def output_sum(self, node: Node) -> None:
        """The output layer and the membrane output (design.OutputSumPlan): spike masks in,
        pixels out on out_r; busy and done to the run controller (out_busy, image_done)."""
        n, o = node.name, self.g.design.output_sum
        src = self.s(node.inputs[0])
        cin, ih, iw = o.in_shape
        mask = (1 << o.sum_bits) - 1
        params = [".T(T)", f".CIN({cin})", f".IH({ih})", f".IW({iw})", f".K({o.kernel})", f".S({o.stride})",
                  f".PAD({o.padding})", f".OUTPAD({o.output_padding})", f".P({o.lanes})", f".W_BITS({o.w_bits})",
                  f".COEF_BITS({o.coef_bits})", f".SB({o.s_bits})", f".SUM_BITS({o.sum_bits})",
                  f".BIAS_SUM({o.sum_bits}'h{o.bias_sum & mask:x})", f".WEIGHT_STYLE({MEMORY_STYLES['distributed']})",
                  f'.COEF_FILE("{self.mem}/output.coef.hex")', f'.WEIGHT_FILE("{self.mem}/output.weight.hex")',
                  f'.THRESH_FILE("{self.mem}/output.thresh.hex")']
        self.emit("    logic out_busy;")
        self.emit(*_instance(MODULES["output_sum"], params, n, [
            ".clk, .rst", _bind("s_axis_mask", [src]),
            ".m_axis_pix_tdata(out_r_TDATA), .m_axis_pix_tvalid(out_r_TVALID), .m_axis_pix_tready(out_r_TREADY), "
            ".m_axis_pix_tlast(out_r_TLAST)", ".busy(out_busy), .done(image_done)"]))
        self.counters(n, "out_busy", src.name, lanes=o.lanes)
        self.trace_masks(node.attrs.get("trace_in"), src.name, o.lanes)
        pixels = o.out_shape[1] * o.out_shape[2]
        self.engines.append({"layer": node.layer, "instance": n, "module": MODULES["output_sum"], "lanes": o.lanes,
                             "acc_bits": o.sum_bits, "mem_bits": None, "in_events": int(np.prod(o.in_shape)),
                             "outputs": pixels, "sequenced": False,
                             "cycles_per_image": output_sum_cycles(self.hw.T, o.words, pixels, o.kernel, o.groups)})

    def convt_dense(self, node: Node) -> None:
        """The dense engine of a transposed conv (fsvae_convt_dense): the previous layer's spike
        masks in, the layer's currents out to its LIF update."""
        from fsvae_fpga.codegen.balance import dense_cycles
        n, name, lp, layer = node.name, node.layer, self.plan(node.layer), self.hw.layer(node.layer)
        src, dst = self.s(node.inputs[0]), self.s(node.outputs[0])
        cin, ih, iw = lp.in_shape
        pin = self.plan(node.attrs["trace_in"]).lanes            # the producer's lanes: channels per mask word
        t = lp.widths
        self.sequencer(n)
        params = [f".CIN({cin})", f".COUT({lp.cout})", f".IH({ih})", f".IW({iw})", f".K({layer['kernel_size']})",
                  f".S({layer['stride']})", f".PAD({layer['padding']})", f".OUTPAD({layer['output_padding']})",
                  f".P({lp.lanes})", f".PIN({pin})", f".XT({lp.dense_tiles})", f".W_BITS({t['w']})",
                  f".B_BITS({t['b']})",
                  f".ACC_BITS({lp.cur_bits})", f'.WEIGHT_FILE("{self.mem}/{name}.dense_weight.hex")',
                  f'.BIAS_FILE("{self.mem}/{name}.bias.hex")']
        self.emit("    /* verilator lint_off UNUSEDSIGNAL */", f"    logic [31:0] {n}_cycles;",
                  "    /* verilator lint_on UNUSEDSIGNAL */")
        self.emit(*_instance(MODULES["convt_dense"], params, n, [
            ".clk, .rst", f".start({n}_start), .busy({n}_busy), .done({n}_done), .cycles({n}_cycles)",
            _bind("s_axis_mask", [src]), _bind("m_axis_cur", [dst])]))
        self.counters(n, f"{n}_busy", src.name, lanes=pin)
        self.trace_masks(node.attrs.get("trace_in"), src.name, pin)
        self.engines.append({"layer": name, "instance": n, "module": MODULES["convt_dense"], "lanes": lp.lanes,
                             "acc_bits": lp.cur_bits, "mem_bits": None, "in_events": lp.in_events,
                             "outputs": lp.outputs, "sequenced": True, "streamed": False, "fused": False,
                             "in_lanes": pin, "tiles": lp.dense_tiles,
                             "cycles_per_image": dense_cycles(self.hw, name, lp.lanes, pin, lp.dense_tiles)})

    def trace_masks(self, label: str | None, stream: str, lanes: int) -> None:
        """Simulation-only record of the spikes in the mask words {w, mask} on `stream` (index
        w*P + p), numbered by the steps seen since the run started."""
        if not label:
            return
        self.emit("`ifndef SYNTHESIS",
                  f"    int {stream}_steps;                     // mask steps since go: image, step",
                  "    always_ff @(posedge clk) begin",
                  f"        if (rst || go) {stream}_steps <= 0;",
                  f"        else if ({stream}_tvalid && {stream}_tready) begin",
                  f"            for (int p = 0; p < {lanes}; p++)",
                  f"                if (trace_on && {stream}_tdata[p])",
                  f'                    $fwrite(trace_fd, "%0d {label} %0d %0d\\n", base_q + {stream}_steps / T, '
                  f"{stream}_steps % T, 32'({stream}_tdata[{self.s(stream).width - 1}:{lanes}]) * {lanes} + p);",
                  f"            if ({stream}_tlast) {stream}_steps <= {stream}_steps + 1;",
                  "        end",
                  "    end",
                  "`endif")

    def event_split(self, node: Node) -> None:
        outs = [self.s(o) for o in node.outputs]
        self.emit(*_instance(MODULES["event_split"], [f".R({len(outs)})", f".W({outs[0].width})"], node.name,
                             [".clk, .rst", _bind("s_axis", [self.s(node.inputs[0])]), _bind("m_axis", outs)]))

    def current_join(self, node: Node) -> None:
        ins, lp = [self.s(i) for i in node.inputs], self.plan(node.layer)
        params = [f".R({len(ins)})", f".LANES({lp.lanes})", f".BITS({lp.cur_bits})"]
        self.emit(*_instance(MODULES["current_join"], params, node.name,
                             [".clk, .rst", _bind("s_axis", ins), _bind("m_axis", [self.s(node.outputs[0])])]))

    def stream_fifo(self, node: Node) -> None:
        src, dst = self.s(node.inputs[0]), self.s(node.outputs[0])
        assert src.signals == dst.signals == Stream("", 1).signals, node.name   # events: tlast and tuser
        depth = node.attrs.get("depth", FIFO_DEPTH)
        self.emit(*_instance(MODULES[node.op], [f".DATA_W({src.width})", f".DEPTH({depth})"], node.name,
                             [".clk, .rst", _bind("s_axis", [src]), _bind("m_axis", [dst])]))

    event_fifo = stream_fifo          # the same ports; the block-RAM module

    def event_list(self, node: Node) -> None:
        n = node.name
        self.emit("    /* verilator lint_off UNUSEDSIGNAL */", f"    logic {n}_done;",
                  f"    logic [{index_bits(self.hw.C + 2) - 1}:0] {n}_count;", "    /* verilator lint_on UNUSEDSIGNAL */")
        self.emit(*_instance(MODULES["event_list"], [f".N({self.hw.C})", ".W(ZW)"], n,
                             [".clk, .rst", _bind("s_axis", [self.s(node.inputs[0])]),
                              _bind("m_axis", [self.s(node.outputs[0])]), f".done({n}_done), .done_count({n}_count)"]))

    def latent_pick(self, node: Node) -> None:
        dec, fb = (self.s(o) for o in node.outputs)
        self.emit("    logic pick_busy;")
        src = self.s(node.inputs[0])
        mp = self.plan(self.g.producer(src.name).layer).lanes if not src.user else 0   # mask words of MP spikes
        self.emit(*_instance(MODULES["latent_pick"], [".T(T)", ".C(C)", ".K(K)", ".W(ZW)", f".MP({mp})"], node.name, [
            ".clk, .rst, .go, .n_images(n_img), .image_base(base_q), .busy(pick_busy)",
            ".sampler_start, .sampler_image, .sampler_step(smp_step), .sampler_ready(sampler_ready)",
            _bind("s_axis_spike", [src]) + (", .s_axis_spike_tuser(1'b0)" if mp else ""),
            ".s_axis_idx_tdata(idx_tdata), .s_axis_idx_tvalid(idx_tvalid), .s_axis_idx_tready(idx_tready), "
            ".s_axis_idx_tlast(idx_tlast)",
            _bind("m_axis_dec", [dec]), _bind("m_axis_fb", [fb])]))

    def memory_port(self) -> None:
        """The weight streamers' reads on the top's AXI4 master (fsvae_axi_read_arb); without
        streamed layers, weights_base is unused."""
        if not self.streamers:
            self.emit("", "    /* verilator lint_off UNUSEDSIGNAL */   // no layer streams its weights",
                      "    logic unused_weights_base;", "    assign unused_weights_base = ^weights_base;",
                      "    /* verilator lint_on UNUSEDSIGNAL */", "    assign error_ddr = 1'b0;")
            return
        self.emit("    assign error_ddr = " + " || ".join(f"{x['instance']}_ws_error" for x in self.streamers) + ";")
        ws, n = self.stream_cfg, len(self.streamers)
        a, d, gm = ws["addr_bits"], ws["port_bits"], "m_axi_gmem"
        self.emit("", f"    // ------------------------------------------------------------------ DDR reads ({n} streamers)",
                  "    /* verilator lint_off UNUSEDSIGNAL */   // the high half of weights_base (32-bit port)",
                  "    logic unused_weights_hi;", f"    assign unused_weights_hi = ^weights_base[63:{a}];",
                  "    /* verilator lint_on UNUSEDSIGNAL */",
                  f"    assign {gm}_ARSIZE  = 3'd{(d // 8).bit_length() - 1};   // {d // 8} bytes a beat",
                  f"    assign {gm}_ARBURST = 2'b01;                           // INCR",
                  f"    assign {gm}_ARID    = 1'b0;",
                  f"    assign {gm}_ARCACHE = 4'b0011;                         // normal, bufferable",
                  f"    assign {gm}_ARPROT  = 3'b000;",
                  f"    assign {gm}_ARLOCK  = 1'b0;",
                  f"    assign {gm}_ARQOS   = 4'd0;")
        self.emit(*_instance("fsvae_axi_read_arb", [f".N({n})", f".ADDR_BITS({a})", f".DATA_BITS({d})",
                                                    f".OUTSTANDING({max(4, n * ws['max_outstanding'])})"], "ddr_arb", [
            ".clk, .rst",
            ".s_araddr(ws_araddr), .s_arlen(ws_arlen), .s_arvalid(ws_arvalid), .s_arready(ws_arready)",
            ".s_rdata(ws_rdata), .s_rresp(ws_rresp), .s_rlast(ws_rlast), .s_rvalid(ws_rvalid), .s_rready(ws_rready)",
            f".m_araddr({gm}_ARADDR), .m_arlen({gm}_ARLEN), .m_arvalid({gm}_ARVALID), .m_arready({gm}_ARREADY)",
            f".m_rdata({gm}_RDATA), .m_rresp({gm}_RRESP), .m_rlast({gm}_RLAST), .m_rvalid({gm}_RVALID), "
            f".m_rready({gm}_RREADY)"]))
        self.emit("    /* verilator lint_off UNUSEDSIGNAL */   // one ID: in-order responses",
                  f"    logic unused_rid;", f"    assign unused_rid = {gm}_RID;",
                  "    /* verilator lint_on UNUSEDSIGNAL */")

    def queued(self) -> list[str]:
        """Every stream that can hold data between images: the graph's, and the streamers'
        forwarded events and weight words."""
        return list(self.g.streams) + [f"{x['instance']}_{k}" for x in self.streamers for k in ("sev", "w")]

    def memory_declarations(self) -> list[str]:
        """The streamers' side of the arbiter (declared before the engines that drive it)."""
        if not self.ddr_layout:
            return []
        n, a, d = len(self.ddr_layout), self.stream_cfg["addr_bits"], self.stream_cfg["port_bits"]
        return [f"    logic [{n * a - 1}:0] ws_araddr;", f"    logic [{n * 8 - 1}:0] ws_arlen;",
                f"    logic [{n - 1}:0] ws_arvalid, ws_arready, ws_rvalid, ws_rready;",
                f"    logic [{d - 1}:0] ws_rdata;", "    logic [1:0] ws_rresp;", "    logic ws_rlast;"]

    # --- the whole body ---------------------------------------------------------------------------
    def render(self) -> str:
        self.emit("    // ------------------------------------------------------------------ trace (simulation)",
                  "`ifndef SYNTHESIS", "    int trace_fd;", "    logic trace_on;", "    initial begin",
                  '        trace_on = $test$plusargs("fsvae_trace") != 0;',
                  '        trace_fd = trace_on ? $fopen("fsvae_trace.txt", "w") : 0;', "    end", "`endif", "",
                  "    // ------------------------------------------------------------------ streams")
        for st in self.g.streams.values():
            rest = ", ".join(f"{st.name}_{sig}" for sig in st.signals[1:])
            self.emit(f"    logic [{st.width - 1}:0] {st.name}_tdata;", f"    logic {rest};")
        self.emit(*self.memory_declarations())
        layer = None
        for node in self.g.nodes:
            if node.layer != layer:
                layer = node.layer
                self.emit("", f"    // ------------------------------------------------------------------ {layer}")
            render = self.engine if node.op in ("lif_linear", "convt_current") else getattr(self, node.op)
            render(node)
        self.memory_port()
        self.emit("", "    // nothing queued anywhere (the testbench checks it after ap_done)",
                  "    /* verilator lint_off UNUSEDSIGNAL */", "    logic queues_empty;",
                  "    /* verilator lint_on UNUSEDSIGNAL */",
                  f"    assign queues_empty = !({' || '.join(f'{s}_tvalid' for s in self.queued())});")
        return "\n".join(self.lines)


def loader(names: list[str], mems: list[dict]) -> str:
    """The load_weights mode: in_r words -> the run-time weight memories, in `names` order."""
    if not names:
        return ("    // no run-time weight memories on this board: load_weights is done at once\n"
                "    assign in_r_TREADY = 1'b0;\n    assign load_done = 1'b0;\n    assign load_word = 1'b0;")
    n, amax = len(mems), max(index_bits(m["depth"]) for m in mems)
    wmax = max(m["width"] for m in mems)

    def table(key: str) -> str:          # memory 0 in the low bits: listed last
        return "{" + ", ".join(f"32'd{m[key]}" for m in reversed(mems)) + "}"
    return f"""    // ------------------------------------------------------------------ weight loader
    // mode load_weights: {sum(m['words'] for m in mems)} in_r words -> {n} memories ({', '.join(names)})
    logic [{n - 1}:0] wl_en;
    logic [{amax - 1}:0] wl_addr;
    logic [{wmax - 1}:0] wl_data;
    fsvae_weight_loader #(.N({n}), .ADDR_W({amax}), .DATA_W({wmax}),
        .DEPTHS({table('depth')}),
        .WIDTHS({table('width')})
    ) u_weight_loader (
        .clk, .rst, .active(cstate == C_LOAD),
        .s_axis_tdata(in_r_TDATA), .s_axis_tvalid(in_r_TVALID), .s_axis_tready(in_r_TREADY),
        .word_taken(load_word), .done(load_done),
        .wl_en, .wl_addr, .wl_data
    );"""
