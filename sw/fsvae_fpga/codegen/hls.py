"""Vitis HLS project writer: fills hls/templates with one hardware model and one board.

Generated project layout (``fsvae-fpga codegen hls --out DIR``), self-contained: it names no
path outside itself, so it can be moved or copied to another machine and opened there::

    firmware/fsvae/*.h      the engine library (copied from hls/fsvae/)
    firmware/parameters.h   per-layer shapes, ap_int widths (from the bound analysis), lanes P,
                            thresholds, output decay coefficients, pixel thresholds, identity
    firmware/weights.h      the weights and biases held in ROMs, in the engines' layouts
    firmware/fsvae_core.h   core interface, constants of hw/interface.yaml (modes, status bits)
    firmware/fsvae_core.cpp the accelerator: generation (and reconstruction) built from the
                            engine library, the run-time weight loader, the memory pragmas
    firmware/fsvae_top.cpp  the top function: AXI4-Stream + s_axi_control ports of
                            hw/interface.yaml, modes, status registers; where layers stream
                            their weights, the pointer weights_base on the m_axi_gmem master
    tb/tb_fsvae.cpp         C testbench on the golden test vectors (every mode)
    vectors/                the golden test vectors (fsvae-fpga vectors) and weights.bin, the
                            load_weights blob (the same bytes as codegen rtl's mem/weights.bin),
                            and ddr_weights.bin, the DDR weight image (design.ddr_weight_image,
                            codegen rtl's mem/ddr_weights.bin) that the testbench passes as
                            weights_base
    memory.json             every on-chip array: layout, binding and block count
    build_prj.tcl           csim, csynth (+ register-offset check), cosim, IP export

Memories.  Every array is described once (hls_memory.py) and from that description the
writer renders its declaration and pragmas and counts its blocks by bank geometry.
Weights are ROMs in block RAM or LUTs (UltraRAM has no initial contents) unless the board
loads them at run time (hw/boards.yaml weight_memory.loadable_min_bits, the rule of the RTL
writer, ``rtl.loadable_layers``): those are RAMs in URAM or BRAM, written by mode
load_weights.  A design that does not fit the board's memory budget is refused.

Weight rows from DDR.  Where the design streams the weights of some linear layers
(``LayerPlan.streamed``: hw/boards.yaml weight_stream), those layers have no weight array:
their engine (fsvae/lif_linear.h ``lif_linear_step_ddr``) reads each input event's row with a
burst from the top's pointer argument weights_base (m_axi bundle gmem, offset register in
s_axi_control at hw/interface.yaml's offset), in the layout of ``design.ddr_weight_layout``.

Event pairs.  A linear layer whose plan scatters two events at once (``LayerPlan.event_pairs``,
the balance plan's, as in the RTL) runs ``lif_linear_step_pairs``, which reads two rows of its
weight array a cycle: that array is bound to a two-port memory (hls_memory.py).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from fsvae_fpga.codegen import balance, boards
from fsvae_fpga.contract.hwmodel import HwModel
from fsvae_fpga.codegen.design import (CodegenError, clipped_pixel_thresholds, cname, ddr_weight_image,
                                       ddr_weight_layout, describe, engine_bias, engine_weight, stream_settings,
                                       threshold_sum_bits, weight_load_memories)
from fsvae_fpga.codegen.hls_memory import Memory, fit_blocks

HLS_DIR = Path(__file__).resolve().parents[3] / "hls"
TEMPLATES = HLS_DIR / "templates"
LIBRARY = ["types.h", "event_list.h", "lif_linear.h", "lif_conv_transpose.h", "conv_encoder.h", "sampler.h",
           "membrane_output.h", "weight_load.h"]


# --- the register map ------------------------------------------------------------------------
# Vitis HLS places a top function's s_axilite scalars in argument order from 0x10: an input
# takes 8 bytes (data word, reserved word).  An output takes its data word and its ap_vld
# word; the generated driver headers seen from Vitis HLS 2020.2 and 2023.1 leave 8 more bytes
# after that (output slots 16 bytes apart), while hw/interface.yaml reads 8.  Both are
# accepted here; build_prj.tcl checks the offsets of the header Vitis actually writes.
# A pointer argument on an m_axi port with offset=slave (and s_axilite port=<it>) gets its
# offset register in the same bundle, in argument order, named after the argument: a 64-bit
# address (m_axi addressing is 64-bit: build_prj.tcl sets config_interface -m_axi_addr64) is
# data_0 (bits 31:0), data_1 (bits 63:32) and a reserved word, 12 bytes (x<top>_hw.h of the
# Vivado IP flow: "0x10 Data signal of p [31:0], 0x14 Data signal of p [63:32], 0x18 reserved").
# So the argument must be called as hw/interface.yaml's register (weights_base).
INPUT_SLOT = 8
OUTPUT_SLOTS = (8, 16)


def _slot(r: dict, output_slot: int) -> int:
    if r.get("pointer"):
        return 4 * (r.get("width", 64) // 32 + 1)      # data words, then a reserved word
    return output_slot if r["access"] == "r" else INPUT_SLOT


def scalar_registers(iface: dict, pointers: bool = False) -> tuple[list[dict], dict[str, int]]:
    """The argument registers of hw/interface.yaml (in order) and the offsets Vitis gives them
    when the top's arguments come in that order; CodegenError where the file's offsets are no
    such layout.  ``pointers``: the top has the pointer arguments (a design that streams
    weights: weights_base); without them their registers must come last (nothing moves)."""
    regs = [r for r in iface["control"]["registers"] if r["offset"] >= 0x10]
    for r in regs:
        if r.get("pointer"):
            if r.get("width", 64) not in (32, 64) or r["access"] != "rw":
                raise CodegenError(f"hw/interface.yaml: register {r['name']}: a pointer (m_axi offset register) is "
                                   "a 32- or 64-bit address, access rw")
        elif r.get("width", 32) != 32 or r["access"] not in ("rw", "w", "r"):
            raise CodegenError(f"hw/interface.yaml: register {r['name']}: this generator implements 32-bit "
                               "inputs (access rw) and outputs (access r)")
    scalars = [r for r in regs if not r.get("pointer")]
    outputs = [r for r in scalars if r["access"] == "r"]
    if outputs and any(r["access"] != "r" for r in scalars[scalars.index(outputs[0]):]):
        raise CodegenError("hw/interface.yaml: the read-only registers must follow the written ones")
    if not pointers:
        last = max((i for i, r in enumerate(regs) if not r.get("pointer")), default=-1)
        early = [r["name"] for r in regs[:last + 1] if r.get("pointer")]
        if early:
            raise CodegenError(f"hw/interface.yaml: pointer register {', '.join(early)} must come after the scalar "
                               "registers (a top without its argument would move the registers after it)")
        regs = scalars
    for slot in OUTPUT_SLOTS:
        offsets, at = {}, 0x10
        for r in regs:
            offsets[r["name"]] = at
            at += _slot(r, slot)
        if all(offsets[r["name"]] == r["offset"] for r in regs):
            return regs, offsets
    want = ", ".join(f"{r['name']} 0x{r['offset']:02x}" for r in regs)
    raise CodegenError(f"hw/interface.yaml: the offsets ({want}) are not the layout Vitis HLS gives the top's "
                       f"arguments in this order (from 0x10: inputs every {INPUT_SLOT} bytes, outputs every "
                       f"{' or '.join(map(str, OUTPUT_SLOTS))}, a 64-bit pointer 12)")


def _arg(r: dict) -> str:
    """The top's argument for a register."""
    if r.get("pointer"):
        return f"const ddr_word_t *{r['name']}"
    return f"ap_uint<32> {'&' if r['access'] == 'r' else ''}{r['name']}"


