"""Training: float pretraining with batch norm, then fold + quantization-aware fine-tuning,
then (optionally) the prior alone, then (optionally) the decoder alone.

Epochs [0, float_epochs) train the float model; at ``float_epochs`` batch norm is folded
into the weights, the model switches to fixed point (quant.py) and training continues
with a fresh AdamW.  ``float_epochs = 0`` is quantization-aware training from the start
(no batch norm ever).  The last ``prior_epochs`` epochs are the prior stage: encoder,
posterior and decoder are frozen (reconstruction stays bit for bit what it was) and a fresh
AdamW on the prior's weights fits it to the posterior's codes (losses.prior_nll, teacher
forced with the stage's scheduled sampling, + prior_batch_mmd x losses.batch_mmd between its
free-running samples and the codes: the term that makes the samples cover every mode; +
prior_image_mmd x losses.image_mmd between the frozen decoder's images of the two), in
batches of ``prior_batch_size`` (default ``batch_size``), at scheduled-sampling probability
``prior_scheduled_p`` (default the run's schedule).
The last ``decoder_epochs`` epochs (after the prior stage) are the decoder stage: decoder_fc,
the decoder and the output layer alone, on reconstruction of the frozen posterior's codes,
so the codes (and the prior's match to them) stay what they were; with
``spike_rate_penalty`` it makes the decoder sparser (the hardware's events), which the joint
stage's loss also adds.  The joint stages' loss is reconstruction + ``mmd_weight`` x the
per-image MMD (+ ``joint_batch_mmd`` x the batch MMD of the prior's free-running samples
against the posterior's codes, gradient into both).  Every epoch writes one JSON line,
``last.pt`` (atomically) and PNGs of samples, reconstructions and the loss curves;
``float.pt`` keeps the float model.

A run folder holds one run.  A new run needs a new or empty folder; ``--resume DIR/last.pt``
continues the run in DIR (its ``log.jsonl`` is rewritten from the checkpoint's history, so
the log never mixes two runs or repeats an epoch); a run folder holding another run is
refused.  A folder this command created is removed again if no epoch completed.
"""
from __future__ import annotations

import json
import math
import shutil
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from fsvae_fpga.config import ConfigError, with_overrides
from fsvae_fpga.training.checkpoint import build_model, load_weights, read_checkpoint, save_checkpoint
from fsvae_fpga.outputs import MARKER, OutputError, atomic_file, check_dir_target, mark_dir
from fsvae_fpga.data import load_images
from fsvae_fpga.evaluation.images import save_curves, save_grid, save_pairs, to_pixels
from fsvae_fpga.evaluation.inference import generate, reconstruct, reconstruction_mse
from fsvae_fpga.model.latent import TorchIndexSource, bernoulli_probability
from fsvae_fpga.model.losses import BATCH_MMD_WIDTHS, batch_mmd, fsvae_loss, image_mmd, prior_nll, spike_rate_penalty

PREVIEW = 64


def _stage_modules(model, stage: str) -> list:
    """What a stage trains: "joint" everything, "prior" the prior, "decoder" the decoder."""
    if stage == "prior":
        return [model.prior]
    return model.decoder_modules() if stage == "decoder" else [model]


def _optimizer(model, cfg, stage: str = "joint"):
    t = cfg["train"]
    lr = {"joint": t["lr"], "prior": t["prior_lr"], "decoder": t.get("decoder_lr", 1e-4)}[stage]
    params = [prm for m in _stage_modules(model, stage) for prm in m.parameters()]
    return torch.optim.AdamW(params, lr=lr, weight_decay=t["weight_decay"])


def _decoder_from(cfg, total: int) -> int:
    """The first epoch of the decoder stage (``total`` when there is none)."""
    return total - cfg["train"].get("decoder_epochs", 0) if cfg["model"] == "fsvae" else total


def _prior_from(cfg, total: int) -> int:
    """The first epoch of the prior stage (the decoder stage's first when there is none)."""
    return _decoder_from(cfg, total) - cfg["train"]["prior_epochs"] if cfg["model"] == "fsvae" else total


def _stage_at(cfg, total: int, epoch: int) -> str:
    """The stage that trains epoch ``epoch`` (0-based) of a run of ``total`` epochs."""
    if epoch >= _decoder_from(cfg, total):
        return "decoder"
    return "prior" if epoch >= _prior_from(cfg, total) else "joint"


def _held_stage(ckpt: dict) -> str:
    """The stage whose optimizer a checkpoint holds: that of its last epoch (its history's
    phase), whatever the schedule of the run that resumes it says."""
    history = ckpt.get("history") or []
    return (history[-1].get("phase") or "joint") if history else "joint"


