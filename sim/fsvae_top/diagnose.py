"""Locate the first difference between the RTL and the golden model from an RTL trace.

The generated top writes, under the plusarg +fsvae_trace, every spike event it passes between
engines to fsvae_trace.txt as "image layer step index" (index channel-last, as the engines
number neurons).  This compares them, step by step, and within a step layer by layer in data-flow order,
with golden.generate's trace, and names the first layer and time step whose spikes differ.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from fsvae_fpga.contract import golden
from fsvae_fpga.contract.hwmodel import HwModel


def read_trace(path: str | Path) -> dict:
    """{(image, layer, step): sorted list of indices}."""
    events: dict = defaultdict(list)
    for line in Path(path).read_text().splitlines():
        image, layer, step, index = line.split()
        events[(int(image), layer, int(step))].append(int(index))
    return {k: sorted(v) for k, v in events.items()}


def golden_events(hw: HwModel, seed: int, image: int) -> dict:
    """{(layer, step): sorted channel-last indices} of one image, in the RTL's numbering."""
    trace: dict = {}
    golden.generate(hw, 1, seed, trace=trace, first_image=image)
    out = {}
    layers = hw.names("prior") + ["latent", "decoder_fc"] + hw.names("decoder")[1:]
    for name in layers:
        spikes = np.asarray(trace[name]["spikes"])[:, 0]          # (T, ...)
        if name == "decoder_fc":                                 # torch (C, H, W) -> channel-last
            c, h, w = hw.layer("decoder.0")["in_shape"]
            spikes = spikes.reshape(spikes.shape[0], c, h, w).transpose(0, 2, 3, 1)
        flat = spikes.reshape(spikes.shape[0], -1)
        for t in range(flat.shape[0]):
            out[(name, t)] = np.flatnonzero(flat[t]).tolist()
    return out, layers


def first_difference(hw: HwModel, trace_file: str | Path, seed: int, image: int) -> str:
    rtl = read_trace(trace_file)
    want, layers = golden_events(hw, seed, image)
    for t in range(hw.T):                 # time first: step t of a layer depends on step t-1 of the prior
        for name in layers:
            a, b = rtl.get((image, name, t), []), want[(name, t)]
            if a != b:
                extra = sorted(set(a) - set(b))[:8]
                missing = sorted(set(b) - set(a))[:8]
                return (f"image {image}: first difference in layer {name} at time step {t}: RTL {len(a)} spikes, "
                        f"golden {len(b)}; RTL only {extra}, golden only {missing}")
    return (f"image {image}: every traced spike train equals the golden model's; the difference is after the "
            "last spiking layer (output currents, membrane sum or pixel table)")
