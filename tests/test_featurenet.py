"""Tests for fsvae_fpga.evaluation.featurenet: Fréchet distance, feature-net training and checkpoints."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch


from fsvae_fpga.evaluation.featurenet import (FeatureNet, FeatureNetError, accuracy, extract_features,
                                              frechet_distance, frechet_score, load_feature_net,
                                              save_feature_net, train_feature_net)

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- data

def _patterns(size: int = 32) -> torch.Tensor:
    """10 visually distinct 1-channel patterns in [-1, 1], shape (10, size, size)."""
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                          torch.arange(size, dtype=torch.float32), indexing="ij")
    c = (size - 1) / 2
    r = torch.sqrt((x - c) ** 2 + (y - c) ** 2)
    pats = [
        torch.sin(x * 2 * np.pi / 8),                       # vertical stripes
        torch.sin(y * 2 * np.pi / 8),                       # horizontal stripes
        torch.sin((x + y) * 2 * np.pi / 8),                 # diagonal
        torch.sin((x - y) * 2 * np.pi / 8),                 # anti-diagonal
        torch.sign(torch.sin(x * np.pi / 4) * torch.sin(y * np.pi / 4)),  # checkerboard
        torch.sin(r * 2 * np.pi / 8),                       # rings
        (r < size / 4).float() * 2 - 1,                     # filled disc
        ((x - c).abs().maximum((y - c).abs()) < size / 4).float() * 2 - 1,  # filled square
        torch.full((size, size), -1.0),                     # blank
        torch.sin(x * 2 * np.pi / 3),                       # fine vertical stripes
    ]
    return torch.stack(pats).clamp(-1, 1)


def _dataset(per_class: int = 40, seed: int = 0, size: int = 32):
    g = torch.Generator().manual_seed(seed)
    pats = _patterns(size)
    labels = torch.arange(10).repeat_interleave(per_class)
    imgs = pats[labels] + 0.3 * torch.randn(len(labels), size, size, generator=g)
    return imgs.clamp(-1, 1).unsqueeze(1), labels


@pytest.fixture(scope="module")
def trained():
    images, labels = _dataset()
    net = train_feature_net(images, labels, epochs=4, seed=0, batch_size=32, progress=False)
    return net, images, labels


# ----------------------------------------------------------------------------- Fréchet distance

def test_fd_self_is_zero():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    assert frechet_distance(f, f) < 1e-6


def test_fd_matches_closed_form_diagonal():
    rng = np.random.default_rng(1)
    n, d = 40000, 4
    mu_a, mu_b = np.array([0.0, 1.0, -1.0, 0.5]), np.array([1.0, 0.0, -1.0, 2.0])
    var_a, var_b = np.array([1.0, 4.0, 0.25, 2.0]), np.array([2.0, 1.0, 1.0, 0.5])
    a = mu_a + rng.normal(size=(n, d)) * np.sqrt(var_a)
    b = mu_b + rng.normal(size=(n, d)) * np.sqrt(var_b)
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = frechet_distance(a, b)
    assert got == pytest.approx(expected, rel=0.03)


def test_fd_matches_closed_form_full_covariance():
    # Commuting-free check: compare against an independent computation of
    # Tr((S_a S_b)^{1/2}) via the eigenvalues of S_a S_b (real, non-negative).
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 0.3
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ev = np.linalg.eigvals(sa @ sb).real
    ref = (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sa) + np.trace(sb)
           - 2 * np.sqrt(np.clip(ev, 0, None)).sum())
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-6)


def test_fd_symmetric_and_monotone_in_shift():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(400, 8))
    b = rng.normal(size=(400, 8)) * 1.5 + 0.2
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)
    base = rng.normal(size=(400, 8))
    dists = [frechet_distance(a, base + s) for s in (0.0, 0.5, 1.0, 2.0)]
    assert all(x < y for x, y in zip(dists, dists[1:]))


def test_fd_input_validation():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(ValueError):
        frechet_distance(np.zeros((5, 4)), np.zeros((1, 4)))
    with pytest.raises(ValueError):
        frechet_distance(np.zeros((5, 4)), np.zeros((5, 3)))
    assert frechet_distance(np.zeros((3, 2)), np.zeros((3, 2))) == 0.0  # degenerate, but >= 0


# ----------------------------------------------------------------------------- network

def test_architecture_shapes():
    torch.manual_seed(0)
    net = FeatureNet(in_channels=3, image_size=64, num_classes=7, feature_dim=32).eval()
    x = torch.rand(5, 3, 64, 64) * 2 - 1
    assert net(x).shape == (5, 7)
    assert net.features(x).shape == (5, 32)
    assert (net.features(x) >= 0).all()
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())
    with pytest.raises(ValueError):
        net(torch.zeros(2, 1, 64, 64))


def test_training_accuracy_and_features(trained):
    net, images, labels = trained
    assert not net.training
    test_images, test_labels = _dataset(per_class=10, seed=123)
    acc = accuracy(net, test_images, test_labels)
    assert acc > 0.6, acc  # chance is 0.1
    feats = extract_features(net, test_images, batch_size=32)
    assert feats.shape == (100, 128) and feats.dtype == np.float64
    # Same data -> small score; clearly different data -> larger score.
    same = frechet_score(net, images[::2], images[1::2])
    noise = torch.rand_like(test_images) * 2 - 1
    assert frechet_score(net, images, noise) > same


def test_training_deterministic():
    images, labels = _dataset(per_class=6)
    n1 = train_feature_net(images, labels, epochs=1, seed=7, batch_size=16, progress=False)
    n2 = train_feature_net(images, labels, epochs=1, seed=7, batch_size=16, progress=False)
    n3 = train_feature_net(images, labels, epochs=1, seed=8, batch_size=16, progress=False)
    f1, f2, f3 = (extract_features(n, images) for n in (n1, n2, n3))
    np.testing.assert_array_equal(f1, f2)
    assert not np.array_equal(f1, f3)


# ----------------------------------------------------------------------------- checkpoints

def test_save_load_roundtrip(trained, tmp_path):
    net, images, _ = trained
    path = tmp_path / "sub" / "featurenet.pt"
    meta = {"dataset": "synthetic", "epochs": 4, "accuracy": 0.9}
    save_feature_net(net, path, meta)
    assert path.exists() and not Path(str(path) + ".tmp").exists()
    net2, meta2 = load_feature_net(path)
    assert meta2 == meta and not net2.training
    assert net2.config == net.config
    np.testing.assert_array_equal(extract_features(net, images[:20]), extract_features(net2, images[:20]))

    # Saving over an existing file leaves a loadable file with the new content.
    save_feature_net(net, path, {"dataset": "again"})
    _, meta3 = load_feature_net(str(path))
    assert meta3 == {"dataset": "again"}


def test_load_errors(trained, tmp_path):
    net, _, _ = trained
    good = tmp_path / "good.pt"
    save_feature_net(net, good, {})
    data = good.read_bytes()

    missing = tmp_path / "missing.pt"
    with pytest.raises(FeatureNetError, match="missing.pt"):
        load_feature_net(missing)

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(FeatureNetError, match="truncated.pt"):
        load_feature_net(truncated)

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(FeatureNetError, match="garbage.pt"):
        load_feature_net(garbage)

    wrong = tmp_path / "wrong.pt"
    torch.save({"format": "something-else", "version": 1}, wrong)
    with pytest.raises(FeatureNetError, match="wrong.pt"):
        load_feature_net(wrong)

    plain_state = tmp_path / "plain_state.pt"
    torch.save(net.state_dict(), plain_state)
    with pytest.raises(FeatureNetError, match="plain_state.pt"):
        load_feature_net(plain_state)

    bad_weights = tmp_path / "bad_weights.pt"
    torch.save({"format": "fsvae-fpga-featurenet", "version": 1,
                "config": {"in_channels": 3, "image_size": 32, "num_classes": 10, "feature_dim": 128},
                "state_dict": net.state_dict(), "meta": {}}, bad_weights)
    with pytest.raises(FeatureNetError, match="bad_weights.pt"):
        load_feature_net(bad_weights)
    assert os.path.exists(good)


# ----------------------------------------------------------------------------- the sharp net

def test_sharp_net_learns_saves_and_loads_with_its_arch(tmp_path):
    from fsvae_fpga.evaluation.sharp_featurenet import SharpFeatureNet, train_sharp_feature_net
    images, labels = _dataset(per_class=20)
    net = train_sharp_feature_net(images, labels, epochs=3, seed=0, batch_size=32, progress=False)
    assert not net.training and accuracy(net, images, labels) >= 0.8      # chance: 0.1
    feats = extract_features(net, images[:8])
    assert feats.shape == (8, 128) and np.array_equal(feats, extract_features(net, images[:8])), "eval: deterministic"
    path = tmp_path / "sharp.pt"
    save_feature_net(net, path, {"arch": "sharp"})
    net2, _ = load_feature_net(path)
    assert isinstance(net2, SharpFeatureNet) and net2.config["arch"] == "bn-cnn"
    np.testing.assert_array_equal(extract_features(net2, images[:8]), feats)


def test_unknown_arch_is_refused(trained, tmp_path):
    net, _, _ = trained
    path = tmp_path / "alien.pt"
    torch.save({"format": "fsvae-fpga-featurenet", "version": 1, "config": {**net.config, "arch": "vit"},
                "state_dict": net.state_dict(), "meta": {}}, path)
    with pytest.raises(FeatureNetError, match="unknown arch 'vit'"):
        load_feature_net(path)


def test_shipped_sharp_net_is_sharper_than_the_classic_one():
    """The shipped nets' held-out accuracy on the embedded MNIST test digits, measured again."""
    from fsvae_fpga.data import load_images
    from fsvae_fpga.evaluation.inference import featurenet_path
    test = load_images("mnist-embedded", "test", 32, None)
    sharp, meta = load_feature_net(featurenet_path("mnist-embedded", "sharp"))
    classic, _ = load_feature_net(featurenet_path("mnist-embedded", "classic"))
    acc_sharp, acc_classic = accuracy(sharp, test.images, test.labels), accuracy(classic, test.images, test.labels)
    assert acc_sharp >= 0.98 and acc_sharp == pytest.approx(meta["held_out_accuracy"])
    assert acc_classic < acc_sharp