def _freeze_all_but(model, stage: str) -> None:
    for prm in model.parameters():
        prm.requires_grad_(False)
    for m in _stage_modules(model, stage):
        for prm in m.parameters():
            prm.requires_grad_(True)


def _cosine(cfg, start_lr: float, epoch: int, first: int, last: int) -> float:
    """start_lr, or with train.lr_final a cosine from start_lr (epoch ``first``) to lr_final
    (epoch ``last``): the schedule every stage uses over its own epochs."""
    final = cfg["train"].get("lr_final")
    if final is None:
        return start_lr
    frac = (epoch - first) / max(1, last - first)
    return final + (start_lr - final) * 0.5 * (1.0 + math.cos(math.pi * frac))


def _stage_lr(cfg, epoch: int, total: int) -> float:
    """train.lr (cosine to lr_final), separately over the float and the fixed-point stage
    (each starts a fresh AdamW; the fixed-point stage from train.fixed_point_lr when set);
    the prior and decoder stages have their own."""
    t = cfg["train"]
    if epoch < t["float_epochs"]:
        return _cosine(cfg, t["lr"], epoch, 0, t["float_epochs"] - 1)
    start = t["lr"] if t.get("fixed_point_lr") is None else t["fixed_point_lr"]
    return _cosine(cfg, start, epoch, t["float_epochs"], _prior_from(cfg, total) - 1)


def _prior_lr(cfg, epoch: int, total: int) -> float:
    """train.prior_lr (cosine to lr_final) over the prior stage."""
    return _cosine(cfg, cfg["train"]["prior_lr"], epoch, _prior_from(cfg, total), _decoder_from(cfg, total) - 1)


def _decoder_lr(cfg, epoch: int, total: int) -> float:
    """train.decoder_lr (cosine to lr_final) over the decoder stage."""
    return _cosine(cfg, cfg["train"]["decoder_lr"], epoch, _decoder_from(cfg, total), total - 1)


def _scheduled_p(cfg, epoch: int, total: int) -> float:
    p0, p1 = cfg["train"]["scheduled_sampling"]
    return p0 + (p1 - p0) * (epoch / max(1, total - 1))


RUN_KIND = "train-run"


def check_run_dir(out_dir: Path, resume: str | None) -> None:
    """Refuse a folder that holds another run or foreign files (see the module docstring)."""
    last = out_dir / "last.pt"
    if last.exists():
        if resume and Path(resume).resolve() == last.resolve():
            return
        if resume:
            raise OutputError(f"--out {out_dir} holds another run (its last.pt); resume that run with "
                              f"--resume {last}, or give a new --out folder for this one")
        raise OutputError(f"--out {out_dir} already holds a run; continue it with --resume {last} "
                          "(and --epochs above its count), or give a new --out folder")
    if out_dir.is_dir() and any(p.name != MARKER for p in out_dir.iterdir()):
        raise OutputError(f"--out {out_dir} exists and holds no run of this tool; give a new or empty folder")
    check_dir_target(out_dir, RUN_KIND)


def length_overrides(cfg, epochs: int | None) -> dict:
    """The overrides that give a run ``epochs`` in all (none for None): train.epochs, and
    float_epochs cut to fit."""
    if epochs is None:
        return {}
    return {"train.epochs": epochs, "train.float_epochs": min(cfg["train"]["float_epochs"], epochs)}


def _plan(cfg, epochs, ckpt, resume):
    """(config with the run's total epochs, total); refuses a run with nothing to do."""
    tcfg = cfg["train"]
    total = tcfg["epochs"] if epochs is None else epochs
    done = ckpt["epoch"] if ckpt else 0
    if total <= done:
        if ckpt:
            raise ConfigError(f"{resume} has already done {done} of {tcfg['epochs']} epochs; ask for more "
                              f"with --epochs N (N > {done})")
        raise ConfigError("train.epochs is 0: nothing to train; set --epochs N (N >= 1)")
    if total != tcfg["epochs"]:  # remember the new length so a resume continues the same schedule
        cfg = with_overrides(cfg, **{"train.epochs": total,
                                     "train.float_epochs": min(tcfg["float_epochs"], total)})
    return cfg, total


