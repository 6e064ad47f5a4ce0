"""The prior stage of training: its two loss terms, and that it trains the prior alone."""
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from fsvae_fpga.cli import main
from fsvae_fpga.config import ConfigError, load_config, with_overrides
from fsvae_fpga.model.losses import batch_mmd, image_mmd, prior_nll
from fsvae_fpga.training.checkpoint import read_checkpoint


def _small_config(tmp_path, **train) -> Path:
    """configs/small.yaml at 16 x 16 pixels (4x less work; the stages' logic is the same) with
    the given train keys, written to tmp_path/cfg.yaml."""
    from conftest import ROOT
    cfg = yaml.safe_load((ROOT / "configs" / "small.yaml").read_text())
    cfg["train"].update(batch_size=128, **train)
    cfg["data"]["image_size"] = 16
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(cfg))
    return config


def _moved(before: Path, after: Path) -> list[str]:
    """The names of the tensors that differ between two checkpoints' models."""
    a, b = read_checkpoint(before)["model"], read_checkpoint(after)["model"]
    return [k for k in a if not torch.equal(a[k], b[k])]


def _joint_then_one_prior_epoch(tmp_path, config: Path, joint_epochs: int) -> Path:
    """Trains config's joint epochs, keeps that checkpoint as tmp_path/joint.pt, resumes into
    one prior-stage epoch, and checks that the prior's tensors alone moved; returns the run."""
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run), "--no-progress"]) == 0
    shutil.copy(run / "last.pt", tmp_path / "joint.pt")
    assert main(["train", "--resume", str(run / "last.pt"), "--epochs", str(joint_epochs + 1),
                 "--set", "train.prior_epochs=1", "--out", str(run), "--no-progress"]) == 0
    moved = _moved(tmp_path / "joint.pt", run / "last.pt")
    assert moved and all(k.startswith("prior.") for k in moved), moved
    return run


def _codes(modes, per_mode, T=4, C=16, seed=0):
    """(T, B, C) binary codes: ``per_mode`` noisy copies of each of ``modes`` random patterns."""
    g = torch.Generator().manual_seed(seed)
    centres = (torch.rand(max(modes) + 1, T, C, generator=g) < 0.5).float()
    out = []
    for m in modes:
        flip = (torch.rand(per_mode, T, C, generator=g) < 0.05).float()
        out.append((centres[m] + flip) % 2)
    return torch.cat(out).permute(1, 0, 2)


def test_batch_mmd_is_zero_for_the_same_set_and_symmetric():
    a, b = _codes([0, 1], 16), _codes([0, 1], 16, seed=0)
    assert float(batch_mmd(a, a)) == pytest.approx(0.0, abs=1e-6)
    c = _codes([2, 3], 16, seed=1)
    assert float(batch_mmd(a, c)) == pytest.approx(float(batch_mmd(c, a)), rel=1e-5)
    assert float(batch_mmd(a, b)) == pytest.approx(0.0, abs=1e-6)     # same seed: the same codes


def test_batch_mmd_sees_a_missing_mode():
    """Samples covering 2 of 4 modes are further from the 4-mode codes than samples covering
    all 4 (another draw of them): the thing a per-image loss cannot see."""
    target = _codes([0, 1, 2, 3], 16, seed=3)
    g = torch.Generator().manual_seed(9)
    noisy_all = (target + (torch.rand(target.shape, generator=g) < 0.05).float()) % 2
    two_modes = torch.cat([target[:, :16], target[:, :16], target[:, 16:32], target[:, 16:32]], dim=1)
    assert float(batch_mmd(two_modes, target)) > 2 * float(batch_mmd(noisy_all, target))


def test_batch_mmd_gradient_moves_samples_towards_the_missing_mode():
    target = _codes([0, 1], 32, seed=4)
    probs = torch.full((target.shape[0], 64, target.shape[2]), 0.5, requires_grad=True)
    loss = batch_mmd(probs, target)
    loss.backward()
    assert torch.isfinite(probs.grad).all() and probs.grad.abs().sum() > 0


def test_prior_nll_is_the_bernoulli_likelihood_with_a_clamp():
    k = 4
    r = torch.tensor([[[0.25, 1.0, 0.0, 0.5]]])
    z = torch.tensor([[[1.0, 1.0, 1.0, 0.0]]])
    eps = 0.5 / k
    want = -(torch.log(torch.tensor(0.25)) + torch.log(torch.tensor(1 - eps)) + torch.log(torch.tensor(eps))
             + torch.log(torch.tensor(0.5))) / 4
    assert float(prior_nll(r, z, k)) == pytest.approx(float(want), rel=1e-6)


