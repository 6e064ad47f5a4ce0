"""Event statistics per layer: what an event-driven engine must do for one image.

Per layer and pass (generation, reconstruction):

* weights
* dense synaptic operations per image: MACs of the same layer computed densely over T
  (encoder.0 once, since its input image is constant)
* input spike rate and input events per image (events = input spikes summed over T); input
  pairs per image: each step's events taken two at a time, ceil(E_t / 2) summed over T (the
  scatters of a linear engine with event pairs, LayerPlan.event_pairs)
* event-driven accumulates per image: for each input event, the number of outputs it
  reaches; for convolutions only taps that land inside the output are counted
* neuron updates per image: output neurons x T (membrane leak/fire steps)

These counts are the lower bound the hardware's cycle counts are compared with.
"""
from __future__ import annotations

import numpy as np

from fsvae_fpga.contract import golden
from fsvae_fpga.contract.hwmodel import HwModel


def _reach_map(layer: dict) -> np.ndarray:
    """(H_in, W_in): how many output positions one input position reaches (per out channel)."""
    _, h, w = layer["in_shape"]
    _, ho, wo = layer["out_shape"]
    K, s, p = layer["kernel_size"], layer["stride"], layer["padding"]
    reach = np.zeros((h, w), dtype=np.int64)
    for ih in range(h):
        for iw in range(w):
            if layer["kind"] == "convT":
                rows = sum(0 <= ih * s - p + kh < ho for kh in range(K))
                cols = sum(0 <= iw * s - p + kw < wo for kw in range(K))
            else:  # conv: outputs (oh, ow) with oh*s - p + kh == ih
                rows = sum(0 <= (ih + p - kh) // s < ho and (ih + p - kh) % s == 0 for kh in range(K))
                cols = sum(0 <= (iw + p - kw) // s < wo and (iw + p - kw) % s == 0 for kw in range(K))
            reach[ih, iw] = rows * cols
    return reach


def _dense_ops(layer: dict, T: int) -> int:
    i, o = layer["in_shape"], layer["out_shape"]
    if layer["kind"] == "linear":
        per_step = i[0] * o[0]
    elif layer["kind"] == "conv":
        per_step = o[1] * o[2] * o[0] * i[0] * layer["kernel_size"] ** 2
    else:
        per_step = i[1] * i[2] * i[0] * o[0] * layer["kernel_size"] ** 2
    return per_step * (1 if layer["input"] == "image" else T)


def _inputs_of(trace: dict, hw: HwModel, name: str, n: int) -> np.ndarray | None:
    """Input spikes (T, n, ...) of a layer, from the trace of what feeds it."""
    names = [layer["name"] for layer in hw.desc["layers"]]
    if name == "encoder.0":
        return None
    z = trace["latent"]["spikes"]
    z_prev = np.concatenate([np.zeros_like(z[:1]), z[:-1]])          # z_{t-1}, z_{-1} = 0
    if name == "posterior.0":
        return np.concatenate([trace["encoder_fc"]["spikes"], z_prev], axis=2)
    if name == "prior.0":
        return z_prev
    if name == "decoder_fc":
        return z
    prev = names[names.index(name) - 1]
    return trace[prev]["spikes"]


def layer_stats(hw: HwModel, mode: str, n: int, seed: int, images_int8: np.ndarray | None = None) -> list[dict]:
    trace: dict = {}
    if mode == "generate":
        golden.generate(hw, n, seed, trace=trace)
    else:
        golden.reconstruct(hw, images_int8[:n], seed, trace=trace)
    names = hw.mode_layers(mode)
    rows = []
    for name in names:
        layer = hw.layer(name)
        out_neurons = int(np.prod(layer["out_shape"]))
        x = _inputs_of(trace, hw, name, n)
        row = {"layer": name, "kind": layer["kind"], "weights": int(hw.weights[name].size),
               "dense_ops": _dense_ops(layer, hw.T),
               "neuron_updates": out_neurons * hw.T if layer["spiking"] else 0}
        if x is None:   # the image layer: dense, once
            row.update(input_rate=None, input_events=None, input_pairs=None, event_accumulates=row["dense_ops"])
        else:
            per_step = x.reshape(x.shape[0], n, -1).sum(axis=2)            # (T, n) events
            events = per_step.sum(axis=0).mean()
            pairs = ((per_step + 1) // 2).sum(axis=0).mean()
            row.update(input_rate=float(x.mean()), input_events=float(events), input_pairs=float(pairs))
            if layer["kind"] == "linear":
                acc = events * layer["out_shape"][0]
            else:   # channel-last spikes (T, n, H, W, C): events per position x reach
                if x.ndim == 3:   # decoder_fc output, flat in (C, H, W) order
                    x = x.reshape(x.shape[0], n, *layer["in_shape"]).transpose(0, 1, 3, 4, 2)
                per_pos = x.sum(axis=(0, 4)).mean(axis=0)
                acc = float((per_pos * _reach_map(layer)).sum()) * layer["out_shape"][0]
            row["event_accumulates"] = float(acc)
        rows.append(row)
    return rows


def totals(rows: list[dict]) -> dict:
    return {k: sum(r[k] for r in rows) for k in ("weights", "dense_ops", "event_accumulates", "neuron_updates")}


def format_table(rows: list[dict], title: str) -> str:
    head = f"{'layer':<13}{'kind':<7}{'weights':>10}{'dense ops':>14}{'in rate':>9}{'in events':>11}{'event acc':>14}{'neuron upd':>12}"
    lines = [title, head, "-" * len(head)]
    for r in rows:
        rate = "-" if r["input_rate"] is None else f"{100 * r['input_rate']:.1f}%"
        ev = "-" if r["input_events"] is None else f"{r['input_events']:.0f}"
        lines.append(f"{r['layer']:<13}{r['kind']:<7}{r['weights']:>10,}{r['dense_ops']:>14,}{rate:>9}{ev:>11}"
                     f"{r['event_accumulates']:>14,.0f}{r['neuron_updates']:>12,}")
    t = totals(rows)
    lines.append(f"{'total':<20}{t['weights']:>10,}{t['dense_ops']:>14,}{'':>20}{t['event_accumulates']:>14,.0f}"
                 f"{t['neuron_updates']:>12,}")
    return "\n".join(lines)
