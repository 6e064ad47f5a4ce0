"""Vitis HLS project writer: fills hls/templates with one hardware model and one board.

Generated project layout (``fsvae-fpga codegen hls --out DIR``)::

    firmware/parameters.h   per-layer shapes, ap_int widths (from the bound analysis), lanes P,
                            thresholds, output decay coefficients and pixel thresholds
    firmware/weights.h      integer weights and biases in the engines' layouts
    firmware/fsvae_core.h   core interface (word streams), constants of hw/interface.yaml
    firmware/fsvae_core.cpp the accelerator: generation (and reconstruction) built from the
                            engine library in hls/fsvae/
    firmware/fsvae_top.cpp  AXI4-Stream + s_axi_control wrapper (Vitis only)
    tb/tb_fsvae.cpp         C testbench on the golden test vectors
    vectors/                the golden test vectors (fsvae-fpga vectors)
    build_prj.tcl           csim, csynth, cosim, IP export for the board's part and clock
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from .. import boards
from ..hwmodel import HwModel, signed_bits

HLS_DIR = Path(__file__).resolve().parents[3] / "hls"
TEMPLATES = HLS_DIR / "templates"


class CodegenError(ValueError):
    pass


def cname(layer_name: str) -> str:
    return layer_name.replace(".", "_")


def lanes(board: dict, cout: int) -> int:
    """P for a layer: the board's lane count, reduced to divide the layer's output width."""
    return math.gcd(board["lanes"], cout)


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


def engine_bias(hw: HwModel, name: str) -> np.ndarray:
    b = hw.biases[name].astype(np.int64)
    if name == "decoder_fc":
        c, h, x = hw.layer("decoder.0")["in_shape"]
        b = b.reshape(c, h, x).transpose(1, 2, 0).reshape(-1)
    return b


# --- memory budget ---------------------------------------------------------------------------
def memory_bits(hw: HwModel, board: dict, reconstruction: bool) -> dict[str, int]:
    """On-chip bits: weights and biases, plus accumulator, membrane and spike state."""
    used = {"weights": 0, "state": 0}
    for layer in hw.desc["layers"]:
        if layer["group"] in ("encoder", "posterior") and not reconstruction:
            continue
        name = layer["name"]
        used["weights"] += hw.weights[name].size * layer["weight"]["bits"] + hw.biases[name].size * layer["bias"]["bits"]
        n = int(np.prod(layer["out_shape"]))
        used["state"] += n * (layer["current_bits"] + layer.get("membrane_bits", 0) + 1)
    return used


def check_fits(hw: HwModel, board: dict, reconstruction: bool) -> dict:
    used = memory_bits(hw, board, reconstruction)
    budget = int(boards.onchip_bits(board) * board["memory_budget"])
    total = sum(used.values())
    if total > budget:
        raise CodegenError(
            f"the model needs {total / 8 / 1024:.0f} KiB of on-chip memory on {board['name']} "
            f"(weights {used['weights'] / 8 / 1024:.0f} KiB, state {used['state'] / 8 / 1024:.0f} KiB) but the "
            f"budget is {budget / 8 / 1024:.0f} KiB ({board['memory_budget']:.0%} of BRAM/URAM): over by "
            f"{(total - budget) / 8 / 1024:.0f} KiB.  Use a smaller configuration (configs/small.yaml) or a "
            f"larger board; weight streaming from DDR is not implemented")
    return {"used_bits": total, "budget_bits": budget, **used}


# --- generated sources -----------------------------------------------------------------------
def _array(values: np.ndarray) -> str:
    if values.ndim == 1:
        return "{" + ", ".join(str(int(v)) for v in values) + "}"
    return "{\n" + ",\n".join("    " + _array(row) for row in values) + "\n}"


def _types(layer: dict) -> dict[str, int]:
    """ap_int widths: the bound analysis, widened so that the threshold is representable."""
    acc = layer["current_bits"]
    mem = layer.get("membrane_bits", acc)
    if layer.get("spiking"):
        t = signed_bits(layer["threshold"], layer["threshold"])
        acc, mem = max(acc, t), max(mem, t)
    return {"w": layer["weight"]["bits"], "b": layer["bias"]["bits"], "acc": acc, "mem": mem}


def _c_int(bits: int) -> str:
    return {8: "signed char", 16: "short", 32: "int"}.get(bits, f"ap_int<{bits}>")


def parameters_h(hw: HwModel, board: dict, reconstruction: bool) -> str:
    out = hw.desc["output"]
    lines = ["// Generated by fsvae-fpga codegen hls: do not edit.", "#ifndef FSVAE_PARAMETERS_H",
             "#define FSVAE_PARAMETERS_H", '#include "fsvae/types.h"', '#include "fsvae/membrane_output.h"',
             "using fsvae::spike_t;", "using fsvae::index_t;", "using fsvae::coef_t;", "",
             f"// board {board['name']}: {board['part']} at {board['clock_mhz']} MHz, lanes {board['lanes']}",
             f"static const int T_STEPS = {hw.T};", f"static const int LATENT = {hw.C};",
             f"static const int K_SPIKES = {hw.k};",
             f"static const int IMG_C = {hw.image_shape[0]}, IMG_H = {hw.image_shape[1]}, IMG_W = {hw.image_shape[2]};",
             "static const int NPIX = IMG_C * IMG_H * IMG_W;",
             f"#define FSVAE_RECONSTRUCTION {int(reconstruction)}", ""]
    for layer in hw.desc["layers"]:
        if layer["group"] in ("encoder", "posterior") and not reconstruction:
            continue
        n, t = cname(layer["name"]), _types(layer)
        lines.append(f"// {layer['name']}: {layer['kind']} {layer['in_shape']} -> {layer['out_shape']}, "
                     f"current {layer['current_range']}, membrane {layer.get('membrane_range', '-')}")
        # 8/16/32-bit constants as plain C integers: identical in hardware, and the
        # initialisers of a 2-million-weight model then compile in seconds (ap_int
        # constructors would need dynamic initialisation code per element).
        lines.append(f"typedef {_c_int(t['w'])} {n}_w_t;")
        lines.append(f"typedef {_c_int(t['b'])} {n}_b_t;")
        lines.append(f"typedef ap_int<{t['acc']}> {n}_acc_t;")
        lines.append(f"typedef ap_int<{t['mem']}> {n}_mem_t;")
        cout = layer["out_shape"][0]
        lines.append(f"static const int {n}_P = {lanes(board, cout)};")
        if layer.get("spiking"):
            lines.append(f"static const int {n}_THRESHOLD = {layer['threshold']};")
        lines.append("")
    srange = out["sum_range"]
    thr = np.clip(np.asarray(out["pixel_thresholds"], dtype=np.int64), srange[0], srange[1] + 1)
    sum_bits = signed_bits(srange[0], srange[1] + 1)
    lines += [f"typedef ap_int<{sum_bits}> out_sum_t;   // membrane-output sum, {out['sum_range']}",
              f"static const coef_t OUTPUT_COEF[T_STEPS] = {_array(np.asarray(out['decay_coefficients']))};",
              "// pixel thresholds, clamped to the sum range (same pixels: outside it they never or always hold)",
              f"static const out_sum_t PIXEL_THRESHOLDS[255] = {_array(thr)};", "", "#endif"]
    return "\n".join(lines) + "\n"


def weights_h(hw: HwModel, reconstruction: bool) -> str:
    lines = ["// Generated by fsvae-fpga codegen hls: do not edit.", "#ifndef FSVAE_WEIGHTS_H",
             "#define FSVAE_WEIGHTS_H", '#include "parameters.h"', ""]
    for layer in hw.desc["layers"]:
        if layer["group"] in ("encoder", "posterior") and not reconstruction:
            continue
        n = cname(layer["name"])
        w, b = engine_weight(hw, layer["name"]), engine_bias(hw, layer["name"])
        lines.append(f"static const {n}_w_t {n}_weight[{w.shape[0]}][{w.shape[1]}] = {_array(w)};")
        lines.append(f"static const {n}_b_t {n}_bias[{b.shape[0]}] = {_array(b)};")
        lines.append("")
    lines.append("#endif")
    return "\n".join(lines) + "\n"


def _conv_dims(layer: dict) -> str:
    cin, ih, iw = layer["in_shape"]
    cout = layer["out_shape"][0]
    return f"{cin}, {cout}, {ih}, {iw}, {layer['kernel_size']}, {layer['stride']}, {layer['padding']}"


def storage_pragmas(hw: HwModel, board: dict, reconstruction: bool) -> str:
    """Weights: ROMs split into P banks (one event reads P weights a cycle), in URAM when the
    board has it and the array is large, else BRAM."""
    lines = []
    for layer in hw.desc["layers"]:
        if layer["group"] in ("encoder", "posterior") and not reconstruction:
            continue
        n = cname(layer["name"])
        p = lanes(board, layer["out_shape"][0])
        bits = hw.weights[layer["name"]].size * layer["weight"]["bits"]
        impl = "uram" if board["resources"]["uram"] and bits >= 4 * 288 * 1024 else "bram"
        lines.append(f"#pragma HLS BIND_STORAGE variable={n}_weight type=rom_2p impl={impl}")
        if p > 1:
            lines.append(f"#pragma HLS ARRAY_PARTITION variable={n}_weight type=cyclic factor={p} dim=2")
    return "\n".join(lines)


def core_cpp(hw: HwModel, reconstruction: bool, board: dict) -> str:
    """The accelerator body: per image, step through T with every layer's state on chip."""
    L = hw.layer
    decl, body_dec, body_gen, body_rec = [], [], [], []

    def state(name, spiking=True):
        n, layer = cname(name), L(name)
        cout = layer["out_shape"][0]
        npos = int(np.prod(layer["out_shape"][1:])) if len(layer["out_shape"]) == 3 else 0
        if layer["kind"] == "linear":
            decl.append(f"static {n}_mem_t {n}_mem[{cout}];")
            decl.append(f"static spike_t {n}_spk[{cout}];")
        else:
            decl.append(f"static {n}_acc_t {n}_acc[{npos}][{cout}];")
            if spiking:
                decl.append(f"static {n}_mem_t {n}_mem[{npos}][{cout}];")
                decl.append(f"static spike_t {n}_spk[{npos}][{cout}];")
                decl.append(f"static index_t {n}_ev[{npos * cout}];")
                decl.append(f"static index_t {n}_n;")

    def linear(name, in_events, in_count, out):
        n, layer = cname(name), L(name)
        out.append(f"    fsvae::lif_linear_step<{layer['in_shape'][0]}, {layer['out_shape'][0]}, {n}_P>"
                   f"({in_events}, {in_count}, {n}_weight, {n}_bias, {n}_mem, {n}_spk, "
                   f"{n}_acc_t({n}_THRESHOLD), first);")

    def events(spikes, size, ev, cnt, out):
        out.append(f"    fsvae::spikes_to_events<{size}>({spikes}, {ev}, {cnt});")

    # decoder, shared by both modes: z -> decoder_fc -> decoder.* -> output currents -> sum
    for name in ["decoder_fc"] + hw.names("decoder")[1:]:
        state(name)
    state("output", spiking=False)
    C, F = hw.C, L("decoder_fc")["out_shape"][0]
    decl += [f"static index_t z_ev[{C}];", "static index_t z_n;", f"static index_t fc_ev[{F}];", "static index_t fc_n;"]
    events("z", C, "z_ev", "z_n", body_dec)
    linear("decoder_fc", "z_ev", "z_n", body_dec)
    events("decoder_fc_spk", F, "fc_ev", "fc_n", body_dec)
    prev_ev, prev_n = "fc_ev", "fc_n"
    for name in hw.names("decoder")[1:]:
        n, layer = cname(name), L(name)
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
    decl.append(f"static out_sum_t out_sum[{npos_out}][IMG_C];")

    def latent_net(net, in_spikes, in_size):
        names = hw.names(net)
        decl.append(f"static index_t {net}_in_ev[{in_size}];")
        decl.append(f"static index_t {net}_in_n;")
        out = []
        events(in_spikes, in_size, f"{net}_in_ev", f"{net}_in_n", out)
        prev_ev, prev_n = f"{net}_in_ev", f"{net}_in_n"
        for i, name in enumerate(names):
            state(name)
            linear(name, prev_ev, prev_n, out)
            if i < len(names) - 1:
                size = L(name)["out_shape"][0]
                decl.append(f"static index_t {cname(name)}_ev[{size}];")
                decl.append(f"static index_t {cname(name)}_n;")
                events(f"{cname(name)}_spk", size, f"{cname(name)}_ev", f"{cname(name)}_n", out)
                prev_ev, prev_n = f"{cname(name)}_ev", f"{cname(name)}_n"
        out.append(f"    fsvae::pick_latent<LATENT, K_SPIKES>({cname(names[-1])}_spk, rng, z);")
        return out

    body_gen = latent_net("prior", "z", C)
    if reconstruction:
        e0 = L("encoder.0")
        cin, ih, iw = e0["in_shape"]
        cout0 = e0["out_shape"][0]
        npos0 = e0["out_shape"][1] * e0["out_shape"][2]
        decl += [f"static encoder_0_acc_t encoder_0_cur[{npos0}][{cout0}];",
                 f"static encoder_0_mem_t encoder_0_mem[{npos0}][{cout0}];",
                 f"static spike_t encoder_0_spk[{npos0}][{cout0}];",
                 f"static index_t encoder_0_ev[{npos0 * cout0}];", "static index_t encoder_0_n;",
                 f"static ap_int<8> image[{ih * iw}][{cin}];", f"static spike_t posterior_in[{2 * C}];"]
        body_rec.append(f"    fsvae::lif_conv_image<{cout0}, {e0['out_shape'][1]}, {e0['out_shape'][2]}, encoder_0_P>"
                        "(encoder_0_cur, encoder_0_mem, encoder_0_spk, encoder_0_mem_t(encoder_0_THRESHOLD), first, "
                        "encoder_0_ev, encoder_0_n);")
        prev_ev, prev_n = "encoder_0_ev", "encoder_0_n"
        for name in hw.names("encoder")[1:-1]:
            n, layer = cname(name), L(name)
            state(name)
            body_rec.append(f"    fsvae::lif_conv_events<{_conv_dims(layer)}, {n}_P>({prev_ev}, {prev_n}, {n}_weight, "
                            f"{n}_bias, {n}_acc, {n}_mem, {n}_spk, {n}_mem_t({n}_THRESHOLD), first, {n}_ev, {n}_n);")
            prev_ev, prev_n = f"{n}_ev", f"{n}_n"
        state("encoder_fc")
        linear("encoder_fc", prev_ev, prev_n, body_rec)
        body_rec += ["    POSTERIOR_IN:", f"    for (int c = 0; c < {C}; ++c) {{", "#pragma HLS PIPELINE II=1",
                     "        posterior_in[c] = encoder_fc_spk[c];", f"        posterior_in[{C} + c] = z[c];", "    }"]
        body_rec += latent_net("posterior", "posterior_in", 2 * C)
        image_conv = (f"    fsvae::conv_image<{_conv_dims(e0)}, encoder_0_P>(image, encoder_0_weight, encoder_0_bias, "
                      "encoder_0_cur);")
    src = (TEMPLATES / "fsvae_core.cpp.in").read_text()
    return (src.replace("@STATE@", "\n".join(decl))
               .replace("@DECODER_STEP@", "\n".join(body_dec))
               .replace("@PRIOR_STEP@", "\n".join(body_gen))
               .replace("@ENCODER_POSTERIOR_STEP@", "\n".join(body_rec) if reconstruction else "")
               .replace("@IMAGE_CONV@", image_conv if reconstruction else "")
               .replace("@OUT_NPOS@", str(npos_out))
               .replace("@STORAGE@", storage_pragmas(hw, board, reconstruction)))