def _register_note(r: dict) -> str:
    if r.get("pointer"):
        return (f"DDR byte address of the weight image, {r.get('width', 64)} bits: m_axi_{r['pointer']} reads the "
                "streamed layers' rows there")
    return "read-only" if r["access"] == "r" else "written by the host"


# --- generated sources -----------------------------------------------------------------------
def _array(values: np.ndarray) -> str:
    if values.ndim == 1:
        return "{" + ", ".join(str(int(v)) for v in values) + "}"
    return "{\n" + ",\n".join("    " + _array(row) for row in values) + "\n}"


def _c_int(bits: int) -> str:
    return {8: "signed char", 16: "short", 32: "int"}.get(bits, f"ap_int<{bits}>")


def parameters_h(hw: HwModel, board: dict, reconstruction: bool, identity: int | None = None,
                 load_words: int = 0) -> str:
    out = hw.desc["output"]
    identity = hw.identity32 if identity is None else identity
    lines = ["// Generated by fsvae-fpga codegen hls: do not edit.", "#ifndef FSVAE_PARAMETERS_H",
             "#define FSVAE_PARAMETERS_H", '#include "fsvae/types.h"', '#include "fsvae/membrane_output.h"',
             "using fsvae::spike_t;", "using fsvae::index_t;", "using fsvae::coef_t;", "",
             f"// board {board['name']}: {board['part']} at {board['clock_mhz']} MHz, lanes {board['lanes']}",
             f"static const int T_STEPS = {hw.T};", f"static const int LATENT = {hw.C};",
             f"static const int K_SPIKES = {hw.k};",
             f"static const int IMG_C = {hw.image_shape[0]}, IMG_H = {hw.image_shape[1]}, IMG_W = {hw.image_shape[2]};",
             "static const int NPIX = IMG_C * IMG_H * IMG_W;",
             f"#define FSVAE_RECONSTRUCTION {int(reconstruction)}",
             "// the identity register (hw/interface.yaml): the hardware model's identity, first 4 bytes",
             f"// little-endian (hwmodel.identity32; this model: {hw.identity[:16]}...)",
             f"#define FSVAE_IDENTITY 0x{identity & 0xFFFFFFFF:08x}u",
             "// 32-bit words of the load_weights blob (vectors/weights.bin); 0: no run-time weights",
             f"#define FSVAE_WEIGHT_WORDS {load_words}"]
    design = describe(hw, board, reconstruction)
    ddr = ddr_stream(design)
    lines += ["// weight rows streamed from DDR (hw/boards.yaml weight_stream): the image vectors/ddr_weights.bin,",
              "// FSVAE_DDR_WORDS beats of FSVAE_DDR_BITS bits at weights_base; 0: no layer streams",
              f"#define FSVAE_DDR_WORDS {ddr['words'] if ddr else 0}",
              f"#define FSVAE_DDR_BITS {ddr['data_bits'] if ddr else 64}",
              "typedef ap_uint<FSVAE_DDR_BITS> ddr_word_t;", ""]
    rows = {m["layer"]: m for m in (ddr["layers"] if ddr else [])}
    for name, lp in design.layers.items():
        layer, n, t = hw.layer(name), cname(name), lp.widths
        lines.append(f"// {layer['name']}: {layer['kind']} {layer['in_shape']} -> {layer['out_shape']}, "
                     f"current {layer['current_range']}, membrane {layer.get('membrane_range', '-')}")
        # 8/16/32-bit constants as plain C integers: identical in hardware, and the
        # initialisers of a 2-million-weight model then compile in seconds (ap_int
        # constructors would need dynamic initialisation code per element).
        lines.append(f"typedef {_c_int(t['w'])} {n}_w_t;")
        lines.append(f"typedef {_c_int(t['b'])} {n}_b_t;")
        lines.append(f"typedef ap_int<{t['acc']}> {n}_acc_t;")
        lines.append(f"typedef ap_int<{t['mem']}> {n}_mem_t;")
        lines.append(f"static const int {n}_P = {lp.lanes};")
        if lp.threshold is not None:
            lines.append(f"static const int {n}_THRESHOLD = {lp.threshold};")
        if name in rows:
            m, beat = rows[name], ddr["data_bits"] // 8
            lines += [f"// weight rows in DDR: row i at weights_base + {m['offset']} + i * {m['row_stride']} bytes, "
                      f"{m['row_bytes']} bytes used ({m['row_words']} words of {m['word_bits']} bits)",
                      f"static const int {n}_W_BITS = {t['w']};",
                      f"static const int {n}_DDR_OFFSET = {m['offset'] // beat};   // in beats",
                      f"static const int {n}_DDR_STRIDE = {m['row_stride'] // beat};   // in beats"]
        lines.append("")
    thr = clipped_pixel_thresholds(hw)
    lines += [f"typedef ap_int<{threshold_sum_bits(hw)}> out_sum_t;   // membrane-output sum, {out['sum_range']}",
              f"static const coef_t OUTPUT_COEF[T_STEPS] = {_array(np.asarray(out['decay_coefficients']))};",
              "// pixel thresholds, clamped to the sum range (same pixels: outside it they never or always hold)",
              f"static const out_sum_t PIXEL_THRESHOLDS[255] = {_array(thr)};", "", "#endif"]
    return "\n".join(lines) + "\n"


