"""Checkpoints: written atomically, loaded safely (weights_only), validated before use.

A checkpoint is a dict::

    {"format": "fsvae-fpga-checkpoint", "version": 1, "config": {...}, "stage": "float"|"quant",
     "epoch": completed epochs, "model": state_dict, "optimizer": state_dict | None,
     "history": [per-epoch metrics]}

Writing goes to ``<path>.tmp`` first and is moved over the target only once complete, so a
crash or a full disk never leaves a half-written checkpoint in place of a good one.
"""
from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import torch

from fsvae_fpga.config import ConfigError, validate
from fsvae_fpga.outputs import atomic_file

FORMAT = "fsvae-fpga-checkpoint"
VERSION = 1
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "shipped" / "mnist"
SHIPPED_MODEL = SHIPPED_DIR / "model.pt"
# the shipped checkpoint for each configuration (make sim / make estimate pick by CONFIG)
SHIPPED_BY_CONFIG = {"configs/mnist.yaml": SHIPPED_MODEL,
                     "configs/small.yaml": SHIPPED_DIR.parent / "small" / "model.pt"}


class CheckpointError(Exception):
    pass


def atomic_save(obj, path: str | Path) -> None:
    """torch.save to a hidden temporary file, fsync, then rename over ``path``."""
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())


def save_checkpoint(path, *, config, stage, epoch, model_state, optimizer_state=None, history=(),
                    packed_weights=None):
    """packed_weights (pack_fixed_point_weights): stored instead of those float entries."""
    if packed_weights:
        model_state = {k: v for k, v in model_state.items() if k not in packed_weights}
    atomic_save({"format": FORMAT, "version": VERSION, "config": config, "stage": stage,
                 "epoch": int(epoch), "model": model_state, "optimizer": optimizer_state,
                 "history": list(history), "packed_weights": packed_weights or {}}, path)


def pack_fixed_point_weights(model) -> dict:
    """The fixed-point synapse weights as int8 plus power-of-two exponent: {state key: {"q",
    "frac_bits"}}.  A shipped checkpoint stores these instead of the float parameters (4x
    smaller); q * 2^-frac_bits quantizes back to the same q, so the model is unchanged."""
    from fsvae_fpga.model.quant import Synapse
    packed = {}
    for name, module in model.named_modules():
        if isinstance(module, Synapse):
            frac = -math.log2(module.weight_scale())
            if frac != round(frac):
                raise CheckpointError(f"{name}: weight scale is not a power of two")
            packed[f"{name}.layer.weight"] = {"q": module.int_weight().to(torch.int8), "frac_bits": int(round(frac))}
    return packed


def save_compact(path, model, ckpt: dict) -> None:
    """A fixed-point model as a small checkpoint (near 4 MB for the paper model): config,
    stage, epoch, history and the weights, the synapse weights packed as int8 + exponent, no
    optimizer state.  The shipped model has this form, and so has a run carried between
    machines; a run resumed from it starts a fresh AdamW."""
    if not getattr(model, "quantized", False):
        raise CheckpointError("only a fixed-point (quant) model can be stored compact; "
                              "its float weights would be rounded")
    save_checkpoint(path, config=ckpt["config"], stage=ckpt["stage"], epoch=ckpt["epoch"],
                    model_state=model.state_dict(), history=ckpt.get("history", []),
                    packed_weights=pack_fixed_point_weights(model))


def _unpack_weights(ckpt: dict, path: Path) -> None:
    for key, p in (ckpt.pop("packed_weights", None) or {}).items():
        if not (isinstance(p, dict) and torch.is_tensor(p.get("q")) and p["q"].dtype == torch.int8
                and isinstance(p.get("frac_bits"), int)):
            raise CheckpointError(f"{path}: packed weight {key!r} is malformed")
        ckpt["model"][key] = p["q"].to(torch.float32) * 2.0 ** -p["frac_bits"]


