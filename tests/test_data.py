"""Tests for fsvae_fpga.data: embedded MNIST, IDX, CIFAR-10 pickles, CelebA folders."""

from __future__ import annotations

import builtins
import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fsvae_fpga import data

from fsvae_fpga.data import DatasetError, ImageSet, image_shape, load_images


# ---------------------------------------------------------------------------
# mnist-embedded
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded():
    return {split: load_images("mnist-embedded", split, 32) for split in ("train", "test")}


def test_embedded_shapes_and_range(embedded):
    train, test = embedded["train"], embedded["test"]
    assert isinstance(train, ImageSet)
    assert (train.name, train.split, test.split) == ("mnist-embedded", "train", "test")
    assert train.images.shape == (4500, 1, 32, 32)
    assert test.images.shape == (500, 1, 32, 32)
    for subset in (train, test):
        assert subset.images.dtype == torch.float32
        assert subset.labels.dtype == torch.int64
        assert subset.labels.shape == (len(subset.images),)
        assert subset.images.min().item() == -1.0  # background is exactly -1
        assert subset.images.max().item() == 1.0
        assert set(subset.labels.tolist()) == set(range(10))


def test_embedded_splits_disjoint(embedded):
    def rows(subset):
        flat = subset.images.reshape(len(subset.images), -1).numpy()
        return {row.tobytes() for row in flat}

    assert not rows(embedded["train"]) & rows(embedded["test"])


def test_embedded_deterministic_and_limit(embedded):
    again = load_images("mnist-embedded", "test", 32)
    assert torch.equal(again.images, embedded["test"].images)
    assert torch.equal(again.labels, embedded["test"].labels)
    small = load_images("mnist-embedded", "train", 64, limit=7)
    assert small.images.shape == (7, 1, 64, 64)
    assert torch.equal(small.labels, embedded["train"].labels[:7])


# ---------------------------------------------------------------------------
# MNIST / Fashion-MNIST IDX files
# ---------------------------------------------------------------------------


def write_idx(path: Path, magic: int, array: np.ndarray, *, gz: bool = False, header_dims=None) -> Path:
    dims = header_dims if header_dims is not None else array.shape
    payload = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
    payload += array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def make_idx_set(directory: Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz: bool):
    write_idx(directory / f"{prefix}-images-idx3-ubyte", 2051, images, gz=gz)
    write_idx(directory / f"{prefix}-labels-idx1-ubyte", 2049, labels, gz=gz)


def tiny_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0] = 0
    images[1] = 255
    return images, (np.arange(n) % 10).astype(np.uint8)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_load_and_resize(tmp_path, name, gz):
    train_images, train_labels = tiny_digits(5, seed=1)
    test_images, test_labels = tiny_digits(3, seed=2)
    make_idx_set(tmp_path, "train", train_images, train_labels, gz)
    make_idx_set(tmp_path, "t10k", test_images, test_labels, gz)

    train = load_images(name, "train", 32, root=str(tmp_path))
    assert train.images.shape == (5, 1, 32, 32)
    assert train.labels.tolist() == train_labels.tolist()
    assert torch.all(train.images[0] == -1.0) and torch.all(train.images[1] == 1.0)
    expected = F.interpolate(
        torch.from_numpy(train_images[:, None]).float() / 255.0,
        size=(32, 32),
        mode="bilinear",
        align_corners=False,
    ) * 2 - 1
    torch.testing.assert_close(train.images, expected.clamp(-1, 1))

    test = load_images(name, "test", 32, root=str(tmp_path), limit=2)
    assert test.images.shape == (2, 1, 32, 32)
    assert test.labels.tolist() == test_labels[:2].tolist()


def test_mnist_59k_trains_on_idx_digits_less_the_embedded_held_out_set(tmp_path):
    held_out, held_labels = data._load_embedded_mnist("test")
    others, other_labels = tiny_digits(7, seed=4)
    # the held-out digits sit among the others, as they do in MNIST's training file
    images = np.concatenate([others[:3], held_out[:, 0], others[3:]])
    labels = np.concatenate([other_labels[:3], held_labels, other_labels[3:]])
    make_idx_set(tmp_path, "train", images, labels, gz=False)

    train = load_images("mnist-59k", "train", 32, root=str(tmp_path))
    assert train.labels.tolist() == other_labels.tolist()
    assert torch.equal(train.images, load_images("mnist", "train", 32, str(tmp_path)).images[
        [0, 1, 2, 503, 504, 505, 506]])
    test = load_images("mnist-59k", "test", 32, root=str(tmp_path))
    assert torch.equal(test.images, load_images("mnist-embedded", "test", 32).images)


def test_mnist_59k_refuses_training_files_without_the_held_out_digits(tmp_path):
    make_idx_set(tmp_path, "train", *tiny_digits(5, seed=5), gz=False)
    with pytest.raises(DatasetError, match="0 of the 500 held-out digits"):
        load_images("mnist-59k", "train", 32, root=str(tmp_path))
    with pytest.raises(DatasetError, match="fetch_mnist.py"):
        load_images("mnist-59k", "train", 32, root=str(tmp_path / "absent"))