def test_prior_epochs_must_follow_the_float_stage(small_cfg):
    with pytest.raises(ConfigError, match="prior_epochs"):
        with_overrides(small_cfg, **{"train.epochs": 3, "train.float_epochs": 2, "train.prior_epochs": 2})
    assert with_overrides(small_cfg, **{"train.epochs": 3, "train.float_epochs": 1,
                                        "train.prior_epochs": 2})["train"]["prior_epochs"] == 2


def test_the_prior_stage_trains_the_prior_alone(tmp_path):
    """2 joint epochs, then resumed into 1 prior-stage epoch, then resumed inside the stage:
    every tensor but the prior's stays equal (reconstruction is unchanged), the prior's move."""
    config = _small_config(tmp_path, epochs=2, float_epochs=1, images_per_epoch=1024)
    run = _joint_then_one_prior_epoch(tmp_path, config, joint_epochs=2)
    joint = read_checkpoint(tmp_path / "joint.pt")["model"]
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r.get("phase") for r in log] == [None, None, "prior"]
    assert log[-1]["test_mse"] == log[-2]["test_mse"]          # the same encoder, posterior, decoder
    assert log[-1]["batch_mmd"] > 0 and log[-1]["prior_nll"] > 0
    # resumed inside the prior stage: its optimizer state is the prior's
    assert main(["train", "--resume", str(run / "last.pt"), "--epochs", "4", "--set", "train.prior_epochs=2",
                 "--out", str(run), "--no-progress"]) == 0
    again = read_checkpoint(run / "last.pt")["model"]
    assert all(torch.equal(joint[k], again[k]) for k in joint if not k.startswith("prior."))
    # lengthened past its prior stage, the run goes back to a joint epoch: the checkpoint holds
    # the prior's optimizer, so the joint stage starts a fresh one and trains every tensor
    assert main(["train", "--resume", str(run / "last.pt"), "--epochs", "5", "--set", "train.prior_epochs=0",
                 "--out", str(run), "--no-progress"]) == 0
    rejoined = read_checkpoint(run / "last.pt")
    assert rejoined["history"][-1].get("phase") is None
    assert any(not torch.equal(again[k], rejoined["model"][k]) for k in again if k.startswith("decoder"))
    from conftest import ROOT
    assert load_config(ROOT / "configs" / "small.yaml")["train"]["prior_epochs"] == 0   # default: no stage


def test_joint_batch_mmd_is_added_to_the_joint_loss(tmp_path):
    """train.joint_batch_mmd: each joint step's loss is recon + mmd_weight x MMD + weight x the
    batch MMD between the prior's free-running samples and the posterior's codes (so the
    epoch's mean loss is that sum of means), logged as batch_mmd; weight 0 logs none."""
    config = _small_config(tmp_path, epochs=1, float_epochs=0, images_per_epoch=512, joint_batch_mmd=0.5,
                           mmd_weight=2.0)
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    record = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[-1])
    assert record["batch_mmd"] > 0
    assert record["loss"] == pytest.approx(record["recon"] + 2.0 * record["reg"] + 0.5 * record["batch_mmd"],
                                           rel=1e-6)
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "plain"), "--no-progress",
                 "--set", "train.joint_batch_mmd=0"]) == 0
    plain = json.loads((tmp_path / "plain" / "log.jsonl").read_text().splitlines()[-1])
    assert "batch_mmd" not in plain
    assert plain["loss"] == pytest.approx(plain["recon"] + 2.0 * plain["reg"], rel=1e-6)


def test_image_mmd_sees_a_missing_cluster_and_its_gradient_reaches_the_samples():
    """Images from 2 of 4 pixel-space clusters are further from a 4-cluster set than another
    draw from all 4; zero for the same set; a finite, non-zero gradient into the samples."""
    g = torch.Generator().manual_seed(5)
    centres = torch.rand(4, 1, 8, 8, generator=g) * 2 - 1

    def draw(clusters, per, seed):
        gg = torch.Generator().manual_seed(seed)
        return torch.cat([centres[c] + 0.1 * torch.randn(per, 1, 8, 8, generator=gg) for c in clusters])

    target = draw([0, 1, 2, 3], 16, 1)
    assert float(image_mmd(target, target)) == pytest.approx(0.0, abs=1e-6)
    assert float(image_mmd(draw([0, 1], 32, 2), target)) > 2 * float(image_mmd(draw([0, 1, 2, 3], 16, 3), target))
    samples = draw([0, 1], 32, 4).requires_grad_(True)
    image_mmd(samples, target).backward()
    assert torch.isfinite(samples.grad).all() and samples.grad.abs().sum() > 0