def weights_h(hw: HwModel, mems: list[Memory]) -> str:
    """The ROM contents (the run-time loaded weights are RAMs declared in fsvae_core.cpp)."""
    lines = ["// Generated by fsvae-fpga codegen hls: do not edit.", "#ifndef FSVAE_WEIGHTS_H",
             "#define FSVAE_WEIGHTS_H", '#include "parameters.h"', ""]
    for m in mems:
        if m.declared != "weights.h":
            continue
        values = engine_weight(hw, m.layer) if m.role == "weight" else engine_bias(hw, m.layer)
        dims = "".join(f"[{d}]" for d in m.dims)
        lines.append(f"static const {m.ctype} {m.name}{dims} = {_array(values)};")
    lines.append("#endif")
    return "\n".join(lines) + "\n"


def _conv_dims(layer: dict) -> str:
    cin, ih, iw = layer["in_shape"]
    cout = layer["out_shape"][0]
    return f"{cin}, {cout}, {ih}, {iw}, {layer['kernel_size']}, {layer['stride']}, {layer['padding']}"


def storage_pragmas(mems: list[Memory]) -> str:
    """Layout and binding of every global array (placed in fsvae_core, whose callees see them)."""
    lines = ["    // memory layouts and bindings (codegen/hls.py memories; block counts in memory.json)"]
    for m in mems:
        lines += ["    " + p for p in m.pragmas()]
    lines.append("#pragma HLS ARRAY_PARTITION variable=PIXEL_THRESHOLDS type=complete dim=1")
    return "\n".join(lines)