def test_mnist_reads_the_fetched_folder_when_no_root_is_set(tmp_path, monkeypatch):
    """scripts/fetch_mnist.py writes data/mnist; with data.root unset both MNIST datasets read it,
    and without it the error says what to run."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError, match="data/mnist does not exist"):
        load_images("mnist", "train", 32)
    with pytest.raises(DatasetError, match="fetch_mnist.py"):
        load_images("mnist-59k", "train", 32)
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    images, labels = tiny_digits(3, seed=6)
    make_idx_set(tmp_path / "data" / "mnist", "train", images, labels, gz=False)
    assert load_images("mnist", "train", 32).labels.tolist() == labels.tolist()
    with pytest.raises(DatasetError, match="no data root directory was given[.]"):  # MNIST's folder only
        load_images("fashion-mnist", "train", 32)


def test_idx_torchvision_layout(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images, labels = tiny_digits(2, seed=3)
    make_idx_set(raw, "t10k", images, labels, gz=True)
    assert load_images("fashion-mnist", "test", 32, root=str(tmp_path)).images.shape == (2, 1, 32, 32)


def test_idx_truncated_file(tmp_path):
    images, labels = tiny_digits(3, seed=4)
    image_file = write_idx(tmp_path / "train-images-idx3-ubyte", 2051, images[:2], header_dims=(3, 28, 28))
    write_idx(tmp_path / "train-labels-idx1-ubyte", 2049, labels)
    with pytest.raises(DatasetError, match="truncated") as excinfo:
        load_images("mnist", "train", 32, root=str(tmp_path))
    assert str(image_file) in str(excinfo.value)


def test_idx_truncated_gzip(tmp_path):
    images, labels = tiny_digits(3, seed=5)
    image_file = write_idx(tmp_path / "train-images-idx3-ubyte", 2051, images, gz=True)
    image_file.write_bytes(image_file.read_bytes()[:-40])
    write_idx(tmp_path / "train-labels-idx1-ubyte", 2049, labels, gz=True)
    with pytest.raises(DatasetError) as excinfo:
        load_images("mnist", "train", 32, root=str(tmp_path))
    assert str(image_file) in str(excinfo.value)


def test_idx_wrong_magic(tmp_path):
    images, labels = tiny_digits(3, seed=6)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", 2051, images)
    label_file = write_idx(tmp_path / "t10k-labels-idx1-ubyte", 2051, labels)  # images magic
    with pytest.raises(DatasetError, match="magic") as excinfo:
        load_images("mnist", "test", 32, root=str(tmp_path))
    assert str(label_file) in str(excinfo.value)


# ---------------------------------------------------------------------------
# CIFAR-10 pickles
# ---------------------------------------------------------------------------


def cifar_batch(n: int, first_label: int) -> dict:
    pixels = np.zeros((n, 3, 32, 32), dtype=np.uint8)
    pixels[:, 1] = 128
    pixels[:, 2] = 255
    return {
        b"batch_label": b"fake batch",
        b"labels": [(first_label + i) % 10 for i in range(n)],
        b"data": pixels.reshape(n, 3072),
        b"filenames": [b"img%d.png" % i for i in range(n)],
    }


@pytest.fixture()
def cifar_root(tmp_path):
    batches = tmp_path / "cifar-10-batches-py"
    batches.mkdir()
    for index in range(1, 6):
        # Official files are protocol 2; also cover the newer protocols numpy writes differently.
        protocol = (2, 4, 5, 2, pickle.HIGHEST_PROTOCOL)[index - 1]
        (batches / f"data_batch_{index}").write_bytes(pickle.dumps(cifar_batch(2, index), protocol=protocol))
    (batches / "test_batch").write_bytes(pickle.dumps(cifar_batch(3, 0), protocol=2))
    return tmp_path


def test_cifar_load(cifar_root):
    train = load_images("cifar10", "train", 32, root=str(cifar_root))
    assert train.images.shape == (10, 3, 32, 32)
    assert train.labels.tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    assert torch.all(train.images[:, 0] == -1.0)
    assert torch.allclose(train.images[:, 1], torch.tensor(128 / 255 * 2 - 1), atol=1e-6)
    assert torch.all(train.images[:, 2] == 1.0)

    test = load_images("cifar10", "test", 64, root=str(cifar_root / "cifar-10-batches-py"))
    assert test.images.shape == (3, 3, 64, 64)
    assert test.labels.tolist() == [0, 1, 2]
    assert load_images("cifar10", "train", 32, root=str(cifar_root), limit=3).images.shape[0] == 3


class _RunsShell:
    def __init__(self, sentinel: Path):
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


class _RunsEval:
    def __init__(self, sentinel: Path):
        self.sentinel = sentinel

    def __reduce__(self):
        return (builtins.eval, (f"open({str(self.sentinel)!r}, 'w')",))


@pytest.mark.parametrize("payload", [_RunsShell, _RunsEval])
def test_cifar_malicious_pickle_not_executed(cifar_root, tmp_path, payload):
    sentinel = tmp_path / "pwned"
    batch = cifar_batch(2, 0)
    batch[b"filenames"] = payload(sentinel)
    evil = cifar_root / "cifar-10-batches-py" / "test_batch"
    evil.write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetError, match="refusing") as excinfo:
        load_images("cifar10", "test", 32, root=str(cifar_root))
    assert str(evil) in str(excinfo.value)
    assert not sentinel.exists()


# ---------------------------------------------------------------------------
# CelebA image folders
# ---------------------------------------------------------------------------

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


def write_faces(directory: Path, count: int) -> list[str]:
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for index in range(count):
        name = f"{index + 1:06d}." + ("png" if index % 2 else "jpg")
        Image.new("RGB", (160, 190), COLOURS[index % len(COLOURS)]).save(directory / name)
        names.append(name)
    return names


def test_celeba_partition_file(tmp_path):
    names = write_faces(tmp_path / "img_align_celeba", 6)
    partition = [0, 0, 1, 2, 2, 0]
    (tmp_path / "list_eval_partition.txt").write_text(
        "".join(f"{n} {p}\n" for n, p in zip(names, partition))
    )
    train = load_images("celeba", "train", 64, root=str(tmp_path))
    test = load_images("celeba", "test", 64, root=str(tmp_path))
    assert train.labels is None and test.labels is None
    assert train.images.shape == (3, 3, 64, 64)
    assert test.images.shape == (2, 3, 64, 64)
    expected_test = torch.tensor([COLOURS[3], COLOURS[4]], dtype=torch.float32) / 255 * 2 - 1
    torch.testing.assert_close(test.images.mean(dim=(2, 3)), expected_test, atol=0.03, rtol=0)
    assert test.images.min() >= -1 and test.images.max() <= 1


def test_celeba_without_partition_and_limit(tmp_path):
    write_faces(tmp_path, 10)  # images directly in root, no partition file
    train = load_images("celeba", "train", 32, root=str(tmp_path))
    test = load_images("celeba", "test", 64, root=str(tmp_path))
    assert train.images.shape == (9, 3, 32, 32)
    assert test.images.shape == (1, 3, 64, 64)
    torch.testing.assert_close(  # last sorted file is 000010.png -> COLOURS[9 % 6]
        test.images.mean(dim=(2, 3))[0], torch.tensor(COLOURS[3], dtype=torch.float32) / 255 * 2 - 1
    )
    assert load_images("celeba", "train", 64, root=str(tmp_path), limit=4).images.shape == (4, 3, 64, 64)


# ---------------------------------------------------------------------------
# Errors and shapes
# ---------------------------------------------------------------------------


def test_missing_idx_files(tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        load_images("mnist", "train", 32, root=str(tmp_path))
    message = str(excinfo.value)
    assert "train-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message
    assert str(tmp_path) in message
    assert "data.root" in message and "mnist-embedded" in message


def test_missing_root_and_directory(tmp_path):
    with pytest.raises(DatasetError, match="data_batch_1") as excinfo:
        load_images("cifar10", "train", 32, root=None)
    assert "mnist-embedded" in str(excinfo.value)
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError) as excinfo:
        load_images("cifar10", "test", 32, root=str(missing))
    assert "test_batch" in str(excinfo.value) and str(missing) in str(excinfo.value)
    with pytest.raises(DatasetError, match="img_align_celeba"):
        load_images("celeba", "train", 64, root=str(tmp_path))


def test_bad_arguments():
    with pytest.raises(DatasetError) as excinfo:
        load_images("imagenet", "train", 32)
    assert all(name in str(excinfo.value) for name in data.DATASETS)
    with pytest.raises(ValueError, match="train"):
        load_images("mnist-embedded", "val", 32)
    for size in (0, 28, -16, 32.0):
        with pytest.raises(ValueError, match="multiple of 16"):
            load_images("mnist-embedded", "train", size)
    with pytest.raises(DatasetError):
        image_shape("svhn", 32)


def test_image_shape():
    assert image_shape("mnist-embedded", 32) == (1, 32, 32)
    assert image_shape("fashion-mnist", 32) == (1, 32, 32)
    assert image_shape("cifar10", 32) == (3, 32, 32)
    assert image_shape("celeba", 64) == (3, 64, 64)
    assert data.DATASETS == ("mnist-embedded", "mnist-59k", "mnist", "fashion-mnist", "cifar10", "celeba")


def test_mnist_59k_is_scored_in_the_embedded_sets_feature_spaces():
    """mnist-59k keeps mnist-embedded's held-out images, so its Frechet distances use the
    same shipped feature nets (and compare with models trained on mnist-embedded)."""
    from fsvae_fpga.evaluation.inference import featurenet_path
    for kind in ("classic", "sharp"):
        assert featurenet_path("mnist-59k", kind) == featurenet_path("mnist-embedded", kind)
        assert featurenet_path("mnist-59k", kind).is_file()
