"""Named int64 arrays in a file: the test-vector format of the HLS engine testbenches.

The specification is the header comment of hls/tb/tb_vectors.h (the C++ side); this module is
its Python twin and follows it word for word: magic, version, count, then per array the name
length and name bytes, ndim, dims and the int64 values (row-major), all little-endian."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

MAGIC = 0x4345564541565346          # the bytes "FSVAEVEC"
VERSION = 1
MAX_ARRAYS, MAX_NAME, MAX_NDIM, MAX_DIM = 1 << 20, 255, 8, 1 << 31
I64 = np.dtype("<i8")


def _as_int64(name: str, value) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype == bool:
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise TypeError(f"array {name!r}: integer values only, not {a.dtype}")
    if a.dtype == np.uint64 and a.size and int(a.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"array {name!r}: values beyond int64")
    return np.asarray(a, dtype=I64)          # tobytes() below writes C order


def write_arrays(path: str | Path, arrays: Mapping[str, object]) -> None:
    """Write {name: integer array-like} (scalars allowed) in the tb_vectors.h format."""
    if len(arrays) > MAX_ARRAYS:
        raise ValueError(f"{len(arrays)} arrays: at most {MAX_ARRAYS}")
    out = [np.array([MAGIC, VERSION, len(arrays)], dtype=I64).tobytes()]
    for name, value in arrays.items():
        raw = name.encode("ascii")
        if not 1 <= len(raw) <= MAX_NAME or not all(0x21 <= b <= 0x7E for b in raw):
            raise ValueError(f"array name {name!r}: 1 to {MAX_NAME} printable ASCII characters")
        a = _as_int64(name, value)
        if a.ndim > MAX_NDIM or any(d > MAX_DIM for d in a.shape) or a.size > MAX_DIM:
            raise ValueError(f"array {name!r}: shape {a.shape} is outside the format's limits")
        out += [np.array([len(raw)], dtype=I64).tobytes(), raw,
                np.array([a.ndim, *a.shape], dtype=I64).tobytes(), a.tobytes()]
    Path(path).write_bytes(b"".join(out))


def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """{name: int64 array} of a file in the tb_vectors.h format (in file order)."""
    buf = Path(path).read_bytes()
    pos = 0

    def words(n: int) -> np.ndarray:
        nonlocal pos
        if pos + 8 * n > len(buf):
            raise ValueError(f"{path}: truncated")
        pos += 8 * n
        return np.frombuffer(buf, dtype=I64, count=n, offset=pos - 8 * n).copy()

    def word(lo: int, hi: int, what: str) -> int:
        v = int(words(1)[0])
        if not lo <= v <= hi:
            raise ValueError(f"{path}: bad {what} {v}")
        return v

    if int(words(1)[0]) != MAGIC:
        raise ValueError(f"{path}: bad magic")
    if int(words(1)[0]) != VERSION:
        raise ValueError(f"{path}: unsupported version")
    arrays: dict[str, np.ndarray] = {}
    for _ in range(word(0, MAX_ARRAYS, "array count")):
        n = word(1, MAX_NAME, "name length")
        if pos + n > len(buf):
            raise ValueError(f"{path}: truncated")
        name, pos = buf[pos:pos + n].decode("ascii"), pos + n
        if name in arrays:
            raise ValueError(f"{path}: array {name!r} twice")
        shape = tuple(word(0, MAX_DIM, "dim") for _ in range(word(0, MAX_NDIM, "ndim")))
        arrays[name] = words(int(np.prod(shape, dtype=np.int64))).reshape(shape)
    if pos != len(buf):
        raise ValueError(f"{path}: trailing data after the last array")
    return arrays
