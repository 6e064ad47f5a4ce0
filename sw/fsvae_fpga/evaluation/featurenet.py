"""Feature network and Fréchet distance for download-free sample-quality scoring.

What the score is
-----------------
The project scores generated images with a *Fréchet distance* (the formula
behind FID) computed in the feature space of a small CNN classifier,
:class:`FeatureNet`, that the project trains itself on the same data set as the
VAE and ships as a checkpoint (and a sharper batch-norm classifier, sharp_featurenet.py, whose score is
reported beside this one).  Both the real and the generated images are
mapped to the penultimate activations of that classifier
(:meth:`FeatureNet.features`), each set of features is summarised by its mean
``mu`` and covariance ``S``, and the score is::

    FD = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})

Lower is better; 0 means identical feature statistics.

What it is NOT
--------------
This is **not** the FID number reported in the FSVAE paper (or anywhere else):
that uses the Inception-v3 network pretrained on ImageNet, which would need a
download and is a much larger model.  The values here live on a different
scale.  They are only comparable between runs that use the *same shipped
feature-net checkpoint* (same weights, same data set); retraining the feature
net changes every score.

How the feature net is trained
------------------------------
:func:`train_feature_net` trains a plain-torch CNN (conv3x3(32)-ReLU-maxpool,
conv3x3(64)-ReLU-maxpool, conv3x3(128)-ReLU-global-average-pool,
linear(128->feature_dim)-ReLU, linear(feature_dim->num_classes); no batch norm,
no dropout, so features are deterministic) as an ordinary classifier of the
data set's labels with Adam (lr 1e-3) and cross-entropy, using random shifts
of +-2 pixels as augmentation.  Training is deterministic for a given seed on a
given machine/torch build.  Images are expected as float tensors of shape
``(N, C, H, W)`` scaled to ``[-1, 1]``.

The trace term is computed without scipy: ``Tr((S_a S_b)^{1/2})`` equals the
sum of the square roots of the eigenvalues of the symmetric PSD matrix
``sqrt(S_a) S_b sqrt(S_a)``, where ``sqrt(S_a)`` comes from
:func:`numpy.linalg.eigh`.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "FeatureNet",
    "FeatureNetError",
    "train_feature_net",
    "accuracy",
    "save_feature_net",
    "load_feature_net",
    "extract_features",
    "frechet_distance",
    "frechet_score",
    "FORMAT",
    "VERSION",
]

FORMAT = "fsvae-fpga-featurenet"
VERSION = 1
_CONFIG_KEYS = ("in_channels", "image_size", "num_classes", "feature_dim")
_SHIFT = 2  # max augmentation shift in pixels


class FeatureNetError(Exception):
    """A feature-net checkpoint is missing, unreadable or not in the expected format."""


class FeatureNet(nn.Module):
    """Small CNN classifier for (N, C, H, W) images in [-1, 1] with H = W = image_size (32 or 64).

    :meth:`features` gives the penultimate activations (N, feature_dim).
    """

    def __init__(self, in_channels: int = 1, image_size: int = 32, num_classes: int = 10,
                 feature_dim: int = 128):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("image_size", image_size),
                            ("num_classes", num_classes), ("feature_dim", feature_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"FeatureNet: {name} must be a positive int, got {value!r}")
        if image_size < 4:
            raise ValueError(f"FeatureNet: image_size must be >= 4 (two 2x2 max-pools), got {image_size}")
        self.in_channels = int(in_channels)
        self.image_size = int(image_size)
        self.num_classes = int(num_classes)
        self.feature_dim = int(feature_dim)

        self.conv1 = nn.Conv2d(self.in_channels, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(128, self.feature_dim)
        self.fc2 = nn.Linear(self.feature_dim, self.num_classes)

    @property
    def config(self) -> dict:
        return {k: getattr(self, k) for k in _CONFIG_KEYS}

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x)
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"FeatureNet expects images of shape (N, {expected[0]}, {expected[1]}, {expected[2]}), "
                f"got {tuple(x.shape)}")
        if not torch.is_floating_point(x):
            x = x.float()
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations, shape (N, feature_dim), float."""
        x = self._check_input(x)
        p = next(self.parameters())
        x = x.to(device=p.device, dtype=p.dtype)
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = F.relu(self.conv3(h))
        h = h.mean(dim=(2, 3))
        return F.relu(self.fc1(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, shape (N, num_classes)."""
        return self.fc2(self.features(x))


# ----------------------------------------------------------------------------- training

def _random_shift(x: torch.Tensor, gen: torch.Generator, shift: int = _SHIFT) -> torch.Tensor:
    """Shift every image independently by up to +-shift px (edge-replicated border)."""
    if shift <= 0:
        return x
    b, c, h, w = x.shape
    xp = F.pad(x, (shift, shift, shift, shift), mode="replicate")
    dy = torch.randint(0, 2 * shift + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * shift + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None, :]).to(x.device)  # (B, H)
    cols = (dx[:, None] + torch.arange(w)[None, :]).to(x.device)  # (B, W)
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(c, device=x.device)[None, :, None, None]
    return xp[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]


def _check_images_labels(images, labels) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.as_tensor(images)
    labels = torch.as_tensor(labels)
    if images.dim() != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    if images.shape[2] != images.shape[3]:
        raise ValueError(f"images must be square, got {tuple(images.shape)}")
    labels = labels.reshape(-1).long()
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    if images.shape[0] == 0:
        raise ValueError("empty data set")
    if int(labels.min()) < 0:
        raise ValueError("labels must be >= 0")
    return images.float(), labels


def train_feature_net(images: torch.Tensor, labels: torch.Tensor, epochs: int = 8, seed: int = 0,
                      batch_size: int = 128, progress: bool = True) -> FeatureNet:
    """Train a :class:`FeatureNet` classifier on ``images`` (N, C, H, W) in [-1, 1] and integer ``labels``.

    Adam (lr 1e-3), cross-entropy, random +-2 px shifts.  ``num_classes`` is
    ``labels.max() + 1``; ``in_channels``/``image_size`` come from the images.
    Deterministic for a given ``seed``.  Returns the net in eval mode (on CPU).
    """
    from tqdm import tqdm

    images, labels = _check_images_labels(images, labels)
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n, c, h, _ = images.shape
    num_classes = int(labels.max()) + 1

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = FeatureNet(in_channels=c, image_size=h, num_classes=num_classes)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    bar = tqdm(range(epochs), desc="featurenet", unit="epoch", disable=not progress)
    for _ in bar:
        perm = torch.randperm(n, generator=gen)
        total_loss, correct = 0.0, 0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            xb = _random_shift(images[idx], gen)
            yb = labels[idx]
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((logits.detach().argmax(1) == yb).sum())
        bar.set_postfix(loss=f"{total_loss / n:.4f}", acc=f"{correct / n:.3f}")
    bar.close()
    return net.eval()


@torch.no_grad()
def accuracy(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy (0..1) of ``net`` on ``images``/``labels`` (eval mode, no augmentation)."""
    images, labels = _check_images_labels(images, labels)
    was_training = net.training
    net.eval()
    try:
        correct = 0
        for start in range(0, images.shape[0], batch_size):
            pred = net(images[start:start + batch_size]).argmax(1).cpu()
            correct += int((pred == labels[start:start + batch_size]).sum())
    finally:
        net.train(was_training)
    return correct / images.shape[0]


# ----------------------------------------------------------------------------- checkpoint

def save_feature_net(net: FeatureNet, path, meta: dict) -> None:
    """Atomically save ``net`` and ``meta`` to ``path`` (written to ``path + '.tmp'`` then renamed).

    ``meta`` should hold plain values (str, int, float, bool, None, lists/dicts of
    those, tensors) so that it can be read back with ``weights_only=True``.
    """
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
    path = os.fspath(path)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": net.config,
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "meta": meta,
    }
    from fsvae_fpga.training.checkpoint import atomic_save  # the project's one atomic writer
    atomic_save(payload, path)


def load_feature_net(path) -> tuple[FeatureNet, dict]:
    """Load a checkpoint written by :func:`save_feature_net`; returns ``(net in eval mode, meta)``.

    Raises :class:`FeatureNetError` (naming the file) if it is missing, truncated,
    corrupt or not a feature-net checkpoint of a supported version.
    """
    path = os.fspath(path)
    redo = ("re-create it with the feature-net training step (or restore the shipped "
            "checkpoint from version control)")
    if not os.path.isfile(path):
        raise FeatureNetError(f"feature-net checkpoint {path!r} not found; {redo}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, random bytes, pickle errors, disallowed globals, ...
        raise FeatureNetError(
            f"feature-net checkpoint {path!r} could not be read ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}); the file is truncated or corrupt; "
            f"delete it and {redo}") from e

    def bad(what: str) -> FeatureNetError:
        return FeatureNetError(f"{path!r} is not a valid feature-net checkpoint: {what}; {redo}")

    if not isinstance(ckpt, dict):
        raise bad(f"top level is a {type(ckpt).__name__}, expected a dict")
    if ckpt.get("format") != FORMAT:
        raise bad(f"format is {ckpt.get('format')!r}, expected {FORMAT!r}")
    if ckpt.get("version") != VERSION:
        raise bad(f"version is {ckpt.get('version')!r}, this code reads version {VERSION}")
    for key in ("config", "state_dict", "meta"):
        if key not in ckpt:
            raise bad(f"missing key {key!r}")
    config = ckpt["config"]
    if not isinstance(config, dict):
        raise bad("'config' is not a dict")
    missing = [k for k in _CONFIG_KEYS if k not in config]
    if missing:
        raise bad(f"config lacks {missing}")
    meta = ckpt["meta"]
    if not isinstance(meta, dict):
        raise bad("'meta' is not a dict")
    state = ckpt["state_dict"]
    if not isinstance(state, dict):
        raise bad("'state_dict' is not a dict")
    arch = config.get("arch", "cnn")          # checkpoints before the sharp net have no arch
    if arch not in ("cnn", "bn-cnn"):
        raise bad(f"unknown arch {arch!r} (this code reads 'cnn' and 'bn-cnn')")
    try:
        if arch == "bn-cnn":
            from fsvae_fpga.evaluation.sharp_featurenet import SharpFeatureNet
            net = SharpFeatureNet(**{k: config[k] for k in _CONFIG_KEYS})
        else:
            net = FeatureNet(**{k: config[k] for k in _CONFIG_KEYS})
        net.load_state_dict(state, strict=True)
    except (ValueError, TypeError, RuntimeError) as e:
        raise bad(f"weights do not match the stored config ({e})") from e
    return net.eval(), meta


# ----------------------------------------------------------------------------- scoring

@torch.no_grad()
def extract_features(net: FeatureNet, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Penultimate features of ``images`` (N, C, H, W) in [-1, 1] as a float64 array (N, feature_dim)."""
    images = torch.as_tensor(images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    was_training = net.training
    net.eval()
    try:
        out = [net.features(images[s:s + batch_size]).double().cpu()
               for s in range(0, images.shape[0], batch_size)]
    finally:
        net.train(was_training)
    if not out:
        net._check_input(images)
        return np.zeros((0, net.feature_dim), dtype=np.float64)
    return torch.cat(out).numpy().astype(np.float64, copy=False)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples).

    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})``, clipped at >= 0.
    """
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    for name, f in (("feats_a", a), ("feats_b", b)):
        if f.ndim != 2:
            raise ValueError(f"{name} must be 2-D (samples, features), got shape {f.shape}")
        if f.shape[0] < 2:
            raise ValueError(f"{name} needs at least 2 samples for a covariance, got {f.shape[0]}")
        if not np.all(np.isfinite(f)):
            raise ValueError(f"{name} contains NaN or inf")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")

    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a = np.atleast_2d(np.cov(a, rowvar=False))
    s_b = np.atleast_2d(np.cov(b, rowvar=False))
    s_a = (s_a + s_a.T) / 2
    s_b = (s_b + s_b.T) / 2

    root_a = _psd_sqrt(s_a)
    m = root_a @ s_b @ root_a
    m = (m + m.T) / 2
    tr_covmean = float(np.sqrt(np.clip(np.linalg.eigvalsh(m), 0.0, None)).sum())

    diff = mu_a - mu_b
    fd = float(diff @ diff) + float(np.trace(s_a)) + float(np.trace(s_b)) - 2.0 * tr_covmean
    return max(fd, 0.0)


def frechet_score(net: FeatureNet, real_images: torch.Tensor, fake_images: torch.Tensor) -> float:
    """Fréchet distance between ``net`` features of real and generated images (lower is better)."""
    return frechet_distance(extract_features(net, real_images), extract_features(net, fake_images))