def read_checkpoint(path: str | Path) -> dict:
    """Load and validate a checkpoint dict (no model is built here)."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder; give the .pt file (for a run: <run>/last.pt)")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes); retrain, or resume from an earlier checkpoint")
    try:
        with warnings.catch_warnings():     # torch warns about pickle protocols on foreign files
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, random bytes, pickled code: all refused here
        raise CheckpointError(f"checkpoint {path} is corrupt, truncated or not a checkpoint "
                              f"({_load_reason(err)}); retrain, or resume from an earlier checkpoint") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an fsvae-fpga checkpoint (no format tag {FORMAT!r})")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {ckpt.get('version')!r}, this code reads {VERSION}")
    missing = {"config", "stage", "epoch", "model"} - set(ckpt)
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {sorted(missing)}")
    if ckpt["stage"] not in ("float", "quant"):
        raise CheckpointError(f"{path}: stage {ckpt['stage']!r} is not 'float' or 'quant'")
    if isinstance(ckpt["epoch"], bool) or not isinstance(ckpt["epoch"], int) or ckpt["epoch"] < 0:
        raise CheckpointError(f"{path}: epoch {ckpt['epoch']!r} is not a count of completed epochs")
    if not isinstance(ckpt["model"], dict) or not all(isinstance(k, str) and torch.is_tensor(v)
                                                      for k, v in ckpt["model"].items()):
        raise CheckpointError(f"{path}: 'model' is not a state dict of named tensors")
    if not isinstance(ckpt.get("history", []), list) or not isinstance(ckpt.get("optimizer") or {}, dict):
        raise CheckpointError(f"{path}: 'history' or 'optimizer' is malformed")
    _unpack_weights(ckpt, path)
    try:
        ckpt["config"] = validate(ckpt["config"])
    except ConfigError as err:
        raise CheckpointError(f"{path}: invalid config inside checkpoint: {err}") from None
    return ckpt


def build_model(config: dict, stage: str = "float"):
    """The model a config describes, in the given stage."""
    if config["model"] == "ann-vae":
        from fsvae_fpga.model.ann_vae import AnnVAE
        return AnnVAE(config)
    from fsvae_fpga.model.fsvae import FSVAE
    model = FSVAE(config)
    if stage == "quant":
        model.set_stage("quant")
    return model


def load_model(path: str | Path | None = None):
    """(model in eval mode, checkpoint dict); ``None`` loads the shipped MNIST model."""
    if path is None:
        path = SHIPPED_MODEL
        if not path.is_file():
            raise CheckpointError(f"the shipped model {path} is missing from this checkout; "
                                  "pass --ckpt or train one with `fsvae-fpga train`")
    ckpt = read_checkpoint(path)
    model = build_model(ckpt["config"], ckpt["stage"])
    load_weights(model, ckpt["model"], path)
    model.eval()
    return model, ckpt


def _load_reason(err: Exception) -> str:
    """torch's reason in a few words, without its advice to load with weights_only=False
    (that advice runs the file's code)."""
    if isinstance(err, EOFError):
        return "the file ends early"
    text = " ".join(str(err).split())
    if "weights_only" in text or "Unpickl" in type(err).__name__:
        return "it holds Python objects other than tensors and plain data, which are never loaded"
    return f"{type(err).__name__}: {text[:160]}" if text else type(err).__name__


def load_weights(model, state: dict, path) -> None:
    """model.load_state_dict(state), or CheckpointError naming every tensor that does not fit."""
    want = model.state_dict()
    missing = sorted(set(want) - set(state))
    extra = sorted(set(state) - set(want))
    shapes = sorted(f"{k} {list(state[k].shape)} (the config needs {list(want[k].shape)})"
                    for k in set(want) & set(state) if state[k].shape != want[k].shape)

    def some(names):
        return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    problems = ([f"missing {some(missing)}"] if missing else []) + ([f"unexpected {some(extra)}"] if extra else []) \
        + ([f"wrong shape: {some(shapes)}"] if shapes else [])
    if problems:
        raise CheckpointError(f"{path}: weights do not fit the config inside it ({'; '.join(problems)}); "
                              "use the config the checkpoint was trained with")
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not fit the config inside it "
                              f"({' '.join(str(err).split())[:300]})") from None