# the DDR weight image's pointer, through fsvae_core to the step functions (designs that stream)
DDR_PARAM = ", const ddr_word_t *weights"


def ddr_stream(design) -> dict | None:
    """The design's weight rows in DDR (None where no layer streams): the image's layout
    (design.ddr_weight_layout, the RTL's), its size in beats and the m_axi port's settings."""
    layout = ddr_weight_layout(design)
    if not layout:
        return None
    ws = stream_settings(design.board)
    beat = ws["port_bits"] // 8
    size = layout[-1]["offset"] + layout[-1]["rows"] * layout[-1]["row_stride"]
    for m in layout:
        if m["offset"] % beat or m["row_stride"] % beat or m["beats_per_row"] > m["row_stride"] // beat:
            raise CodegenError(f"{m['layer']}: DDR rows at offset {m['offset']}, stride {m['row_stride']} bytes are "
                               f"not whole {ws['port_bits']}-bit beats")
    return {"words": size // beat, "bytes": size, "data_bits": ws["port_bits"], "addr_bits": 64,
            "max_burst": ws["max_burst"], "outstanding": ws["max_outstanding"], "latency": ws["latency_cycles"],
            "layers": layout}


def core_cpp(hw: HwModel, reconstruction: bool, board: dict, mems: list[Memory]) -> str:
    """The accelerator body: per image, step through T with every layer's state on chip."""
    L = hw.layer
    decl = [m.declaration() for m in mems if m.declared == "core"]
    body_dec, body_gen, body_rec = [], [], []
    counts = ["z_n", "fc_n"]

    design = describe(hw, board, reconstruction)

    def linear(name, in_events, in_count, out):
        n, layer = cname(name), L(name)
        if design.plan(name).streamed:          # weight rows from DDR (m_axi weights_base)
            out.append(f"    fsvae::lif_linear_step_ddr<{layer['in_shape'][0]}, {layer['out_shape'][0]}, {n}_P, "
                       f"{n}_W_BITS, {n}_DDR_STRIDE>({in_events}, {in_count}, weights + {n}_DDR_OFFSET, {n}_bias, "
                       f"{n}_mem, {n}_spk, {n}_acc_t({n}_THRESHOLD), first);")
            return
        # event_pairs: two events a scatter, from the two ports of its weight memory (hls_memory)
        step = "lif_linear_step_pairs" if design.plan(name).event_pairs else "lif_linear_step"
        out.append(f"    fsvae::{step}<{layer['in_shape'][0]}, {layer['out_shape'][0]}, {n}_P>"
                   f"({in_events}, {in_count}, {n}_weight, {n}_bias, {n}_mem, {n}_spk, "
                   f"{n}_acc_t({n}_THRESHOLD), first);")

    def events(spikes, size, ev, cnt, out):
        out.append(f"    fsvae::spikes_to_events<{size}>({spikes}, {ev}, {cnt});")

    # decoder, shared by both modes: z -> decoder_fc -> decoder.* -> output currents -> sum
    C, F = hw.C, L("decoder_fc")["out_shape"][0]
    events("z", C, "z_ev", "z_n", body_dec)
    linear("decoder_fc", "z_ev", "z_n", body_dec)
    events("decoder_fc_spk", F, "fc_ev", "fc_n", body_dec)
    prev_ev, prev_n = "fc_ev", "fc_n"
    for name in hw.names("decoder")[1:]:
        n, layer = cname(name), L(name)
        counts.append(f"{n}_n")
        body_dec.append(f"    fsvae::lif_conv_transpose<{_conv_dims(layer)}, {layer['output_padding']}, {n}_P>"
                        f"({prev_ev}, {prev_n}, {n}_weight, {n}_bias, {n}_acc, {n}_mem, {n}_spk, "
                        f"{n}_mem_t({n}_THRESHOLD), first, {n}_ev, {n}_n);")
        prev_ev, prev_n = f"{n}_ev", f"{n}_n"
    o = L("output")
    npos_out = o["out_shape"][1] * o["out_shape"][2]
    body_dec.append(f"    fsvae::conv_transpose_currents<{_conv_dims(o)}, {o['output_padding']}, output_P>"
                    f"({prev_ev}, {prev_n}, output_weight, output_bias, output_acc);")
    body_dec += ["    ACCUMULATE:",
                 f"    for (int pos = 0; pos < {npos_out}; ++pos) {{",
                 "#pragma HLS PIPELINE II=1",
                 "        for (int c = 0; c < IMG_C; ++c) {",
                 "            out_sum_t prev = first ? out_sum_t(0) : out_sum[pos][c];",
                 "            out_sum[pos][c] = prev + OUTPUT_COEF[t] * output_acc[pos][c];",
                 "        }", "    }"]

    def latent_net(net, in_spikes, in_size):
        names = hw.names(net)
        counts.append(f"{net}_in_n")
        out = []
        events(in_spikes, in_size, f"{net}_in_ev", f"{net}_in_n", out)
        prev_ev, prev_n = f"{net}_in_ev", f"{net}_in_n"
        for i, name in enumerate(names):
            linear(name, prev_ev, prev_n, out)
            if i < len(names) - 1:
                n = cname(name)
                counts.append(f"{n}_n")
                events(f"{n}_spk", L(name)["out_shape"][0], f"{n}_ev", f"{n}_n", out)
                prev_ev, prev_n = f"{n}_ev", f"{n}_n"
        out.append(f"    fsvae::pick_latent<LATENT, K_SPIKES>({cname(names[-1])}_spk, rng, z);")
        return out

    body_gen = latent_net("prior", "z", C)
    image_conv = ""
    if reconstruction:
        e0 = L("encoder.0")
        cout0 = e0["out_shape"][0]
        counts.append("encoder_0_n")
        body_rec.append(f"    fsvae::lif_conv_image<{cout0}, {e0['out_shape'][1]}, {e0['out_shape'][2]}, encoder_0_P>"
                        "(encoder_0_cur, encoder_0_mem, encoder_0_spk, encoder_0_mem_t(encoder_0_THRESHOLD), first, "
                        "encoder_0_ev, encoder_0_n);")
        prev_ev, prev_n = "encoder_0_ev", "encoder_0_n"
        for name in hw.names("encoder")[1:-1]:
            n, layer = cname(name), L(name)
            counts.append(f"{n}_n")
            body_rec.append(f"    fsvae::lif_conv_events<{_conv_dims(layer)}, {n}_P>({prev_ev}, {prev_n}, {n}_weight, "
                            f"{n}_bias, {n}_acc, {n}_mem, {n}_spk, {n}_mem_t({n}_THRESHOLD), first, {n}_ev, {n}_n);")
            prev_ev, prev_n = f"{n}_ev", f"{n}_n"
        linear("encoder_fc", prev_ev, prev_n, body_rec)
        body_rec += ["    POSTERIOR_IN:", f"    for (int c = 0; c < {C}; ++c) {{", "#pragma HLS PIPELINE II=1",
                     "        posterior_in[c] = encoder_fc_spk[c];", f"        posterior_in[{C} + c] = z[c];", "    }"]
        body_rec += latent_net("posterior", "posterior_in", 2 * C)
        image_conv = (f"    fsvae::conv_image<{_conv_dims(e0)}, encoder_0_P>(image, encoder_0_weight, encoder_0_bias, "
                      "encoder_0_cur);")
    decl.append("static index_t " + ", ".join(counts) + ";")
    loads = []
    for m in mems:
        if m.storage == "load":
            rows, cout = m.dims
            loads.append(f"    fsvae::load_weight_memory<{rows}, {cout}, {m.lanes}, {m.bits}>"
                         f"(in_r, {m.name}, taken, progress);")
    streams = any(p.streamed for p in design.layers.values())
    src = (TEMPLATES / "fsvae_core.cpp.in").read_text()
    return (src.replace("@DDR_PARAM@", DDR_PARAM if streams else "")
               .replace("@DDR_ARG@", ", weights" if streams else "")
               .replace("@STATE@", "\n".join(decl))
               .replace("@DECODER_STEP@", "\n".join(body_dec))
               .replace("@PRIOR_STEP@", "\n".join(body_gen))
               .replace("@ENCODER_POSTERIOR_STEP@", "\n".join(body_rec))
               .replace("@IMAGE_CONV@", image_conv)
               .replace("@LOAD_WEIGHTS@", "\n".join(loads) or "    // no run-time weights")
               .replace("@STORAGE@", storage_pragmas(mems)))


