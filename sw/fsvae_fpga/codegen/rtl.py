"""RTL writer: the SystemVerilog accelerator for one hardware model and one board.

``fsvae-fpga codegen rtl --hwmodel DIR --board B --out DIR`` fills hw/templates/fsvae_top.sv.in
with the engine instances of the model (hw/rtl/, one module per file) and writes::

    rtl/*.sv          the engine library (copied) and the generated top fsvae_top.sv
    rtl/fsvae_core.v  plain-Verilog wrapper of the top with Vivado interface attributes
                      (codegen/vivado.py), for a block-design module reference
    mem/*.hex         $readmemh images: weights and biases in the engines' layouts, the
                      output decay coefficients and pixel thresholds
    manifest.json     top name, source list in compile order, board, lanes and widths per
                      layer (read by the testbench, make sim and make estimate)

The design shares its microarchitecture with the HLS back end (codegen/hls.py): the same
engines, weight layouts (``design.engine_weight``), widths (``design.layer_widths``) and lanes
(``design.lanes`` from hw/boards.yaml); the register map and stream formats come from
hw/interface.yaml.  Memory files are named by absolute path (the output folder, resolved
at generation time), so simulators and Vivado find them from any working directory; a
missing file stops the simulation (fsvae_file_check) and, through the generated Tcl, the
synthesis.  Move the folder and you must regenerate it.

The read-only ``identity`` register (manifest ``identity``) is the hardware model's identity
(manifest ``hwmodel_identity``, hwmodel.py), its first 4 bytes little-endian: the one value the
golden vectors, the HLS core and the driver check too, so that a driver refuses a bitstream
built from another (or an edited) model.  The design's hash (manifest ``design_sha256``:
the model, the board settings and the generator's texts) tells build caches and the overlay
writer whether a folder was generated from exactly the current sources.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from fsvae_fpga.codegen import boards
from fsvae_fpga.contract.hwmodel import HwModel
from fsvae_fpga.codegen.design import (CodegenError, check_fits, clipped_pixel_thresholds, cname, design_names, engine_bias, engine_weight, lanes, layer_widths, loadable_layers, threshold_sum_bits, weight_load_memories)

ROOT = Path(__file__).resolve().parents[3]
RTL_LIB = ROOT / "hw" / "rtl"
TEMPLATE = ROOT / "hw" / "templates" / "fsvae_top.sv.in"
FIFO_DEPTH = 16
MEMORY_STYLES = {"auto": 0, "ultra": 1, "block": 2, "distributed": 3}   # fsvae_weight_mem STYLE

# compile order: leaves first, the generated top last
LIBRARY = ["fsvae_file_check.sv", "fsvae_stream_fifo.sv", "fsvae_step_sequencer.sv", "fsvae_event_list.sv", "fsvae_sampler.sv",
           "fsvae_latent_pick.sv", "fsvae_event_split.sv", "fsvae_current_join.sv", "fsvae_weight_mem.sv",
           "fsvae_engine_ctrl.sv", "fsvae_current_acc.sv", "fsvae_lif_datapath.sv", "fsvae_spike_emitter.sv",
           "fsvae_lif_update.sv", "fsvae_lif_linear.sv", "fsvae_lif_conv_transpose.sv",
           "fsvae_membrane_output.sv", "fsvae_axil_ctrl.sv", "fsvae_weight_loader.sv", "fsvae_run_counters.sv"]


def pack_lanes(row, bits: int) -> int:
    """One memory word: signed values, `bits` each, lane 0 in the low bits."""
    mask, word = (1 << bits) - 1, 0
    for p, v in enumerate(row):
        word |= (int(v) & mask) << (p * bits)
    return word


def pack_words(values: np.ndarray, lanes_per_word: int, bits: int) -> list[str]:
    """Rows of ``lanes_per_word`` signed values -> $readmemh hex words, lane 0 in the low bits."""
    digits = (lanes_per_word * bits + 3) // 4
    return [f"{pack_lanes(row, bits):0{digits}x}"
            for row in np.asarray(values, dtype=np.int64).reshape(-1, lanes_per_word)]


def _write_hex(path: Path, words: list[str]) -> None:
    path.write_text("\n".join(words) + "\n")


def _bits(n: int) -> int:
    """Index width for a range of n values (as the engines compute it)."""
    return max(1, (n - 1).bit_length())


class _Writer:
    def __init__(self, hw: HwModel, board: dict, mem: str):
        self.hw, self.board, self.mem = hw, board, mem      # mem: absolute path of mem/
        self.loadable = loadable_layers(hw, board)
        self.lines: list[str] = []
        self.engines: list[dict] = []           # what the manifest and perf counters list
        self.queues: list[str] = []             # streams whose valid means "something queued"
        self.updates: list[str] = []            # layers with a separate LIF update stage

    def emit(self, *lines: str) -> None:
        self.lines.extend(lines)

    # --- plumbing ------------------------------------------------------------------------
    def stream(self, name: str, width: int) -> None:
        self.emit(f"    logic [{width - 1}:0] {name}_tdata;",
                  f"    logic {name}_tvalid, {name}_tready, {name}_tlast, {name}_tuser;")

    def fifo(self, src: str, dst: str, width: int) -> None:
        """{tuser, tlast, tdata} from stream src to stream dst through FIFO_DEPTH entries."""
        self.queues.append(f"{dst}_tvalid")
        self.emit(f"    fsvae_stream_fifo #(.W({width + 2}), .DEPTH({FIFO_DEPTH})) u_fifo_{dst} (",
                  "        .clk, .rst,",
                  f"        .s_data({{{src}_tuser, {src}_tlast, {src}_tdata}}), .s_valid({src}_tvalid), "
                  f".s_ready({src}_tready),",
                  f"        .m_data({{{dst}_tuser, {dst}_tlast, {dst}_tdata}}), .m_valid({dst}_tvalid), "
                  f".m_ready({dst}_tready)",
                  "    );")

    def sequencer(self, n: str) -> None:
        T = self.hw.T
        self.emit(f"    logic {n}_start, {n}_busy, {n}_done, {n}_finished;",
                  "    /* verilator lint_off UNUSEDSIGNAL */   // step, image: read by the simulation trace only",
                  f"    logic {n}_first;                        // not read by current engines",
                  f"    logic [{_bits(T + 1) - 1}:0] {n}_step;",
                  f"    logic [31:0] {n}_image;",
                  "    /* verilator lint_on UNUSEDSIGNAL */",
                  f"    fsvae_step_sequencer #(.T(T)) u_seq_{n} (",
                  "        .clk, .rst, .go, .n_images(n_img),",
                  f"        .finished({n}_finished), .start({n}_start), .first_step({n}_first),",
                  f"        .busy({n}_busy), .done({n}_done), .step({n}_step), .image({n}_image)",
                  "    );")

    def trace(self, layer: str, n: str, stream: str) -> None:
        """Simulation-only record of the events on `stream`, during engine n's current step."""
        if layer == "__untraced__":     # decoder.0's input = decoder_fc's output, traced there
            return
        self.emit("`ifndef SYNTHESIS",
                  "    always_ff @(posedge clk) begin",
                  f"        if (trace_on && !rst && {stream}_tvalid && {stream}_tready && !{stream}_tuser)",
                  f'            $fwrite(trace_fd, "%0d {layer} %0d %0d\\n", base_q + {n}_image, {n}_step, {stream}_tdata);',
                  "    end",
                  "`endif")

    def perf(self, n: str, stream: str) -> None:
        self.emit(f"    logic [31:0] perf_{n}_busy, perf_{n}_events;",
                  "    always_ff @(posedge clk) begin",
                  f"        if (rst) begin perf_{n}_busy <= '0; perf_{n}_events <= '0; end",
                  "        else begin",
                  f"            if ({n}_busy) perf_{n}_busy <= perf_{n}_busy + 1'b1;",
                  f"            if ({stream}_tvalid && {stream}_tready && !{stream}_tuser) "
                  f"perf_{n}_events <= perf_{n}_events + 1'b1;",
                  "        end",
                  "    end")

    # --- engines -------------------------------------------------------------------------
    def common_params(self, name: str, p: int, spiking: bool, bias_file: str | None = None) -> list[str]:
        layer, t = self.hw.layer(name), layer_widths(self.hw.layer(name))
        load = []
        wm = self.board.get("weight_memory") or {}
        if name in self.loadable:
            load = [".WEIGHT_LOAD(1)", f'.WEIGHT_STYLE({MEMORY_STYLES[wm.get("style", "auto")]})']
        elif self.hw.weights[name].size * layer["weight"]["bits"] <= int(wm.get("lut_rom_max_bits", 0)):
            load = [f'.WEIGHT_STYLE({MEMORY_STYLES["distributed"]})']   # small ROM: LUTs, not block RAM
        lif = [f".MEM_BITS({t['mem']})", f".THRESHOLD({layer['threshold']})"] if spiking else []
        return load + [f".P({p})", f".W_BITS({t['w']})", f".B_BITS({t['b']})", f".ACC_BITS({t['acc']})", *lif,
                f'.WEIGHT_FILE("{self.mem}/{name}.weight.hex")',
                f'.BIAS_FILE("{bias_file or f"{self.mem}/{name}.bias.hex"}")']

    def engine(self, name: str, src: str, dst: str | None, inst: str | None = None, cur: str = "cur",
               bias_file: str | None = None) -> None:
        """One layer engine reading events from stream src: a linear layer (fsvae_lif_linear)
        writes its spikes to stream dst; a transposed convolution is always a current engine
        (fsvae_lif_conv_transpose) writing stream `cur`, its neurons being a
        separate fsvae_lif_update (see current_engines / lif_update)."""
        hw, layer = self.hw, self.hw.layer(name)
        n = inst or cname(name)
        cout = layer["out_shape"][0]
        p = lanes(self.board, cout)
        spiking = layer["kind"] == "linear"
        assert spiking == (dst is not None), f"{name}: spikes out of linear layers only"
        nin, nout = int(np.prod(layer["in_shape"])), int(np.prod(layer["out_shape"]))
        t = layer_widths(layer)
        self.sequencer(n)
        if layer["kind"] == "linear":
            module = "fsvae_lif_linear"
            params = [f".IN({nin})", f".OUT({nout})"] + self.common_params(name, p, True)
            dbg = [f".dbg_group('0), .dbg_membrane({n}_dbg_u), .dbg_spike({n}_dbg_s)"]
            dbg_decl = [f"    logic [{p * t['mem'] - 1}:0] {n}_dbg_u;", f"    logic [{p - 1}:0] {n}_dbg_s;"]
        else:
            module = "fsvae_lif_conv_transpose"
            cin, ih, iw = layer["in_shape"]
            params = [f".CIN({cin})", f".COUT({cout})", f".IH({ih})", f".IW({iw})", f".K({layer['kernel_size']})",
                      f".S({layer['stride']})", f".PAD({layer['padding']})", f".OUTPAD({layer['output_padding']})"
                      ] + self.common_params(name, p, False, bias_file)
            dbg, dbg_decl = [], []
        self.emit("    /* verilator lint_off UNUSEDSIGNAL */", f"    logic [31:0] {n}_cycles;", *dbg_decl,
                  "    /* verilator lint_on UNUSEDSIGNAL */")
        ports = [".clk, .rst",
                 f".start({n}_start), " + (f".first_step({n}_first), " if spiking else "")
                 + f".busy({n}_busy), .done({n}_done), .cycles({n}_cycles)",
                 f".s_axis_event_tdata({src}_tdata), .s_axis_event_tvalid({src}_tvalid), "
                 f".s_axis_event_tready({src}_tready), .s_axis_event_tlast({src}_tlast), "
                 f".s_axis_event_tuser({src}_tuser)"]
        if spiking:
            ports.append(f".m_axis_spike_tdata({dst}_tdata), .m_axis_spike_tvalid({dst}_tvalid), "
                         f".m_axis_spike_tready({dst}_tready), .m_axis_spike_tlast({dst}_tlast), "
                         f".m_axis_spike_tuser({dst}_tuser)")
        else:
            ports.append(f".m_axis_cur_tdata({cur}_tdata), .m_axis_cur_tvalid({cur}_tvalid), "
                         f".m_axis_cur_tready({cur}_tready), .m_axis_cur_tlast({cur}_tlast)")
        if name in self.loadable:
            m = self.loadable.index(name)
            words = hw.weights[name].size // p
            ports.append(f".wl_en(wl_en[{m}]), .wl_addr(wl_addr[{_bits(words) - 1}:0]), "
                         f".wl_data(wl_data[{p * t['w'] - 1}:0])")
        else:
            ports.append(".wl_en(1'b0), .wl_addr('0), .wl_data('0)")
        ports += dbg
        self.emit(f"    {module} #(", ",\n".join("        " + q for q in params), f"    ) u_{n} (",
                  ",\n".join("        " + q for q in ports), "    );")
        self.perf(n, src)
        self.engines.append({"layer": name, "instance": n, "module": module, "lanes": p, "acc_bits": t["acc"],
                             "mem_bits": t["mem"] if spiking else None, "in_events": nin, "outputs": nout})

    def replicas(self, name: str) -> int:
        """Engine copies for a transposed-conv layer: hw/boards.yaml `replicas` (by layer name)."""
        return max(1, int((self.board.get("replicas") or {}).get(name, 1)))

    def spike_streams(self, name: str) -> int:
        """Spike streams out of a layer's LIF update (hw/boards.yaml `spike_streams`)."""
        return max(1, int((self.board.get("spike_streams") or {}).get(name, 1)))

    def current_engines(self, name: str, srcs: list[str], cur: str, prev_layer: str) -> None:
        """A transposed-conv layer's scatter as R copies of fsvae_lif_conv_transpose,
        R / len(srcs) per input stream, fed round robin by fsvae_event_split,
        their currents summed by fsvae_current_join into stream `cur` (bias in copy 0 only).
        The input events (prev_layer's spikes) are traced at each copy's input, in its step."""
        R, n, ns = self.replicas(name), cname(name), len(srcs)
        if R % ns:
            raise CodegenError(f"{name}: replicas ({R}) must be a multiple of the input spike streams ({ns})")
        per = R // ns
        layer = self.hw.layer(name)
        p, acc = lanes(self.board, layer["out_shape"][0]), layer_widths(layer)["acc"]
        in_w = _bits(int(np.prod(layer["in_shape"])))
        self.emit(f"    logic [{p * acc - 1}:0] {cur}_tdata;", f"    logic {cur}_tvalid, {cur}_tready, {cur}_tlast;")
        if R == 1:
            self.engine(name, srcs[0], None, inst=f"{n}_r0", cur=cur)
            self.trace(prev_layer, f"{n}_r0", srcs[0])
            return
        self.emit(f"    logic [{R * p * acc - 1}:0] {n}_rcur_tdata;",
                  f"    logic [{R - 1}:0] {n}_rcur_tvalid, {n}_rcur_tready, {n}_rcur_tlast;",
                  f"    fsvae_current_join #(.R({R}), .LANES({p}), .BITS({acc})) u_{n}_join (",
                  "        .clk, .rst,",
                  f"        .s_tdata({n}_rcur_tdata), .s_tvalid({n}_rcur_tvalid), .s_tready({n}_rcur_tready), "
                  f".s_tlast({n}_rcur_tlast),",
                  f"        .m_tdata({cur}_tdata), .m_tvalid({cur}_tvalid), .m_tready({cur}_tready), .m_tlast({cur}_tlast)",
                  "    );")
        inputs = {}
        for i, src in enumerate(srcs):
            group = list(range(i * per, (i + 1) * per))
            if per == 1:
                inputs[group[0]] = src
                continue
            sp = f"{n}_s{i}"
            self.emit(f"    logic [{per * in_w - 1}:0] {sp}_tdata;",
                      f"    logic [{per - 1}:0] {sp}_tvalid, {sp}_tready, {sp}_tlast, {sp}_tuser;",
                      f"    fsvae_event_split #(.R({per}), .W({in_w})) u_{sp}_split (",
                      "        .clk, .rst,",
                      f"        .s_tdata({src}_tdata), .s_tvalid({src}_tvalid), .s_tready({src}_tready), "
                      f".s_tlast({src}_tlast), .s_tuser({src}_tuser),",
                      f"        .m_tdata({sp}_tdata), .m_tvalid({sp}_tvalid), .m_tready({sp}_tready), "
                      f".m_tlast({sp}_tlast), .m_tuser({sp}_tuser)",
                      "    );")
            for j, r in enumerate(group):
                si = f"{n}_r{r}_in"
                self.emit(f"    logic [{in_w - 1}:0] {si}_tdata;",
                          f"    logic {si}_tvalid, {si}_tready, {si}_tlast, {si}_tuser;",
                          f"    assign {si}_tdata = {sp}_tdata[{j * in_w} +: {in_w}];",
                          f"    assign {si}_tvalid = {sp}_tvalid[{j}];", f"    assign {sp}_tready[{j}] = {si}_tready;",
                          f"    assign {si}_tlast = {sp}_tlast[{j}];", f"    assign {si}_tuser = {sp}_tuser[{j}];")
                inputs[r] = si
        for r in range(R):
            si, c = inputs[r], f"{n}_r{r}_cur"
            self.emit(f"    logic [{p * acc - 1}:0] {c}_tdata;", f"    logic {c}_tvalid, {c}_tready, {c}_tlast;",
                      f"    assign {n}_rcur_tdata[{r * p * acc} +: {p * acc}] = {c}_tdata;",
                      f"    assign {n}_rcur_tvalid[{r}] = {c}_tvalid;", f"    assign {c}_tready = {n}_rcur_tready[{r}];",
                      f"    assign {n}_rcur_tlast[{r}] = {c}_tlast;")
            self.queues.append(f"{c}_tvalid")
            self.engine(name, si, None, inst=f"{n}_r{r}", cur=c,
                        bias_file=None if r == 0 else f"{self.mem}/{name}.bias_zero.hex")
            self.trace(prev_layer, f"{n}_r{r}", si)

    def lif_update(self, name: str, cur: str, dsts: list[str]) -> None:
        """The LIF neurons of a transposed-conv layer, after its current engines; one output
        stream per name in dsts."""
        n, layer = cname(name), self.hw.layer(name)
        t = layer_widths(layer)
        p = lanes(self.board, layer["out_shape"][0])
        npos = layer["out_shape"][1] * layer["out_shape"][2]
        nw = npos * layer["out_shape"][0] // p
        ne = len(dsts)
        out_w = _bits(int(np.prod(layer["out_shape"])))
        ne = len(dsts)
        # room for a stream's share of a step's masks (at most 2048), so that the current
        # engines can read out a whole step while the emitter is still busy with the last
        depth = 1 << max(2, (min(nw // ne + 2, 2048) - 1).bit_length())
        o = f"{n}_ospk"
        self.emit(f"    logic {n}_upd_busy;",
                  f"    logic [{ne * out_w - 1}:0] {o}_tdata;",
                  f"    logic [{ne - 1}:0] {o}_tvalid, {o}_tready, {o}_tlast, {o}_tuser;",
                  f"    fsvae_lif_update #(.T(T), .NW({nw}), .P({p}), .ACC_BITS({t['acc']}), .MEM_BITS({t['mem']}), "
                  f".THRESHOLD({layer['threshold']}), .MASK_DEPTH({depth}), .NE({ne})) u_{n}_update (",
                  "        .clk, .rst,",
                  f"        .s_cur_tdata({cur}_tdata), .s_cur_tvalid({cur}_tvalid), .s_cur_tready({cur}_tready), "
                  f".s_cur_tlast({cur}_tlast),",
                  f"        .m_spike_tdata({o}_tdata), .m_spike_tvalid({o}_tvalid), .m_spike_tready({o}_tready), "
                  f".m_spike_tlast({o}_tlast), .m_spike_tuser({o}_tuser),",
                  f"        .busy({n}_upd_busy)",
                  "    );",
                  f"    logic [31:0] perf_{n}_update_busy;",
                  "    always_ff @(posedge clk) begin",
                  f"        if (rst) perf_{n}_update_busy <= '0;",
                  f"        else if ({n}_upd_busy) perf_{n}_update_busy <= perf_{n}_update_busy + 1'b1;",
                  "    end")
        for e, d in enumerate(dsts):
            self.emit(f"    assign {d}_tdata = {o}_tdata[{e * out_w} +: {out_w}];",
                      f"    assign {d}_tvalid = {o}_tvalid[{e}];", f"    assign {o}_tready[{e}] = {d}_tready;",
                      f"    assign {d}_tlast = {o}_tlast[{e}];", f"    assign {d}_tuser = {o}_tuser[{e}];")
        self.updates.append(n)
        self.queues.append(f"{cur}_tvalid")

    # --- the whole body --------------------------------------------------------------------
    def body(self) -> str:
        hw = self.hw
        C, zw = hw.C, min(32, hw.C)
        c_w = _bits(C)
        self.emit("    // ------------------------------------------------------------------ trace (simulation)",
                  "`ifndef SYNTHESIS",
                  "    int trace_fd;",
                  "    logic trace_on;",
                  "    initial begin",
                  '        trace_on = $test$plusargs("fsvae_trace") != 0;',
                  '        trace_fd = trace_on ? $fopen("fsvae_trace.txt", "w") : 0;',
                  "    end",
                  "`endif", "")
        prior = hw.names("prior")
        spk_w = _bits(int(np.prod(hw.layer(prior[-1])["out_shape"])))
        self.emit("    // ------------------------------------------------------------------ latent pick",
                  "    logic pick_busy;",
                  "    logic [ZW-1:0] zdec_word, zfb_word;",
                  "    logic zdec_wvalid, zdec_wready, zfb_wvalid, zfb_wready;")
        self.stream("pick_spk", spk_w)
        self.emit("    fsvae_latent_pick #(.T(T), .C(C), .K(K), .W(ZW)) u_pick (",
                  "        .clk, .rst, .go, .n_images(n_img), .image_base(base_q), .busy(pick_busy),",
                  "        .sampler_start, .sampler_image,",
                  "        .s_spike_tdata(pick_spk_tdata), .s_spike_tvalid(pick_spk_tvalid), "
                  ".s_spike_tready(pick_spk_tready),",
                  "        .s_spike_tlast(pick_spk_tlast), .s_spike_tuser(pick_spk_tuser),",
                  "        .sampler_step(smp_step), .sampler_ready(sampler_ready),",
                  "        .idx_data, .idx_valid, .idx_ready, .idx_last,",
                  "        .m_dec_data(zdec_word), .m_dec_valid(zdec_wvalid), .m_dec_ready(zdec_wready),",
                  "        .m_fb_data(zfb_word), .m_fb_valid(zfb_wvalid), .m_fb_ready(zfb_wready)",
                  "    );")
        for side in ("zdec", "zfb"):
            self.stream(f"{side}_ev", c_w)
            self.emit("    /* verilator lint_off UNUSEDSIGNAL */",
                      f"    logic {side}_list_done;", f"    logic [{_bits(C + 2) - 1}:0] {side}_list_count;",
                      "    /* verilator lint_on UNUSEDSIGNAL */",
                      f"    fsvae_event_list #(.N(C), .W(ZW)) u_list_{side} (",
                      f"        .clk, .rst, .in_valid({side}_wvalid), .in_ready({side}_wready), .in_data({side}_word),",
                      f"        .ev_valid({side}_ev_tvalid), .ev_ready({side}_ev_tready), .ev_index({side}_ev_tdata),",
                      f"        .ev_last({side}_ev_tlast), .ev_empty({side}_ev_tuser),",
                      f"        .done({side}_list_done), .done_count({side}_list_count)",
                      "    );")
        # the prior: z_{t-1} -> prior.0 -> ... -> latent pick
        src = "zfb_ev"
        for i, name in enumerate(prior):
            n = cname(name)
            self.emit("", f"    // ------------------------------------------------------------------ {name}")
            in_w = _bits(int(np.prod(hw.layer(name)["in_shape"])))
            self.stream(f"{n}_in", in_w)
            self.fifo(src, f"{n}_in", in_w)
            dst = f"{n}_out"
            self.stream(dst, _bits(int(np.prod(hw.layer(name)["out_shape"]))))
            self.engine(name, f"{n}_in", dst)
            self.trace(name, n, dst)
            src = dst
        self.fifo(src, "pick_spk", spk_w)
        # the decoder: z_t -> decoder_fc -> decoder.* -> output currents
        src = "zdec_ev"
        # decoder_fc (linear, traced at its output) -> decoder.* (current engines + LIF update;
        # their spikes traced at the next layer's engine inputs) -> output currents -> cur
        n = "decoder_fc"
        in_w = _bits(hw.C)
        self.emit("", "    // ------------------------------------------------------------------ decoder_fc")
        self.stream(f"{n}_in", in_w)
        self.fifo("zdec_ev", f"{n}_in", in_w)
        self.trace("latent", n, f"{n}_in")
        src = f"{n}_out"
        self.stream(src, _bits(int(np.prod(hw.layer("decoder_fc")["out_shape"]))))
        self.engine("decoder_fc", f"{n}_in", src)
        self.trace("decoder_fc", n, src)
        prev, srcs = None, [src]
        for name in hw.names("decoder")[1:] + ["output"]:
            n = cname(name)
            self.emit("", f"    // ------------------------------------------------------------------ {name}")
            in_w = _bits(int(np.prod(hw.layer(name)["in_shape"])))
            ins = []
            for i, s_ in enumerate(srcs):
                d = f"{n}_in{i}"
                self.stream(d, in_w)
                self.fifo(s_, d, in_w)
                ins.append(d)
            if name == "output":
                self.current_engines(name, ins, "cur", prev or "decoder_fc")
            else:
                self.current_engines(name, ins, f"{n}_cur", prev or "__untraced__")
                dsts = [f"{n}_out{e}" for e in range(self.spike_streams(name))]
                for d in dsts:
                    self.stream(d, _bits(int(np.prod(hw.layer(name)["out_shape"]))))
                self.lif_update(name, f"{n}_cur", dsts)
                srcs = dsts
            prev = name
        self.queues += ["zdec_wvalid", "zfb_wvalid", "zdec_ev_tvalid", "zfb_ev_tvalid", "cur_tvalid"]
        self.emit("", "    // nothing queued anywhere (the testbench checks it after ap_done)",
                  "    /* verilator lint_off UNUSEDSIGNAL */", "    logic queues_empty;",
                  "    /* verilator lint_on UNUSEDSIGNAL */",
                  f"    assign queues_empty = !({' || '.join(self.queues)});")
        return "\n".join(self.lines)


def _loader(hw: HwModel, board: dict, names: list[str]) -> tuple[str, list[dict]]:
    """The load_weights mode: in_r words -> the run-time weight memories, in `names` order."""
    if not names:
        return ("    // no run-time weight memories on this board: load_weights is done at once\n"
                "    assign in_r_TREADY = 1'b0;\n    assign load_done = 1'b0;\n    assign load_word = 1'b0;"), []
    mems = weight_load_memories(hw, board, names)
    n, amax = len(mems), max(_bits(m["depth"]) for m in mems)
    wmax = max(m["width"] for m in mems)

    def table(key: str) -> str:          # memory 0 in the low bits: listed last
        return "{" + ", ".join(f"32'd{m[key]}" for m in reversed(mems)) + "}"
    text = f"""    // ------------------------------------------------------------------ weight loader
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
    return text, mems


def write_weight_blob(hw: HwModel, board: dict, mems: list[dict], path: Path) -> None:
    """mem/weights.bin: what load_weights expects on in_r (hw/interface.yaml)."""
    parts = []
    for m in mems:
        layer = hw.layer(m["layer"])
        p, bits = lanes(board, layer["out_shape"][0]), layer["weight"]["bits"]
        for row in engine_weight(hw, m["layer"]).reshape(-1, p):
            parts.append(pack_lanes(row, bits).to_bytes(4 * m["words_per_entry"], "little"))
    path.write_bytes(b"".join(parts))


def _membrane_output(hw: HwModel, board: dict, mem: str) -> tuple[str, dict]:
    mem_dir = Path(mem)
    out, layer = hw.desc["output"], hw.layer("output")
    thr = clipped_pixel_thresholds(hw)
    coef = np.asarray(out["decay_coefficients"], dtype=np.int64)
    coef_bits = max(1, int(coef.max()).bit_length())
    # the RTL accumulates full coef x current products: at least one product wide, so that
    # no product bit is dropped (the HLS core keeps the sum width: every partial sum fits it)
    sum_bits = max(threshold_sum_bits(hw), coef_bits + 1 + layer_widths(layer)["acc"])
    _write_hex(mem_dir / "output.coef.hex", [f"{int(c):x}" for c in coef])
    _write_hex(mem_dir / "output.thresh.hex", pack_words(thr, 1, sum_bits))
    p = lanes(board, layer["out_shape"][0])
    npos = int(np.prod(layer["out_shape"]))
    params = {"T": hw.T, "NPOS": npos, "LANES": p, "CUR_BITS": layer_widths(layer)["acc"], "SUM_BITS": sum_bits,
              "COEF_BITS": coef_bits, "THR_BITS": sum_bits}
    text = ",\n".join(f"        .{k}({v})" for k, v in params.items())
    text += f',\n        .COEF_FILE("{mem}/output.coef.hex"),\n        .THRESH_FILE("{mem}/output.thresh.hex")'
    return text, params


MARKER = "manifest.json"      # an output folder holding one with format fsvae-rtl is ours


def _prepare_out_dir(out_dir: Path) -> tuple[Path, Path]:
    """rtl/ and mem/ under out_dir, emptied only when the folder is this generator's own
    output (its manifest.json says so); anything else already there is refused."""
    rtl_dir, mem_dir = out_dir / "rtl", out_dir / "mem"
    ours = False
    if (out_dir / MARKER).is_file():
        try:
            ours = json.loads((out_dir / MARKER).read_text()).get("format") == "fsvae-rtl"
        except (ValueError, AttributeError):
            ours = False
    for d in (rtl_dir, mem_dir):
        if d.exists() or d.is_symlink():
            if not ours:
                raise CodegenError(f"{d} exists and {out_dir} is not a folder written by codegen rtl "
                                   f"(no fsvae-rtl {MARKER}); choose another --out or remove it yourself")
            shutil.rmtree(d)
        d.mkdir(parents=True)
    return rtl_dir, mem_dir


def design_sha256(hw: HwModel, board: dict) -> str:
    """sha256 (hex) of the hardware model's description (which holds every array's sha256),
    the board settings and the generator's texts: whether generated files are current."""
    h = hashlib.sha256()
    h.update(json.dumps({"hwmodel": hw.desc, "board": board, "fifo_depth": FIFO_DEPTH,
                         "interface": boards.interface()}, sort_keys=True, default=str).encode())
    for f in LIBRARY:
        h.update((RTL_LIB / f).read_bytes())
    h.update(TEMPLATE.read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def write_rtl(hw: HwModel, board_name: str, out_dir: str | Path, overrides: dict | None = None) -> dict:
    """Write the RTL accelerator for ``hw`` on ``board_name`` into ``out_dir``; returns the manifest.
    ``overrides`` replaces board keys (tests: e.g. weight_memory, replicas)."""
    board = {**boards.board(board_name), **(overrides or {})}
    if hw.image_shape[0] != 1:
        raise CodegenError(f"codegen rtl: images with {hw.image_shape[0]} channels are not supported yet "
                           "(the membrane-output stage emits channel-last pixels; out_r wants C-H-W)")
    fit = check_fits(hw, board, False)
    iface = boards.interface()
    if iface["pixels_per_word"] != 4 or any(st["tdata_bits"] != 32 for st in iface["streams"].values()):
        raise CodegenError("hw/interface.yaml: this generator implements 32-bit words of 4 pixels")
    out_dir = Path(out_dir).resolve()
    rtl_dir, mem_dir = _prepare_out_dir(out_dir)
    mem = str(mem_dir)
    if '"' in mem or "\\" in mem:
        raise CodegenError(f"{mem}: a path with quotes or backslashes cannot be a Verilog string; choose another --out")

    # memory images
    for name in design_names(hw, reconstruction=False):
        layer, t = hw.layer(name), layer_widths(hw.layer(name))
        p = lanes(board, layer["out_shape"][0])
        _write_hex(mem_dir / f"{name}.weight.hex", pack_words(engine_weight(hw, name), p, t["w"]))
        _write_hex(mem_dir / f"{name}.bias.hex", pack_words(engine_bias(hw, name), p, t["b"]))
    for name in hw.names("decoder")[1:] + ["output"]:    # engine copies 1.. add no bias
        layer = hw.layer(name)
        _write_hex(mem_dir / f"{name}.bias_zero.hex",
                   pack_words(np.zeros_like(engine_bias(hw, name)), lanes(board, layer["out_shape"][0]),
                              layer_widths(layer)["b"]))
    memout_text, memout = _membrane_output(hw, board, mem)

    writer = _Writer(hw, board, mem)
    body = writer.body()
    loader_text, load_mems = _loader(hw, board, writer.loadable)
    if load_mems:
        write_weight_blob(hw, board, load_mems, mem_dir / "weights.bin")
    seqs = [e["instance"] for e in writer.engines]
    # engines_busy: one bit per engine, then the latent pick and the membrane output; past 31
    # units the rest share bit 31
    units = seqs + ["latent_pick", "membrane_output"]
    flags = [f"!{s}_finished" for s in seqs] + ["pick_busy", "pix_busy"]
    if len(flags) > 32:
        flags = flags[:31] + [f"({' || '.join(flags[31:])})"]
        units = units[:31] + ["+".join(units[31:])]
    busy_text = "{" + ", ".join([f"{32 - len(flags)}'d0"] * (len(flags) < 32) + flags[::-1]) + "}"
    identity = hw.identity32            # the register names the hardware model (hwmodel.py)
    offsets = boards.register_offsets()
    axil = {"OFF_CTRL": "CTRL", "OFF_GIE": "GIE", "OFF_IER": "IER", "OFF_ISR": "ISR", "OFF_SEED": "seed",
            "OFF_N_IMAGES": "n_images", "OFF_MODE": "mode", "OFF_IMAGE_BASE": "image_base",
            "OFF_IDENTITY": "identity", "OFF_STATUS": "status", "OFF_PROGRESS": "progress",
            "OFF_ENGINES_BUSY": "engines_busy"}
    addr_bits = int(iface["control"]["addr_bits"])
    if boards.register_map_bytes() > 1 << addr_bits:
        raise CodegenError(f"hw/interface.yaml: registers up to {max(offsets.values()):#x} need more than "
                           f"control.addr_bits = {addr_bits}")
    axil_text = ",\n".join(f"        .{p}(32'h{offsets[r]:02x})" for p, r in axil.items())
    top = iface["top"]
    text = TEMPLATE.read_text()
    for key, value in {"@TOP@": top, "@MODEL@": f"T={hw.T} C={hw.C} k={hw.k} image {list(hw.image_shape)}",
                       "@BOARD@": board["name"], "@PART@": board["part"], "@CLOCK_MHZ@": str(board["clock_mhz"]),
                       "@MODES@": "Reconstruction is not in this design (status.has_reconstruct = 0)",
                       "@T@": str(hw.T), "@C@": str(hw.C),
                       "@K@": str(hw.k), "@ZW@": str(min(32, hw.C)), "@AXIL_PARAMS@": axil_text,
                       "@ADDR_BITS@": str(addr_bits), "@ADDR_MSB@": str(addr_bits - 1),
                       "@IDENTITY_HEX@": f"{identity:08x}", "@HAS_RECONSTRUCT@": "1'b0",
                       "@ENGINES_BUSY@": busy_text,
                       "@BODY@": body, "@MEMOUT_PARAMS@": memout_text,
                       "@ALL_FINISHED@": " && ".join(f"{s}_finished" for s in seqs),
                       "@LOADER@": loader_text,
                       "@MODE_LOAD@": str(boards.mode_value("load_weights")),
                       "@MODE_GENERATE@": str(boards.mode_value("generate")),
                       "@HAS_LOADER@": "1'b1" if load_mems else "1'b0"}.items():
        text = text.replace(key, value)
    for f in LIBRARY:
        shutil.copy2(RTL_LIB / f, rtl_dir / f)
    (rtl_dir / f"{top}.sv").write_text(text)
    manifest = {
        "format": "fsvae-rtl", "version": 2, "top": top, "board": board["name"], "part": board["part"],
        "clock_mhz": board["clock_mhz"], "yosys_family": board["yosys_family"],
        "sources": [f"rtl/{f}" for f in LIBRARY] + [f"rtl/{top}.sv"],
        "mem_dir": mem,
        "identity": identity, "hwmodel_identity": hw.identity, "design_sha256": design_sha256(hw, board),
        "modes": ["generate", "load_weights"],
        "weights_at_power_up": not load_mems,
        "weight_load": {"blob": "mem/weights.bin", "memories": load_mems,
                        "words": sum(m["words"] for m in load_mems)} if load_mems else None,
        "status_units": units,
        "T": hw.T, "C": hw.C, "k": hw.k, "image_shape": list(hw.image_shape),
        "words_per_image": int(np.prod(hw.image_shape)) // iface["pixels_per_word"],
        "engines": writer.engines, "lif_updates": writer.updates,
        "replicas": {name: writer.replicas(name) for name in hw.names("decoder")[1:] + ["output"]},
        "spike_streams": {name: writer.spike_streams(name) for name in hw.names("decoder")[1:]},
        "membrane_output": memout, "fifo_depth": FIFO_DEPTH,
        "memory": fit,
        "interface": iface,          # the port contract this design was generated with
    }
    # the plain-Verilog wrapper with Vivado interface attributes (block designs cannot take a
    # SystemVerilog top); not in `sources`, which the simulators and Yosys build from fsvae_top
    from fsvae_fpga.codegen.vivado import write_wrapper
    manifest["wrapper"] = str(write_wrapper(out_dir, manifest, board).relative_to(out_dir))
    (out_dir / MARKER).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