def train(cfg: dict, out_dir: str | Path, epochs: int | None = None, resume: str | None = None,
          device: str = "cpu", progress: bool = True, log=print, overrides: dict | None = None) -> Path:
    """Train (or resume) and return the path of the last checkpoint."""
    out_dir = Path(out_dir)
    history, ckpt = [], None
    if resume:
        ckpt = read_checkpoint(resume)
        cfg, history = ckpt["config"], ckpt.get("history", [])
        if overrides:          # checked against the run's new length (a new stage needs the epochs)
            cfg = with_overrides(cfg, **{**length_overrides(cfg, epochs), **overrides})
    cfg, total = _plan(cfg, epochs, ckpt, resume)
    check_run_dir(out_dir, resume)
    created = not out_dir.exists()
    model = build_model(cfg, ckpt["stage"] if ckpt else "float").to(device)
    # the stage of the next epoch; a resume that lengthens a run can land in another stage than
    # the checkpoint's (a run that ended in its prior stage goes back to joint epochs): that
    # stage starts with a fresh optimizer, as at any stage switch
    stage = _stage_at(cfg, total, ckpt["epoch"]) if ckpt else "joint"
    if stage != "joint":
        _freeze_all_but(model, stage)
    opt = _optimizer(model, cfg, stage)
    if ckpt:
        load_weights(model, ckpt["model"], resume)
        if ckpt.get("optimizer") is not None and _held_stage(ckpt) == stage:
            try:
                opt.load_state_dict(ckpt["optimizer"])
            except (ValueError, KeyError, RuntimeError) as err:
                raise ConfigError(f"{resume}: its optimizer state does not fit the model ({err}); "
                                  "resume with the config it was trained with") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        mark_dir(out_dir, RUN_KIND)
        if ckpt:
            _write_log(out_dir, history)          # the log is the checkpoint's history, nothing more
            log(json.dumps({"resumed": str(resume), "epoch": ckpt["epoch"], "stage": ckpt["stage"]}))
        return _epochs(cfg, model, opt, out_dir, ckpt["epoch"] if ckpt else 0, total, history, device,
                       progress, log)
    except BaseException:
        if not (out_dir / "last.pt").exists():              # no epoch of this run completed
            if created:
                shutil.rmtree(out_dir, ignore_errors=True)  # leave no empty run folder behind
            else:
                for name in (MARKER, "log.jsonl"):
                    (out_dir / name).unlink(missing_ok=True)
        raise


