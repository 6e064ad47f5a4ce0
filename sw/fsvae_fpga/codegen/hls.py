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
                            hw/interface.yaml, modes, status registers
    tb/tb_fsvae.cpp         C testbench on the golden test vectors (every mode)
    vectors/                the golden test vectors (fsvae-fpga vectors) and weights.bin, the
                            load_weights blob (the same bytes as codegen rtl's mem/weights.bin)
    memory.json             every on-chip array: layout, binding and block count
    build_prj.tcl           csim, csynth (+ register-offset check), cosim, IP export

Memories.  Every array is described once (hls_memory.py) and from that description the
writer renders its declaration and pragmas and counts its blocks by bank geometry.
Weights are ROMs in block RAM or LUTs (UltraRAM has no initial contents) unless the board
loads them at run time (hw/boards.yaml weight_memory.loadable_min_bits, the rule of the RTL
writer, ``rtl.loadable_layers``): those are RAMs in URAM or BRAM, written by mode
load_weights.  A design that does not fit the board's memory budget is refused.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from fsvae_fpga.codegen import boards
from fsvae_fpga.contract.hwmodel import HwModel
from fsvae_fpga.codegen.design import (CodegenError, clipped_pixel_thresholds, cname, describe, engine_bias,
                                       engine_weight, threshold_sum_bits, weight_load_memories)
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
INPUT_SLOT = 8
OUTPUT_SLOTS = (8, 16)


def scalar_registers(iface: dict) -> tuple[list[dict], dict[str, int]]:
    """The argument registers of hw/interface.yaml (in order) and the offsets Vitis gives them
    when the top's scalar arguments come in that order; CodegenError where the file's offsets
    are no such layout."""
    # pointer registers (weights_base) belong to the m_axi weight stream, which this
    # generator does not implement yet: the HLS top has no such argument
    regs = [r for r in iface["control"]["registers"] if r["offset"] >= 0x10 and not r.get("pointer")]
    for r in regs:
        if r.get("width", 32) != 32 or r["access"] not in ("rw", "w", "r"):
            raise CodegenError(f"hw/interface.yaml: register {r['name']}: this generator implements 32-bit "
                               "inputs (access rw) and outputs (access r)")
    outputs = [r for r in regs if r["access"] == "r"]
    if outputs and any(r["access"] != "r" for r in regs[regs.index(outputs[0]):]):
        raise CodegenError("hw/interface.yaml: the read-only registers must follow the written ones")
    for slot in OUTPUT_SLOTS:
        offsets, at = {}, 0x10
        for r in regs:
            offsets[r["name"]] = at
            at += slot if r["access"] == "r" else INPUT_SLOT
        if all(offsets[r["name"]] == r["offset"] for r in regs):
            return regs, offsets
    want = ", ".join(f"{r['name']} 0x{r['offset']:02x}" for r in regs)
    raise CodegenError(f"hw/interface.yaml: the offsets ({want}) are not the layout Vitis HLS gives the top's "
                       f"scalar arguments in this order (from 0x10: inputs every {INPUT_SLOT} bytes, outputs every "
                       f"{' or '.join(map(str, OUTPUT_SLOTS))})")


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
             f"#define FSVAE_WEIGHT_WORDS {load_words}", ""]
    for name, lp in describe(hw, board, reconstruction).layers.items():
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


def core_cpp(hw: HwModel, reconstruction: bool, board: dict, mems: list[Memory]) -> str:
    """The accelerator body: per image, step through T with every layer's state on chip."""
    L = hw.layer
    decl = [m.declaration() for m in mems if m.declared == "core"]
    body_dec, body_gen, body_rec = [], [], []
    counts = ["z_n", "fc_n"]

    def linear(name, in_events, in_count, out):
        n, layer = cname(name), L(name)
        out.append(f"    fsvae::lif_linear_step<{layer['in_shape'][0]}, {layer['out_shape'][0]}, {n}_P>"
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
    src = (TEMPLATES / "fsvae_core.cpp.in").read_text()
    return (src.replace("@STATE@", "\n".join(decl))
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


def write_project(hw: HwModel, board_name: str, out_dir: str | Path, vectors_dir: str | Path | None = None,
                  identity: int | None = None, overrides: dict | None = None) -> dict:
    """Write the Vitis HLS project for ``hw`` on ``board_name`` into ``out_dir``.  ``identity``:
    the value of the identity register (hw/interface.yaml), by default the hardware model's
    (``hw.identity32``, as the RTL); ``overrides`` replaces board keys (tests: e.g. weight_memory).
    Test vectors (``vectors_dir``) made from any other hardware model are refused."""
    board = {**boards.board(board_name), **(overrides or {})}
    iface = boards.interface()
    if iface["pixels_per_word"] != 4 or any(st["tdata_bits"] != 32 for st in iface["streams"].values()):
        raise CodegenError("hw/interface.yaml: this generator implements 32-bit words of 4 pixels")
    if (hw.image_shape[1] * hw.image_shape[2]) % 4:
        raise CodegenError(f"image {list(hw.image_shape)}: H*W must be a multiple of 4 (4 pixels per word)")
    regs, offsets = scalar_registers(iface)
    status_bits = _status_bits(iface)
    modes = {r["name"]: r for r in regs}["mode"]["values"]
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
            "@TOP@": iface["top"],
            "@SCALAR_ARGS@": ", ".join(f"ap_uint<32> {'&' if r['access'] == 'r' else ''}{r['name']}" for r in regs)}
    subs.update({f"@STATUS_{k.upper()}@": v for k, v in status_bits.items()})
    for key, value in subs.items():
        header = header.replace(key, str(value))
    (fw / "fsvae_core.h").write_text(header)
    (fw / "fsvae_core.cpp").write_text(core_cpp(hw, reconstruction, board, mems))
    bundle = iface["control"]["bundle"]
    top = (TEMPLATES / "fsvae_top.cpp.in").read_text()
    top = (top.replace("@TOP@", iface["top"])
              .replace("@SCALAR_ARGS@", subs["@SCALAR_ARGS@"])
              .replace("@SCALAR_PRAGMAS@", "\n".join(f"#pragma HLS INTERFACE mode=s_axilite port={r['name']} "
                                                       f"bundle={bundle}" for r in regs))
              .replace("@REGISTER_MAP@", "\n".join(f"//   0x{offsets[r['name']]:02x} {r['name']} ({'read-only' if r['access'] == 'r' else 'written by the host'})"
                                                   for r in regs))
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
    (out_dir / "tb" / "tb_fsvae.cpp").write_text(tb)

    expected = " ".join(f"{r['name']} 0x{offsets[r['name']]:02x}" for r in regs)
    tcl = (TEMPLATES / "build_prj.tcl.in").read_text()
    for key, value in {"@BOARD@": board["name"], "@PART@": board["part"], "@CLOCK_MHZ@": str(board["clock_mhz"]),
                       "@PERIOD_NS@": f"{1000.0 / board['clock_mhz']:.3f}", "@RELEASE@": boards.vivado_release(),
                       "@TOP@": iface["top"], "@OFFSETS@": expected}.items():
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
    return {"out": str(out_dir), "board": board["name"], "reconstruction": reconstruction,
            "memory": {k: v for k, v in usage.items()},
            "weight_load": {"blob": "vectors/weights.bin", "memories": load, "words": load_words} if load else None,
            "warnings": warnings}