def test_prior_image_mmd_trains_the_prior_alone_and_is_added_to_its_loss(tmp_path):
    """train.prior_image_mmd: the prior stage's loss is prior_nll + prior_batch_mmd x batch_mmd
    + weight x image_mmd (so the epoch's mean loss is that sum of means); the decoder it
    back-propagates through stays frozen, so only the prior's tensors move."""
    config = _small_config(tmp_path, epochs=1, float_epochs=0, images_per_epoch=512, prior_batch_mmd=0.5,
                           prior_image_mmd=2.0)
    run = _joint_then_one_prior_epoch(tmp_path, config, joint_epochs=1)
    record = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert record["phase"] == "prior" and record["image_mmd"] > 0
    assert record["loss"] == pytest.approx(record["prior_nll"] + 0.5 * record["batch_mmd"]
                                           + 2.0 * record["image_mmd"], rel=1e-6)


def test_prior_batch_size_sets_the_prior_stages_batches_alone(tmp_path):
    """train.prior_batch_size: the prior stage takes its batches at that size (512 images an
    epoch in 2 steps of 256, against 4 of the joint stage's 128); a size out of range is a
    config error that names the key."""
    config = _small_config(tmp_path, epochs=1, float_epochs=0, images_per_epoch=512, prior_batch_size=256)
    run = _joint_then_one_prior_epoch(tmp_path, config, joint_epochs=1)
    record = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert record["phase"] == "prior" and record["steps"] == 2
    (tmp_path / "default").mkdir()
    default = _small_config(tmp_path / "default", epochs=1, float_epochs=0, images_per_epoch=512)
    plain = _joint_then_one_prior_epoch(tmp_path / "default", default, joint_epochs=1)
    assert json.loads((plain / "log.jsonl").read_text().splitlines()[-1])["steps"] == 4
    with pytest.raises(ConfigError, match="prior_batch_size"):
        with_overrides(load_config(config), **{"train.prior_batch_size": 0})


def test_prior_scheduled_p_replaces_the_schedule_in_the_prior_stage_alone(tmp_path):
    """train.prior_scheduled_p: the prior stage logs and uses that probability, the joint
    stage keeps the run's schedule; out of [0, 1] is a config error naming the key."""
    config = _small_config(tmp_path, epochs=1, float_epochs=0, images_per_epoch=256, prior_scheduled_p=0.75)
    run = _joint_then_one_prior_epoch(tmp_path, config, joint_epochs=1)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert log[-1]["phase"] == "prior" and log[-1]["scheduled_p"] == 0.75
    assert log[0]["scheduled_p"] != 0.75
    with pytest.raises(ConfigError, match="prior_scheduled_p"):
        with_overrides(load_config(config), **{"train.prior_scheduled_p": 1.5})


def test_batch_mmd_widths_reach_the_prior_stages_term(tmp_path):
    """train.batch_mmd_widths: one very wide kernel sees every pair of codes as alike, so the
    prior stage's batch MMD is about 0, where the default widths log a clearly positive term;
    an empty list or a width of 0 is a config error naming the key."""
    config = _small_config(tmp_path, epochs=1, float_epochs=0, images_per_epoch=256, batch_mmd_widths=[1e5])
    run = _joint_then_one_prior_epoch(tmp_path, config, joint_epochs=1)
    record = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert record["phase"] == "prior" and 0 <= record["batch_mmd"] < 1e-4
    cfg = load_config(config)
    from conftest import ROOT
    from fsvae_fpga.model.losses import BATCH_MMD_WIDTHS
    default = load_config(ROOT / "configs" / "small.yaml")["train"]["batch_mmd_widths"]
    assert default == list(BATCH_MMD_WIDTHS)             # the config's default is the loss's
    z = _codes([0, 1, 2, 3], 8)
    assert float(batch_mmd(z[:, :16], z[:, 16:], default)) > 0.05
    for bad in ([], [0.0]):
        with pytest.raises(ConfigError, match="batch_mmd_widths"):
            with_overrides(cfg, **{"train.batch_mmd_widths": bad})