def _write_log(out_dir: Path, history: list) -> None:
    with atomic_file(out_dir / "log.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in history))


def _epochs(cfg, model, opt, out_dir, start, total, history, device, progress, log) -> Path:
    tcfg = cfg["train"]
    is_fsvae = cfg["model"] == "fsvae"

    data = cfg["data"]
    train_set = load_images(data["dataset"], "train", data["image_size"], data["root"])
    test_set = load_images(data["dataset"], "test", data["image_size"], data["root"])
    x_train = train_set.images.to(device)
    x_test = test_set.images.to(device)

    prior_from, decoder_from = _prior_from(cfg, total), _decoder_from(cfg, total)
    penalty = tcfg.get("spike_rate_penalty") or {}
    for epoch in range(start, total):
        if is_fsvae and epoch >= tcfg["float_epochs"] and not model.quantized:
            # keep the float model for comparison, then fold batch norm and quantize
            if epoch > 0:
                save_checkpoint(out_dir / "float.pt", config=cfg, stage="float", epoch=epoch,
                            model_state=model.state_dict(), history=history)
            model.to_fixed_point()
            opt = _optimizer(model, cfg)
        if epoch == decoder_from:
            _freeze_all_but(model, "decoder")
            opt = _optimizer(model, cfg, "decoder")
        if epoch >= decoder_from:
            history.append(_decoder_epoch(cfg, model, opt, x_train, x_test, epoch, total, progress, log))
            _end_epoch(cfg, model, opt, out_dir, history, epoch, x_test)
            continue
        prior_stage = epoch >= prior_from
        if prior_stage and epoch == prior_from:
            _freeze_all_but(model, "prior")
            opt = _optimizer(model, cfg, "prior")
        if prior_stage:
            history.append(_prior_epoch(cfg, model, opt, x_train, x_test, epoch, total, progress, log))
            _end_epoch(cfg, model, opt, out_dir, history, epoch, x_test)
            continue
        lr = _stage_lr(cfg, epoch, total)
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        gen, source, bar, batches = _batches(cfg, x_train, epoch, total, progress)
        p = _scheduled_p(cfg, epoch, total)
        sums, n_batches, t0 = {"loss": 0.0, "recon": 0.0, "reg": 0.0}, 0, time.time()
        joint_w = tcfg.get("joint_batch_mmd", 0.0) if is_fsvae else 0.0
        if penalty:
            sums["spike_penalty"] = 0.0
        if joint_w:
            sums["batch_mmd"] = 0.0
        for x in batches:
            if is_fsvae:
                out = model(x, source, scheduled_p=p, scheduled_from=tcfg["scheduled_from_step"],
                            mix_generator=gen, detach_teacher=tcfg.get("detach_teacher", False),
                            detach_history=tcfg.get("detach_history", False),
                            scheduled_mode=tcfg.get("scheduled_sampling_mode", "sample"))
                loss, recon, reg = fsvae_loss(x, out["x_hat"], out["r_q"], out["r_p"],
                                              tcfg.get("mmd_weight", 1.0))
                extra = spike_rate_penalty(out["spike_rates"], penalty)
                terms = [loss + extra, recon, reg] + ([extra] if penalty else [])
                if joint_w:     # set-level match, moving the posterior's codes and the prior both
                    with model.frozen_weights():
                        free = model.prior_latents(source, x.shape[0])[0]
                    joint_mmd = batch_mmd(free, out["z"], tcfg.get("batch_mmd_widths", BATCH_MMD_WIDTHS))
                    terms = [terms[0] + joint_w * joint_mmd, *terms[1:], joint_mmd]
            else:
                out = model(x, generator=gen)
                terms = model.loss(x, out)
            n_batches = _optimise(opt, sums, terms, n_batches, bar)
        record = {"epoch": epoch + 1, "stage": getattr(model, "stage", "float"),
                  **{k: v / max(1, n_batches) for k, v in sums.items()},
                  "reg_name": "mmd" if is_fsvae else "kld", "scheduled_p": round(p, 4), "lr": lr,
                  "test_mse": reconstruction_mse(model, x_test, seed=0, sampler="torch"),
                  "seconds": round(time.time() - t0, 1)}
        history.append(record)
        log(json.dumps(record))
        _end_epoch(cfg, model, opt, out_dir, history, epoch, x_test)
    return out_dir / "last.pt"


def _batches(cfg, x_train, epoch: int, total: int, progress: bool, label: str = "", bs: int | None = None):
    """An epoch's randomness, seeded by the run's seed and the epoch (the mixing generator, which
    also orders the batches, and the latent index source), its progress bar and its batches of
    bs images (default train.batch_size)."""
    seed, bs = cfg["train"]["seed"] * 100003 + epoch, bs or cfg["train"]["batch_size"]
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(x_train.shape[0], generator=gen)[:cfg["train"].get("images_per_epoch")]
    source = TorchIndexSource(seed)
    bar = tqdm(range(0, order.shape[0], bs), desc=f"epoch {epoch + 1}/{total}{label}",
               disable=not progress, file=sys.stderr, leave=False)
    return gen, source, bar, (x_train[order[i:i + bs]] for i in bar)


def _optimise(opt, sums: dict, terms, n_batches: int, bar) -> int:
    """One optimiser step on terms[0] (the loss); every term added to its running sum (sums'
    keys in order); returns the batches done."""
    opt.zero_grad(set_to_none=True)
    terms[0].backward()
    opt.step()
    for k, v in zip(sums, terms):
        sums[k] += v.item()
    bar.set_postfix(loss=f"{sums['loss'] / (n_batches + 1):.4f}")
    return n_batches + 1


def _end_epoch(cfg, model, opt, out_dir, history, epoch, x_test) -> None:
    """The checkpoint, the log and the PNGs after each epoch."""
    save_checkpoint(out_dir / "last.pt", config=cfg, stage=history[-1]["stage"], epoch=epoch + 1,
                    model_state=model.state_dict(), optimizer_state=opt.state_dict(), history=history)
    _write_log(out_dir, history)
    save_grid(generate(model, PREVIEW, seed=0), out_dir / "samples.png", nrow=8)
    save_pairs(to_pixels(x_test[:32]), reconstruct(model, x_test[:32], seed=0),
               out_dir / "reconstructions.png")
    save_curves(history, ["recon", "test_mse"], out_dir / "loss.png")


def _decoder_epoch(cfg, model, opt, x_train, x_test, epoch, total, progress, log) -> dict:
    """One epoch of the decoder stage (module docstring); returns its log record with the
    decoder layers' mean spike rates."""
    tcfg = cfg["train"]
    penalty = tcfg.get("spike_rate_penalty") or {}
    model.train()
    gen, source, bar, batches = _batches(cfg, x_train, epoch, total, progress, " (decoder)")
    lr = _decoder_lr(cfg, epoch, total)
    for group in opt.param_groups:
        group["lr"] = lr
    sums, n_batches, t0 = {"loss": 0.0, "recon": 0.0, "spike_penalty": 0.0}, 0, time.time()
    rates: dict[str, float] = {}
    for x in batches:
        with model.frozen_weights():
            with torch.no_grad():                     # the codes stay the posterior's
                z, _ = model.posterior_latents(model.encode(x), source)
            x_hat = model.decode(z)
            recon = torch.nn.functional.mse_loss(x_hat, x)
            extra = spike_rate_penalty(model.spike_rates, penalty)
            loss = recon + extra
        for name, r in model.spike_rates.items():
            rates[name] = rates.get(name, 0.0) + float(r.detach())
        n_batches = _optimise(opt, sums, (loss, recon, extra), n_batches, bar)
    record = {"epoch": epoch + 1, "stage": model.stage, "phase": "decoder",
              **{k: v / max(1, n_batches) for k, v in sums.items()},
              "reg_name": "spike_rate_penalty", "spike_rates": {k: round(v / max(1, n_batches), 5)
                                                                for k, v in rates.items()},
              "lr": lr, "test_mse": reconstruction_mse(model, x_test, seed=0, sampler="torch"),
              "seconds": round(time.time() - t0, 1)}
    log(json.dumps(record))
    return record


def _prior_epoch(cfg, model, opt, x_train, x_test, epoch, total, progress, log) -> dict:
    """One epoch of the prior stage (module docstring); returns its log record."""
    tcfg = cfg["train"]
    model.train()
    gen, source, bar, batches = _batches(cfg, x_train, epoch, total, progress, " (prior)",
                                         tcfg.get("prior_batch_size"))
    p, w = tcfg.get("prior_scheduled_p"), tcfg["prior_batch_mmd"]
    p = _scheduled_p(cfg, epoch, total) if p is None else p
    w_img = tcfg.get("prior_image_mmd", 0.0)
    w_rate = tcfg.get("prior_spike_rate_penalty", 0.0)
    lr = _prior_lr(cfg, epoch, total)
    for group in opt.param_groups:
        group["lr"] = lr
    sums, n_batches, t0 = {"loss": 0.0, "prior_nll": 0.0, "batch_mmd": 0.0}, 0, time.time()
    if w_img:
        sums["image_mmd"] = 0.0
    if w_rate:
        sums["prior_hidden_rate"] = 0.0
    for x in batches:
        with model.frozen_weights():
            with torch.no_grad():                     # the codes the prior must learn
                z, _ = model.posterior_latents(model.encode(x), source)
            _, r = model.prior_latents(source, x.shape[0], teacher=z, scheduled_p=p,
                                       scheduled_from=tcfg["scheduled_from_step"], mix_generator=gen,
                                       scheduled_mode=tcfg.get("scheduled_sampling_mode", "sample"))
            nll = prior_nll(bernoulli_probability(r), z, model.k)
            free = model.prior_latents(source, x.shape[0])[0] if (w or w_img or w_rate) else None
            mmd = batch_mmd(free, z, tcfg.get("batch_mmd_widths", BATCH_MMD_WIDTHS)) if w else torch.zeros(())
            loss, terms = nll + w * mmd, [nll, mmd]
            if w_img:
                # the frozen decoder's images of the free-running samples against those of
                # the codes: a digit class the prior under-produces is a missing cluster here
                with torch.no_grad():
                    x_codes = model.decode(z)
                img = image_mmd(model.decode(free), x_codes)
                loss, terms = loss + w_img * img, terms + [img]
            if w_rate:     # after image_mmd: the terms in the order of sums' keys
                # the free-running prior's hidden spike rates, as it runs when it generates
                rate = sum(model.prior_hidden_rates.values())
                loss, terms = loss + w_rate * rate, terms + [rate]
        n_batches = _optimise(opt, sums, [loss] + terms, n_batches, bar)
    record = {"epoch": epoch + 1, "stage": model.stage, "phase": "prior",
              **{k: v / max(1, n_batches) for k, v in sums.items()},
              "recon": None, "reg_name": "prior_nll + batch_mmd" + (" + image_mmd" if w_img else "")
              + (" + prior_hidden_rate" if w_rate else ""),
              "scheduled_p": round(p, 4), "lr": lr, "steps": n_batches,
              "test_mse": reconstruction_mse(model, x_test, seed=0, sampler="torch"),
              "seconds": round(time.time() - t0, 1)}
    log(json.dumps(record))
    return record
