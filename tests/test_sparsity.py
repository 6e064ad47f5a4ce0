"""Sparsity-aware training: the spike-rate penalty and the decoder stage that applies it."""
import json
import shutil

import pytest
import torch
import yaml

from fsvae_fpga.cli import main
from fsvae_fpga.config import ConfigError, with_overrides
from fsvae_fpga.model.fsvae import FSVAE
from fsvae_fpga.model.latent import TorchIndexSource
from fsvae_fpga.model.losses import spike_rate_penalty
from fsvae_fpga.training.checkpoint import read_checkpoint


def test_penalty_is_the_weighted_sum_of_the_chosen_rates():
    rates = {"decoder.0": torch.tensor(0.5), "decoder.1": torch.tensor(0.25), "decoder.2": torch.tensor(0.125)}
    assert float(spike_rate_penalty(rates, {})) == 0.0
    assert float(spike_rate_penalty(rates, {"decoder.1": 2.0, "decoder.2": 4.0})) == pytest.approx(1.0)
    assert float(spike_rate_penalty(rates, {"decoder.0": 0.0})) == 0.0


def test_penalty_weights_name_decoder_layers(small_cfg):
    ok = with_overrides(small_cfg, **{"train.spike_rate_penalty": {"decoder.1": 0.1, "decoder_fc": 0.5}})
    assert ok["train"]["spike_rate_penalty"] == {"decoder.1": 0.1, "decoder_fc": 0.5}
    with pytest.raises(ConfigError, match="decoder.9"):
        with_overrides(small_cfg, **{"train.spike_rate_penalty": {"decoder.9": 0.1}})
    with pytest.raises(ConfigError, match="encoder.1"):
        with_overrides(small_cfg, **{"train.spike_rate_penalty": {"encoder.1": 0.1}})
    with pytest.raises(ConfigError, match="spike_rate_penalty.decoder.0"):
        with_overrides(small_cfg, **{"train.spike_rate_penalty": {"decoder.0": -1}})
    with pytest.raises(ConfigError, match="mapping"):
        with_overrides(small_cfg, **{"train.spike_rate_penalty": 0.1})
    with pytest.raises(ConfigError, match="decoder_epochs"):
        with_overrides(small_cfg, **{"train.epochs": 3, "train.float_epochs": 2, "train.decoder_epochs": 2})


def test_the_rates_are_the_decoder_spikes_and_carry_gradient(small_cfg):
    """spike_rates holds each decoder layer's mean spike (the next layer's events), equal to the
    traced spikes, and its gradient reaches the decoder's weights."""
    torch.manual_seed(0)
    model = FSVAE(small_cfg)
    z = (torch.rand(model.T, 4, model.C) < 0.3).float()
    with model.tracing() as trace:
        model.decode_currents(z)
    names = ["decoder_fc"] + [f"decoder.{i}" for i in range(len(model.decoder))]
    assert list(model.spike_rates) == names
    for name in names:
        assert float(model.spike_rates[name].detach()) == pytest.approx(float(trace[name][2].mean()), abs=1e-7)
    model.decode_currents(z)
    spike_rate_penalty(model.spike_rates, {"decoder.1": 1.0}).backward()
    grads = [p.grad for p in model.decoder[1].parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in model.encoder.parameters())


def test_the_decoder_stage_trains_the_decoder_alone_and_the_penalty_thins_its_spikes(tmp_path):
    """1 joint epoch, then resumed into 2 decoder-stage epochs with and without a strong
    penalty: only decoder tensors move (the codes and the prior stay bit for bit), and the
    penalised run ends with fewer spikes in the penalised layers."""
    from conftest import ROOT
    cfg = yaml.safe_load((ROOT / "configs" / "small.yaml").read_text())
    cfg["train"].update(epochs=1, float_epochs=0, batch_size=128)
    cfg["data"]["image_size"] = 16
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(cfg))
    base = tmp_path / "base"
    assert main(["train", "--config", str(config), "--out", str(base), "--no-progress"]) == 0
    joint = read_checkpoint(base / "last.pt")["model"]
    rates = {}
    for arm, weight in (("plain", 0.0), ("sparse", 5.0)):
        run = tmp_path / arm
        shutil.copytree(base, run)
        assert main(["train", "--resume", str(run / "last.pt"), "--epochs", "3", "--set", "train.decoder_epochs=2",
                     "--set", "train.decoder_lr=0.003", "--set",
                     f"train.spike_rate_penalty={{decoder.0: {weight}, decoder.1: {weight}}}",
                     "--out", str(run), "--no-progress"]) == 0
        after = read_checkpoint(run / "last.pt")["model"]
        moved = [k for k in joint if not torch.equal(joint[k], after[k])]
        assert moved and all(k.split(".")[0] in ("decoder_fc", "decoder", "output") for k in moved), moved
        log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        assert [r.get("phase") for r in log] == [None, "decoder", "decoder"]
        rates[arm] = log[-1]["spike_rates"]
        assert (log[-1]["spike_penalty"] > 0) == (weight > 0)
    for layer in ("decoder.0", "decoder.1"):
        assert rates["sparse"][layer] < rates["plain"][layer], rates