def test_batch_mmd_floor_script_splits_the_term_into_floor_and_signal():
    """scripts/batch_mmd_floor.py: its biased value is losses.set_mmd's exactly; for codes
    without clusters (every pair about the mean distance apart, as the model's codes are) two
    draws of one distribution score ~0 unbiased and about 2 x 4 widths / n biased, the floor;
    a missing mode shows in the unbiased value."""
    import sys
    from conftest import ROOT
    from fsvae_fpga.model.losses import BATCH_MMD_WIDTHS, psp, set_mmd
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from batch_mmd_floor import mmd_both
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    pts = lambda z: psp(z).permute(1, 0, 2).flatten(1)
    g = torch.Generator().manual_seed(7)
    a, b = (pts((torch.rand(8, 64, 64, generator=g) < 0.5).float()) for _ in range(2))
    biased, unbiased = mmd_both(a, b, BATCH_MMD_WIDTHS)
    assert biased == pytest.approx(float(set_mmd(a, b)), rel=1e-6)
    assert biased == pytest.approx(2 * len(BATCH_MMD_WIDTHS) / 64, rel=0.1) and abs(unbiased) < 0.05 * biased
    both = pts(_codes([0, 1, 2, 3], 32, seed=1))          # clustered: one draw split in halves
    _, same = mmd_both(both[0::2], both[1::2], BATCH_MMD_WIDTHS)
    _, missing = mmd_both(pts(_codes([0, 1], 64, seed=1))[0::2], both[1::2], BATCH_MMD_WIDTHS)
    assert missing > 3 * abs(same)


def test_prior_hidden_rates_are_the_mean_spikes_of_prior_0_and_1_over_the_pass(small_cfg):
    """FSVAE.prior_latents records the mean spike rate of the prior's two hidden layers over
    its T steps (the events of prior.1 and prior.2 in hardware), recomputed here by stepping
    the prior by hand on the same fed-back codes."""
    from fsvae_fpga.model.fsvae import FSVAE
    from fsvae_fpga.model.latent import TorchIndexSource
    torch.manual_seed(0)
    model = FSVAE(small_cfg).eval()
    with torch.no_grad():
        zs, _ = model.prior_latents(TorchIndexSource(3), 8)
        rates = {k: float(v) for k, v in model.prior_hidden_rates.items()}
        state, z_in, sums = None, torch.zeros(8, model.C), [0.0, 0.0]
        for t in range(model.T):
            _, state = model.prior.step(z_in, state)
            sums = [s + float(state[i][1].mean()) for i, s in enumerate(sums[:2])]
            z_in = zs[t]
    assert set(rates) == {"prior.0", "prior.1"}
    assert rates["prior.0"] == pytest.approx(sums[0] / model.T, rel=1e-6)
    assert rates["prior.1"] == pytest.approx(sums[1] / model.T, rel=1e-6)
    assert 0 < rates["prior.0"] < 1 and 0 < rates["prior.1"] < 1


def test_prior_spike_rate_penalty_is_added_to_the_prior_stages_loss(tmp_path):
    """train.prior_spike_rate_penalty: the prior stage's loss is prior_nll + batch MMD + weight
    x (rate of prior.0 + rate of prior.1) of the free-running prior, logged as
    prior_hidden_rate; a negative weight is a config error naming the key."""
    config = _small_config(tmp_path, epochs=1, float_epochs=0, images_per_epoch=256, prior_batch_mmd=0.5,
                           prior_spike_rate_penalty=3.0)
    run = _joint_then_one_prior_epoch(tmp_path, config, joint_epochs=1)
    record = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert record["phase"] == "prior" and 0 < record["prior_hidden_rate"] < 2
    assert record["loss"] == pytest.approx(record["prior_nll"] + 0.5 * record["batch_mmd"]
                                           + 3.0 * record["prior_hidden_rate"], rel=1e-6)
    with pytest.raises(ConfigError, match="prior_spike_rate_penalty"):
        with_overrides(load_config(config), **{"train.prior_spike_rate_penalty": -1.0})


def test_prior_spike_rate_penalty_and_image_mmd_are_logged_under_their_own_names(tmp_path):
    """Both extra prior-stage terms at once: each logged value is its own term (the loss is
    the weighted sum of the logged means only if no term is logged under another's name)."""
    config = _small_config(tmp_path, epochs=1, float_epochs=0, images_per_epoch=256, prior_batch_mmd=0.5,
                           prior_image_mmd=2.0, prior_spike_rate_penalty=100.0)
    run = _joint_then_one_prior_epoch(tmp_path, config, joint_epochs=1)
    record = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert 0 < record["prior_hidden_rate"] < 2 and record["image_mmd"] > 0
    assert record["loss"] == pytest.approx(record["prior_nll"] + 0.5 * record["batch_mmd"]
                                           + 2.0 * record["image_mmd"] + 100.0 * record["prior_hidden_rate"],
                                           rel=1e-6)
