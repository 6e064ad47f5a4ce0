"""Cycle counts per image implied by the HLS engines' loop structure (trip counts x II = 1).

Per layer and image, with G = COUT / P, NPOS output positions, E input events summed over
the T steps (measured by the golden model, stats.py), E2 the same events taken two at a time,
ceil(E_t / 2) summed over the steps (stats.py input_pairs), and d ~ 3 cycles of pipeline depth
per loop and step:

* linear (lif_linear_step + spikes_to_events of its input): T (IN + 2G + 4d) + E G
* linear with event pairs (lif_linear_step_pairs):          T (IN + 2G + 4d + 2) + E2 G
* transposed conv (lif_conv_transpose):                      T (NPOS G + 2d) + E K^2 G + NPOS G
* encoder conv, events (lif_conv_events):                    T (NPOS G + 2d) + E ceil(K/S)^2 G + NPOS G
* encoder conv, image (conv_image once, lif_conv_image):     NPOS G CIN K^2 + T (NPOS G + d)
* output layer (conv_transpose_currents + accumulate):       T (2 NPOS G + 2d) + E K^2 G
* sampler: C (seeding) + C (z_{-1} = 0) + T C (pick); image out: NPIX / 4 words (4 pixels
  a cycle: out_sum in 4 banks, the threshold table partitioned completely)
* load_weights (once after power-up, where weights are loaded at run time): one cycle per
  blob word (``load_cycles``)

These are estimates from the code, not Vitis HLS reports: they assume II = 1 holds (see
the engines' comments for when it may not) and that layers run one after another.

``output_sum_cycles``: the RTL's output stage, which computes the output layer by exact
algebra (fsvae_output_sum), unlike the HLS core.
"""
from __future__ import annotations

import math

from fsvae_fpga.contract.hwmodel import HwModel
from fsvae_fpga.codegen.design import Design, describe

DEPTH = 3


def layer_cycles(design: Design, name: str, events: float, pairs: float | None = None) -> float:
    """Cycles of a layer per image for its input events (and, where its plan scatters them in
    pairs, its input pairs: stats.py input_pairs)."""
    hw, lp = design.hw, design.plan(name)
    layer, T = hw.layer(name), hw.T
    G = lp.cout // lp.lanes
    if layer["kind"] == "linear":
        fixed = T * (layer["in_shape"][0] + 2 * G + 4 * DEPTH)
        if lp.event_pairs:
            if pairs is None:
                raise ValueError(f"{name} scatters its events in pairs: its input pairs per image are needed")
            return fixed + T * 2 + pairs * G           # 2: the first pair's two event reads
        return fixed + events * G
    npos = layer["out_shape"][1] * layer["out_shape"][2]
    K, S = layer["kernel_size"], layer["stride"]
    if layer["input"] == "image":
        return npos * G * layer["in_shape"][0] * K * K + T * (npos * G + DEPTH)
    if name == "output":
        return T * (2 * npos * G + 2 * DEPTH) + events * K * K * G
    taps = K * K if layer["kind"] == "convT" else math.ceil(K / S) ** 2
    return T * (npos * G + 2 * DEPTH) + events * taps * G + npos * G


def output_sum_cycles(T: int, words: int, pixels: int, kernel: int, groups: int) -> int:
    """The RTL output stage (hw/rtl/fsvae_output_sum.sv, its header; its bench checks it): busy
    cycles per image without stalls, one per mask word of every step, the last write-back, one
    per (pixel, tap, channel group), then 14 pipeline stages."""
    return T * words + 1 + pixels * kernel * kernel * groups + 14


def image_cycles(hw: HwModel, board: dict, rows: list[dict], reconstruction: bool = False) -> dict:
    """rows: stats.layer_stats for one mode; returns per-layer and total cycles per image."""
    design = describe(hw, board, reconstruction)
    board = design.board
    per_layer = {r["layer"]: layer_cycles(design, r["layer"], r["input_events"] or 0.0, r.get("input_pairs"))
                 for r in rows}
    npix = hw.image_shape[0] * hw.image_shape[1] * hw.image_shape[2]
    per_layer["sampler"] = hw.C * (2 + hw.T)
    per_layer["image io"] = npix / 4
    total = sum(per_layer.values())
    return {"per_layer": per_layer, "total": total, "images_per_s": board["clock_mhz"] * 1e6 / total}


def load_cycles(words: int) -> int:
    """Cycles of a load_weights run: one 32-bit blob word a cycle (fsvae/weight_load.h), plus
    a pipeline depth per memory, which this leaves out."""
    return words


def dense_tile_iterations(in_hw: tuple[int, int, int], kernel: int, stride: int, padding: int,
                          output_padding: int, tiles: int = 1) -> list[int]:
    """fsvae_convt_dense: iterations per (output row, column tile), in order: CIN x the kernel
    rows that reach the row (kh with oh + PAD - kh = ih*S, 0 <= ih < IH), or 1 (bias alone)
    where none does."""
    cin, ih, _ = in_hw
    oh = (ih - 1) * stride - 2 * padding + kernel + output_padding
    out = []
    for o in range(oh):
        reach = sum(1 for k in range(kernel)
                    if (v := o + padding - k) >= 0 and v % stride == 0 and v // stride < ih)
        out += [cin * reach if reach else 1] * tiles
    return out


def dense_step_cycles(in_hw: tuple[int, int, int], cout: int, kernel: int, stride: int, padding: int,
                      output_padding: int, lanes: int, in_lanes: int, tiles: int = 1) -> int:
    """fsvae_convt_dense: busy cycles of one step without idle or backpressure (its header's
    schedule; its bench checks the RTL against its own model of it): the input's mask words
    (CIN/in_lanes a pixel), then one iteration a cycle, a tile's last held while the drain
    (OW/tiles*COUT/lanes words, one a cycle) is not empty or is about to be loaded, then the
    last tile's drain."""
    cin, ih, iw = in_hw
    ow = (iw - 1) * stride - 2 * padding + kernel + output_padding
    ndr = ow // tiles * cout // lanes
    units = dense_tile_iterations(in_hw, kernel, stride, padding, output_padding, tiles)
    its = [(r == len(units) - 1, i == n - 1) for r, n in enumerate(units) for i in range(n)]
    i, v1_last, v1_final, dr_left, dr_final = 0, False, False, 0, False
    cycles = ih * iw * cin // in_lanes
    while True:
        cycles += 1
        issue = i < len(its) and (not its[i][1] or (dr_left == 0 and not v1_last))
        if dr_left == 1 and dr_final:
            return cycles
        load, load_final = v1_last, v1_final
        v1_last, v1_final = (its[i][1], its[i][0] and its[i][1]) if issue else (False, False)
        i += issue
        if load:
            dr_left, dr_final = ndr, load_final
        elif dr_left:
            dr_left -= 1
