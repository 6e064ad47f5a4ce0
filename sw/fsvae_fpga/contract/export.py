"""Export a fixed-point FSVAE checkpoint to the hardware model (see hwmodel.py)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from fsvae_fpga.contract import hwmodel
from fsvae_fpga.model.fsvae import FSVAE
from fsvae_fpga.model.latent import TorchIndexSource
from fsvae_fpga.model.lif import LEAK_SHIFT, threshold_int
from fsvae_fpga.contract.sampler import SPEC

GROUPS = {"encoder": "encoder", "posterior": "posterior", "prior": "prior", "decoder": "decoder",
          "output": "output"}


def _group(name: str) -> str:
    return name.split(".")[0].split("_")[0]


def _frac_bits(scale: float, what: str) -> int:
    f = -math.log2(scale)
    if f != round(f):
        raise hwmodel.HwModelError(f"{what}: scale {scale} is not a power of two")
    return int(round(f))


def layer_shapes(model: FSVAE) -> dict[str, tuple[list, list]]:
    """Per-layer (in_shape, out_shape) for one image and one step, from a traced pass."""
    x = torch.zeros(1, *model.image_shape)
    with torch.no_grad(), model.tracing() as trace, model.frozen_weights():
        z, _ = model.posterior_latents(model.encode(x), TorchIndexSource(0))
        model.decode_currents(z)
        model.prior_latents(TorchIndexSource(0), 1)
    shapes = {}
    for name, (inp, current, _) in trace.items():
        shapes[name] = (list(inp.shape[2:]), list(current.shape[2:]))
    return shapes


def build(model: FSVAE) -> tuple[dict, dict[str, np.ndarray]]:
    """The hardware-model description and arrays of a fixed-point FSVAE."""
    if not isinstance(model, FSVAE) or not model.quantized:
        raise hwmodel.HwModelError("only a fixed-point FSVAE (stage 'quant') can be exported; "
                                   "train past train.float_epochs first")
    shapes = layer_shapes(model)
    in_frac = model.input_bits - 1
    layers, arrays = [], {}
    for module_name, syn in model.synapses():
        name = module_name.replace(".layers.", ".")
        in_shape, out_shape = shapes[name]
        w = syn.int_weight().numpy().astype(np.int8)
        b = syn.int_bias().numpy().astype(np.int32)
        is_image = name == "encoder.0"
        w_frac = _frac_bits(syn.weight_scale(), name)
        s = syn.membrane_scale()
        layer = {
            "name": name, "group": _group(name), "kind": syn.kind,
            "in_shape": in_shape, "out_shape": out_shape,
            "input": "image" if is_image else "spikes",
            "weight": {"file": f"{name}.weight.npy", "shape": list(w.shape), "dtype": "int8",
                       "bits": syn.weight_bits},
            "bias": {"file": f"{name}.bias.npy", "shape": list(b.shape), "dtype": "int32",
                     "bits": syn.bias_bits},
            "weight_frac_bits": w_frac,
            "membrane_frac_bits": w_frac + (in_frac if is_image else 0),
        }
        assert 2.0 ** -layer["membrane_frac_bits"] == s
        if syn.kind != "linear":
            layer.update(kernel_size=syn.kernel_size, stride=syn.stride, padding=syn.padding,
                         output_padding=syn.output_padding)
        in_lo, in_hi = (-(1 << in_frac), (1 << in_frac) - 1) if is_image else (0, 1)
        lo, hi = hwmodel.current_range(syn.kind, w, b.astype(np.int64), in_lo, in_hi)
        layer.update(current_range=[lo, hi], current_bits=hwmodel.signed_bits(lo, hi))
        spiking = name != "output"
        layer["spiking"] = spiking
        if spiking:
            theta = threshold_int(s, syn.threshold_rule)
            mlo, mhi = hwmodel.membrane_range(lo, hi, theta, model.T)
            layer.update(threshold=theta, leak_shift=LEAK_SHIFT, reset="hard-zero",
                         membrane_range=[mlo, mhi], membrane_bits=hwmodel.signed_bits(mlo, mhi))
        layer["overflow"] = "impossible"
        layers.append(layer)
        arrays[layer["weight"]["file"]] = w
        arrays[layer["bias"]["file"]] = b
    out = layers[-1]
    coef = [int(c) for c in model.decay_coefficients_int()]
    peak = max(-out["current_range"][0], out["current_range"][1])
    srange = [-peak * sum(coef), peak * sum(coef)]
    desc = {
        "format": hwmodel.FORMAT, "version": hwmodel.VERSION,
        "time_steps": model.T, "k": model.k, "latent_dim": model.C,
        "image_shape": list(model.image_shape),
        "input": {"bits": model.input_bits, "frac_bits": in_frac},
        "sampler": SPEC,
        "layers": layers,
        "output": {"layer": "output", "decay_coefficients": coef, "decay_frac_bits": model.decay_bits,
                   "sum_range": srange, "sum_bits": hwmodel.signed_bits(*srange),
                   "pixel_thresholds": [int(t) for t in model.pixel_thresholds()]},
    }
    return desc, arrays


def export(model: FSVAE, out_dir: str | Path) -> Path:
    from fsvae_fpga.outputs import output_dir
    desc, arrays = build(model)
    with output_dir(out_dir, "hwmodel") as tmp:
        hwmodel.write(tmp, desc, arrays)
    return Path(out_dir)


def export_shipped(config: str, out_dir: str | Path) -> Path:
    """The shipped model for a configuration file (checkpoint.SHIPPED_BY_CONFIG), exported to
    out_dir unless a valid export newer than the checkpoint is already there (an export this
    code cannot load, e.g. one from before the model identity, is made again)."""
    from fsvae_fpga.training.checkpoint import SHIPPED_BY_CONFIG, load_model
    key = Path(config).as_posix()
    if key not in SHIPPED_BY_CONFIG:
        raise KeyError(f"no shipped model for CONFIG={config}; shipped: {sorted(SHIPPED_BY_CONFIG)}")
    ckpt, out_dir = SHIPPED_BY_CONFIG[key], Path(out_dir)
    done = out_dir / "hwmodel.json"
    if done.is_file() and done.stat().st_mtime >= ckpt.stat().st_mtime:
        try:
            hwmodel.load(out_dir)
            return out_dir
        except hwmodel.HwModelError:
            pass
    model, _ = load_model(ckpt)
    return export(model, out_dir)
