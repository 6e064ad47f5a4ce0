"""Config validation: a wrong key or value is named in the error."""
import copy

import pytest
import yaml

from fsvae_fpga.config import ConfigError, load_config, validate, with_overrides


def test_shipped_configs_are_valid(small_cfg):
    from conftest import ROOT
    paper = load_config(ROOT / "configs" / "mnist.yaml")
    assert paper["network"] == {"time_steps": 16, "latent_dim": 128, "k": 20,
                                "encoder_channels": [32, 64, 128, 256], "latent_batch_norm": True,
                                "bn_scale": 0.2, "latent_bn_scale": 0.4, "surrogate_centre": "zero"}
    assert paper["train"]["fixed_point_lr"] == 2e-4
    assert paper["train"]["detach_teacher"] is False and paper["train"]["detach_history"] is False
    with pytest.raises(ConfigError, match="train.detach_teacher: expected true or false"):
        with_overrides(paper, **{"train.detach_teacher": 1})
    assert small_cfg["network"]["time_steps"] < 16


@pytest.mark.parametrize("path, value, message", [
    ("network.k", 0, "network.k"),
    ("network.k", "twenty", "network.k: expected an integer"),
    ("quant.weight_bits", 6, "quant.weight_bits: 6 is not one of [4, 8]"),
    ("data.dataset", "imagenet", "data.dataset"),
    ("train.lr", -1.0, "train.lr"),
    ("network.encoder_channels", [32], "network.encoder_channels"),
    ("data.image_size", 40, "data.image_size: 40 must be divisible by 2^4"),
    ("model", "gan", "model"),
    ("train.lr_final", "low", "train.lr_final: expected a number"),
    ("train.scheduled_sampling_mode", "coin", "train.scheduled_sampling_mode: 'coin' is not one of"),
])
def test_bad_values_are_named(small_cfg, path, value, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]").replace("^", r"\^")):
        with_overrides(small_cfg, **{path: value})


def test_unknown_and_missing_keys_are_named(small_cfg):
    raw = copy.deepcopy(small_cfg)
    raw["network"]["latent_size"] = 3
    with pytest.raises(ConfigError, match="unknown key network.latent_size"):
        validate(raw)
    raw = copy.deepcopy(small_cfg)
    del raw["train"]["lr"]
    with pytest.raises(ConfigError, match="missing key train.lr"):
        validate(raw)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump({"model": "fsvae"}))
    with pytest.raises(ConfigError, match="wrong.yaml: missing key data"):
        load_config(wrong)


def test_threshold_rule_defaults_to_round_for_configs_written_before_it():
    from conftest import ROOT
    cfg = load_config(ROOT / "configs" / "small.yaml")
    assert cfg["quant"]["threshold"] == "floor"
    old = copy.deepcopy(cfg)
    del old["quant"]["threshold"]
    assert validate(old)["quant"]["threshold"] == "round"
    old["quant"]["threshold"] = "ceil"
    with pytest.raises(ConfigError, match="quant.threshold"):
        validate(old)


def test_learning_rate_schedule_is_a_cosine_per_stage(small_cfg):
    """train.lr_final: lr at each stage's first epoch, lr_final at its last, monotone between;
    null (the default, and checkpoints before the key) keeps lr constant."""
    from fsvae_fpga.training.train import _stage_lr
    assert small_cfg["train"]["lr_final"] is None
    assert {_stage_lr(small_cfg, e, 20) for e in range(20)} == {small_cfg["train"]["lr"]}
    cfg = with_overrides(small_cfg, **{"train.lr": 1e-3, "train.lr_final": 1e-4, "train.epochs": 20,
                                       "train.float_epochs": 8})
    lrs = [_stage_lr(cfg, e, 20) for e in range(20)]
    assert lrs[0] == lrs[8] == 1e-3 and lrs[7] == lrs[19] == pytest.approx(1e-4, abs=1e-15)
    assert all(a > b for a, b in zip(lrs[:7], lrs[1:8])) and all(a > b for a, b in zip(lrs[8:19], lrs[9:]))
    assert lrs[7] < lrs[8]                                   # a fresh start at the fold


def test_fixed_point_stage_starts_from_its_own_learning_rate(small_cfg):
    """train.fixed_point_lr: the fixed-point joint stage starts there (then the cosine to
    lr_final); the float stage keeps train.lr; null (the default) is train.lr throughout."""
    from fsvae_fpga.training.train import _stage_lr
    assert small_cfg["train"]["fixed_point_lr"] is None
    cfg = with_overrides(small_cfg, **{"train.lr": 1e-3, "train.fixed_point_lr": 2e-4, "train.epochs": 20,
                                       "train.float_epochs": 8, "train.prior_epochs": 4})
    lrs = [_stage_lr(cfg, e, 20) for e in range(16)]
    assert lrs[:8] == [1e-3] * 8 and lrs[8:] == [2e-4] * 8
    cosine = with_overrides(cfg, **{"train.lr_final": 1e-5})
    lrs = [_stage_lr(cosine, e, 20) for e in range(16)]
    assert lrs[0] == 1e-3 and lrs[8] == 2e-4 and lrs[15] == pytest.approx(1e-5, abs=1e-15)
    assert all(a > b for a, b in zip(lrs[8:15], lrs[9:16]))
    with pytest.raises(ConfigError, match="train.fixed_point_lr"):
        with_overrides(small_cfg, **{"train.fixed_point_lr": 2.0})


def test_images_per_epoch_draws_a_fresh_subset_each_epoch(small_cfg):
    """train.images_per_epoch: each epoch sees that many distinct images, a different subset
    per epoch; null (the default) sees every image once."""
    import torch
    from fsvae_fpga.training.train import _batches
    x = torch.arange(100.0)[:, None]
    assert small_cfg["train"]["images_per_epoch"] is None

    def seen(cfg, epoch):
        return torch.cat(list(_batches(cfg, x, epoch, 10, progress=False)[3]))[:, 0].tolist()

    assert sorted(seen(small_cfg, 0)) == list(range(100))
    cfg = with_overrides(small_cfg, **{"train.images_per_epoch": 30})
    first, second = seen(cfg, 0), seen(cfg, 1)
    assert len(first) == len(set(first)) == 30 and len(second) == 30 and set(first) != set(second)
    assert seen(cfg, 0) == first                                          # seeded