def _status_bits(iface: dict) -> dict[str, int]:
    regs = {r["name"]: r for r in iface["control"]["registers"]}
    bits = regs["status"]["bits"]
    need = {"weights_loaded", "error_mode", "error_no_weights", "has_generate", "has_reconstruct", "has_load_weights"}
    if not need <= set(bits):
        raise CodegenError(f"hw/interface.yaml: status needs the bits {sorted(need)}")
    return bits


def _copy_library(fw: Path) -> None:
    lib = fw / "fsvae"
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir(parents=True)
    for f in LIBRARY:
        shutil.copy2(HLS_DIR / "fsvae" / f, lib / f)


def _generation_layout(hw: HwModel, board: dict) -> list[dict] | None:
    """The DDR layout of the generation design (codegen rtl's); None where it has none."""
    try:
        return ddr_weight_layout(describe(hw, board))
    except CodegenError:
        return None


def write_project(hw: HwModel, board_name: str, out_dir: str | Path, vectors_dir: str | Path | None = None,
                  identity: int | None = None, overrides: dict | None = None) -> dict:
    """Write the Vitis HLS project for ``hw`` on ``board_name`` into ``out_dir``.  ``identity``:
    the value of the identity register (hw/interface.yaml), by default the hardware model's
    (``hw.identity32``, as the RTL); ``overrides`` replaces board keys (tests: e.g. weight_memory).
    Test vectors (``vectors_dir``) made from any other hardware model are refused."""
    board = balance.resolve(hw, {**boards.board(board_name), **(overrides or {})})
    iface = boards.interface()
    if iface["pixels_per_word"] != 4 or any(st["tdata_bits"] != 32 for st in iface["streams"].values()):
        raise CodegenError("hw/interface.yaml: this generator implements 32-bit words of 4 pixels")
    if (hw.image_shape[1] * hw.image_shape[2]) % 4:
        raise CodegenError(f"image {list(hw.image_shape)}: H*W must be a multiple of 4 (4 pixels per word)")
    status_bits = _status_bits(iface)
    # reconstruction mode (encoder + posterior) only where the board has room for it too
    reconstruction = bool(board["reconstruction"])
    if reconstruction:
        try:
            fit_blocks(hw, board, True)
        except CodegenError:
            reconstruction = False
    mems, usage = fit_blocks(hw, board, reconstruction)
    load = weight_load_memories(hw, board, usage["loaded_layers"])
    load_words = sum(m["words"] for m in load)
    ddr = ddr_stream(describe(hw, board, reconstruction))
    regs, offsets = scalar_registers(iface, pointers=ddr is not None)
    modes = {r["name"]: r for r in regs}["mode"]["values"]
    pointer = next((r for r in regs if r.get("pointer")), None)
    if ddr is not None:
        port = iface.get("memory_ports", {}).get(pointer["pointer"] if pointer else "", {})
        if pointer is None or port.get("prefix") != f"m_axi_{pointer['pointer']}":
            raise CodegenError("hw/interface.yaml: a design that streams weights needs a pointer register (pointer: "
                               "<bundle>) and its memory port (memory_ports.<bundle>.prefix m_axi_<bundle>)")

    out_dir = Path(out_dir)
    fw = out_dir / "firmware"
    fw.mkdir(parents=True, exist_ok=True)
    (out_dir / "tb").mkdir(parents=True, exist_ok=True)
    _copy_library(fw)
    (fw / "parameters.h").write_text(parameters_h(hw, board, reconstruction, identity, load_words))
    (fw / "weights.h").write_text(weights_h(hw, mems))
    header = (TEMPLATES / "fsvae_core.h.in").read_text()
    subs = {"@MODE_GENERATE@": modes["generate"], "@MODE_RECONSTRUCT@": modes["reconstruct"],
            "@MODE_LOAD_WEIGHTS@": modes["load_weights"], "@PIXELS_PER_WORD@": iface["pixels_per_word"],
            "@TOP@": iface["top"], "@SCALAR_ARGS@": ", ".join(_arg(r) for r in regs),
            "@DDR_PARAM@": DDR_PARAM if ddr else ""}
    subs.update({f"@STATUS_{k.upper()}@": v for k, v in status_bits.items()})
    for key, value in subs.items():
        header = header.replace(key, str(value))
    (fw / "fsvae_core.h").write_text(header)
    (fw / "fsvae_core.cpp").write_text(core_cpp(hw, reconstruction, board, mems))
    bundle = iface["control"]["bundle"]
    pragmas = []
    for r in regs:
        if r.get("pointer"):
            # the weight rows' AXI4 master: read-only bursts of at most max_burst beats (AXI3 HP
            # ports of Zynq-7000: 16), the board's outstanding reads and memory latency, no
            # widening beyond the beat; depth: the image, for C/RTL co-simulation
            pragmas.append(f"#pragma HLS INTERFACE mode=m_axi port={r['name']} offset=slave bundle={r['pointer']} "
                           f"depth={ddr['words']} max_read_burst_length={ddr['max_burst']} "
                           f"num_read_outstanding={ddr['outstanding']} latency={ddr['latency']} "
                           f"max_widen_bitwidth={ddr['data_bits']} max_write_burst_length=2 num_write_outstanding=1")
        pragmas.append(f"#pragma HLS INTERFACE mode=s_axilite port={r['name']} bundle={bundle}")
    top = (TEMPLATES / "fsvae_top.cpp.in").read_text()
    top = (top.replace("@TOP@", iface["top"])
              .replace("@SCALAR_ARGS@", subs["@SCALAR_ARGS@"])
              .replace("@SCALAR_PRAGMAS@", "\n".join(pragmas))
              .replace("@REGISTER_MAP@", "\n".join(f"//   0x{offsets[r['name']]:02x} {r['name']} ({_register_note(r)})"
                                                   for r in regs))
              .replace("@CORE_DDR_ARG@", f", {pointer['name']}" if ddr else "")
              .replace("@BUNDLE@", bundle))
    (fw / "fsvae_top.cpp").write_text(top)

    tb = (TEMPLATES / "tb_fsvae.cpp.in").read_text().replace("@TOP@", iface["top"])
    dst = out_dir / "vectors"
    if vectors_dir is not None:
        index = json.loads((Path(vectors_dir) / "vectors.json").read_text())
        from fsvae_fpga.contract.vectors import check_model
        try:
            check_model(index, hw, vectors_dir)
        except ValueError as err:
            raise CodegenError(str(err)) from None
        if Path(vectors_dir).resolve() != dst.resolve():
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(vectors_dir, dst)
        tb = f"#define TB_N {index['n']}\n#define TB_SEED {index['seed']}u\n" + tb
    dst.mkdir(parents=True, exist_ok=True)
    blob = dst / "weights.bin"
    if load:
        from fsvae_fpga.codegen.rtl import write_weight_blob  # one writer of the blob for both back ends
        write_weight_blob(hw, board, load, blob)
    elif blob.exists():
        blob.unlink()
    image = dst / "ddr_weights.bin"          # the DDR weight image (design.ddr_weight_image, the RTL's)
    if ddr:
        data = ddr_weight_image(describe(hw, board, reconstruction))
        assert len(data) == ddr["bytes"]
        image.write_bytes(data)
    elif image.exists():
        image.unlink()
    (out_dir / "tb" / "tb_fsvae.cpp").write_text(tb)

    expected = " ".join(f"{r['name']} 0x{offsets[r['name']]:02x}" for r in regs)
    tcl = (TEMPLATES / "build_prj.tcl.in").read_text()
    for key, value in {"@BOARD@": board["name"], "@PART@": board["part"], "@CLOCK_MHZ@": str(board["clock_mhz"]),
                       "@PERIOD_NS@": f"{1000.0 / board['clock_mhz']:.3f}", "@RELEASE@": boards.vivado_release(),
                       "@TOP@": iface["top"], "@OFFSETS@": expected,
                       "@WIDTHS@": " ".join(f"{r['name']} {r.get('width', 32)}" for r in regs),
                       "@CONFIG@": ("# weight rows from DDR: 64-bit m_axi addresses, so that the offset register of "
                                    f"{pointer['name']} is 64 bits wide (hw/interface.yaml)\n"
                                    "config_interface -m_axi_addr64=true" if ddr else
                                    "# (no weight rows from DDR: the top has no m_axi port)")}.items():
        tcl = tcl.replace(key, value)
    (out_dir / "build_prj.tcl").write_text(tcl)

    table = [{"name": m.name, "layer": m.layer, "role": m.role, "storage": m.storage, "layout": m.layout,
              "impl": m.impl, "banks_depth_width": list(m.geometry()), **m.blocks()} for m in mems]
    (out_dir / "memory.json").write_text(json.dumps({"board": board["name"], "reconstruction": reconstruction,
                                                     "usage": usage, "arrays": table}, indent=1) + "\n")
    warnings = []
    outs = [r for r in regs if r["access"] == "r"]
    if len(outs) > 1 and outs[1]["offset"] - outs[0]["offset"] == 8:
        warnings.append("hw/interface.yaml places the read-only registers 8 bytes apart; the driver headers of "
                        "Vitis HLS 2020.2 and 2023.1 place output scalars 16 bytes apart (build_prj.tcl checks "
                        "the real layout after csynth)")
    if ddr and reconstruction and ddr["layers"] != _generation_layout(hw, board):
        warnings.append("the DDR weight image of this design (generation and reconstruction: "
                        f"{', '.join(m['layer'] for m in ddr['layers'])} streamed) is not codegen rtl's (generation "
                        "only): a driver must be given vectors/ddr_weights.bin and this layout, not the RTL's")
    stream = None
    if ddr:
        port = iface["memory_ports"][pointer["pointer"]]
        stream = {"image": "vectors/ddr_weights.bin", "bytes": ddr["bytes"], "align": 4096, "port": port["prefix"],
                  "data_bits": ddr["data_bits"], "addr_bits": ddr["addr_bits"], "max_burst": ddr["max_burst"],
                  "base_register": pointer["name"], "layers": ddr["layers"]}
    return {"out": str(out_dir), "board": board["name"], "reconstruction": reconstruction,
            "memory": {k: v for k, v in usage.items()},
            "weight_load": {"blob": "vectors/weights.bin", "memories": load, "words": load_words} if load else None,
            "weight_stream": stream, "warnings": warnings}