def write_project(hw: HwModel, board_name: str, out_dir: str | Path, vectors_dir: str | Path | None = None) -> dict:
    board = boards.board(board_name)
    # reconstruction mode (encoder + posterior) only where the board has room for it too
    reconstruction = bool(board["reconstruction"])
    if reconstruction:
        try:
            check_fits(hw, board, True)
        except CodegenError:
            reconstruction = False
    fit = check_fits(hw, board, reconstruction)
    out_dir = Path(out_dir)
    (out_dir / "firmware").mkdir(parents=True, exist_ok=True)
    (out_dir / "tb").mkdir(parents=True, exist_ok=True)
    fw = out_dir / "firmware"
    (fw / "parameters.h").write_text(parameters_h(hw, board, reconstruction))
    (fw / "weights.h").write_text(weights_h(hw, reconstruction))
    iface = boards.interface()
    regs = [r for r in iface["control"]["registers"] if r["offset"] >= 0x10]
    if [r["offset"] for r in regs] != [0x10 + 8 * i for i in range(len(regs))]:
        raise CodegenError("hw/interface.yaml: argument registers must sit at 0x10, 0x18, ... in order")
    if iface["pixels_per_word"] != 4 or any(st["tdata_bits"] != 32 for st in iface["streams"].values()):
        raise CodegenError("hw/interface.yaml: this generator implements 32-bit words of 4 pixels")
    modes = {r["name"]: r for r in regs}["mode"]["values"]
    header = (TEMPLATES / "fsvae_core.h.in").read_text()
    for key, value in {"@MODE_GENERATE@": modes["generate"], "@MODE_RECONSTRUCT@": modes["reconstruct"],
                       "@PIXELS_PER_WORD@": iface["pixels_per_word"]}.items():
        header = header.replace(key, str(value))
    (fw / "fsvae_core.h").write_text(header)
    (fw / "fsvae_core.cpp").write_text(core_cpp(hw, reconstruction, board))
    top = (TEMPLATES / "fsvae_top.cpp.in").read_text()
    bundle = iface["control"]["bundle"]
    top = (top.replace("@TOP@", iface["top"])
              .replace("@SCALAR_ARGS@", ", ".join(f"ap_uint<{r['width']}> {r['name']}" for r in regs))
              .replace("@SCALAR_PRAGMAS@", "\n".join(f"#pragma HLS INTERFACE mode=s_axilite port={r['name']} "
                                                       f"bundle={bundle}" for r in regs))
              .replace("@BUNDLE@", bundle))
    (fw / "fsvae_top.cpp").write_text(top)
    tb = (TEMPLATES / "tb_fsvae.cpp.in").read_text()
    if vectors_dir is not None:
        import json
        index = json.loads((Path(vectors_dir) / "vectors.json").read_text())
        if index["image_shape"] != list(hw.image_shape):
            raise CodegenError("test vectors were made for another model (image shape differs)")
        dst = out_dir / "vectors"
        if Path(vectors_dir).resolve() != dst.resolve():
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(vectors_dir, dst)
        tb = f"#define TB_N {index['n']}\n#define TB_SEED {index['seed']}u\n" + tb
    (out_dir / "tb" / "tb_fsvae.cpp").write_text(tb)
    tcl = (TEMPLATES / "build_prj.tcl.in").read_text()
    for key, value in {"@BOARD@": board["name"], "@PART@": board["part"], "@CLOCK_MHZ@": str(board["clock_mhz"]),
                       "@PERIOD_NS@": f"{1000.0 / board['clock_mhz']:.3f}", "@RELEASE@": boards.vivado_release(),
                       "@HLS_LIB@": str(HLS_DIR)}.items():
        tcl = tcl.replace(key, value)
    (out_dir / "build_prj.tcl").write_text(tcl)
    return {"out": str(out_dir), "board": board["name"], "reconstruction": reconstruction, "memory": fit}
