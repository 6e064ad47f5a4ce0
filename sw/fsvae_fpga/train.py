"""Training: float pretraining with batch norm, then fold + quantization-aware fine-tuning.

Epochs [0, float_epochs) train the float model; at ``float_epochs`` batch norm is folded
into the weights, the model switches to fixed point (quant.py) and training continues
with a fresh AdamW.  ``float_epochs = 0`` is quantization-aware training from the start
(no batch norm ever).  Every epoch writes one JSON line, ``last.pt`` (atomically) and
PNGs of samples, reconstructions and the loss curves; ``float.pt`` keeps the float model.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from .config import ConfigError, with_overrides
from .checkpoint import build_model, read_checkpoint, save_checkpoint
from .data import load_images
from .images import save_curves, save_grid, save_pairs, to_pixels
from .inference import generate, reconstruct, reconstruction_mse
from .latent import TorchIndexSource
from .losses import fsvae_loss

PREVIEW = 64


def _optimizer(model, cfg):
    t = cfg["train"]
    return torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])


def _scheduled_p(cfg, epoch: int, total: int) -> float:
    p0, p1 = cfg["train"]["scheduled_sampling"]
    return p0 + (p1 - p0) * (epoch / max(1, total - 1))


def train(cfg: dict, out_dir: str | Path, epochs: int | None = None, resume: str | None = None,
          device: str = "cpu", progress: bool = True, log=print, overrides: dict | None = None) -> Path:
    """Train (or resume) and return the path of the last checkpoint."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    history, start, ckpt = [], 0, None
    if resume:
        ckpt = read_checkpoint(resume)
        cfg, start, history = ckpt["config"], ckpt["epoch"], ckpt.get("history", [])
        if overrides:
            try:
                cfg = with_overrides(cfg, **overrides)
            except KeyError as err:
                raise ConfigError(f"--set: unknown key {err}") from None
    tcfg = cfg["train"]
    total = tcfg["epochs"] if epochs is None else epochs
    if total != tcfg["epochs"]:  # remember the new length so a resume continues the same schedule
        cfg = with_overrides(cfg, **{"train.epochs": total,
                                     "train.float_epochs": min(tcfg["float_epochs"], total)})
        tcfg = cfg["train"]
    is_fsvae = cfg["model"] == "fsvae"
    model = build_model(cfg, ckpt["stage"] if ckpt else "float").to(device)
    opt = _optimizer(model, cfg)
    if ckpt:
        model.load_state_dict(ckpt["model"])
        if ckpt.get("optimizer") is not None:
            opt.load_state_dict(ckpt["optimizer"])
        log(json.dumps({"resumed": str(resume), "epoch": start, "stage": ckpt["stage"]}))

    data = cfg["data"]
    train_set = load_images(data["dataset"], "train", data["image_size"], data["root"])
    test_set = load_images(data["dataset"], "test", data["image_size"], data["root"])
    x_train = train_set.images.to(device)
    x_test = test_set.images.to(device)
    bs = tcfg["batch_size"]

    for epoch in range(start, total):
        if is_fsvae and epoch >= tcfg["float_epochs"] and not model.quantized:
            # keep the float model for comparison, then fold batch norm and quantize
            if epoch > 0:
                save_checkpoint(out_dir / "float.pt", config=cfg, stage="float", epoch=epoch,
                            model_state=model.state_dict(), history=history)
            model.to_fixed_point()
            opt = _optimizer(model, cfg)
        model.train()
        gen = torch.Generator().manual_seed(tcfg["seed"] * 100003 + epoch)
        order = torch.randperm(x_train.shape[0], generator=gen)
        source = TorchIndexSource(tcfg["seed"] * 100003 + epoch)
        p = _scheduled_p(cfg, epoch, total)
        sums, n_batches, t0 = {"loss": 0.0, "recon": 0.0, "reg": 0.0}, 0, time.time()
        bar = tqdm(range(0, x_train.shape[0], bs), desc=f"epoch {epoch + 1}/{total}",
                   disable=not progress, file=sys.stderr, leave=False)
        for i in bar:
            x = x_train[order[i:i + bs]]
            if is_fsvae:
                out = model(x, source, scheduled_p=p, scheduled_from=tcfg["scheduled_from_step"],
                            mix_generator=gen)
                loss, recon, reg = fsvae_loss(x, out["x_hat"], out["r_q"], out["r_p"])
            else:
                out = model(x, generator=gen)
                loss, recon, reg = model.loss(x, out)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for k, v in zip(sums, (loss, recon, reg)):
                sums[k] += v.item()
            n_batches += 1
            bar.set_postfix(loss=f"{sums['loss'] / n_batches:.4f}")
        record = {"epoch": epoch + 1, "stage": getattr(model, "stage", "float"),
                  **{k: v / max(1, n_batches) for k, v in sums.items()},
                  "reg_name": "mmd" if is_fsvae else "kld", "scheduled_p": round(p, 4),
                  "test_mse": reconstruction_mse(model, x_test, seed=0),
                  "seconds": round(time.time() - t0, 1)}
        history.append(record)
        log(json.dumps(record))
        save_checkpoint(out_dir / "last.pt", config=cfg, stage=record["stage"], epoch=epoch + 1,
                        model_state=model.state_dict(), optimizer_state=opt.state_dict(), history=history)
        with open(out_dir / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        save_grid(generate(model, PREVIEW, seed=0), out_dir / "samples.png", nrow=8)
        save_pairs(to_pixels(x_test[:32]), reconstruct(model, x_test[:32], seed=0),
                   out_dir / "reconstructions.png")
        save_curves(history, ["recon", "test_mse"], out_dir / "loss.png")
    return out_dir / "last.pt"
