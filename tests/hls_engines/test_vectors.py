"""The test-vector format (hls/tb/tb_vectors.h, tests/hls_engines/vectors.py): Python round
trips, and the C++ reader's refusals, seen through the smallest testbench (tb_event_list)."""
from __future__ import annotations

import numpy as np
import pytest

from .tb import bench
from .vectors import MAGIC, read_arrays, write_arrays


def test_round_trip(tmp_path):
    arrays = {"scalar": np.int64(-5), "empty": np.zeros((0, 3), dtype=np.int64), "bool": np.array([True, False]),
              "u32": np.array([0, 0xFFFFFFFF], dtype=np.uint32), "x.0.y": np.arange(24).reshape(2, 3, 4),
              "extremes": np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max]), "list": [1, 2, 3]}
    write_arrays(tmp_path / "v.bin", arrays)
    back = read_arrays(tmp_path / "v.bin")
    assert list(back) == list(arrays)
    for name, value in arrays.items():
        want = np.asarray(value).astype(np.int64)
        assert back[name].dtype == np.int64 and back[name].shape == want.shape and (back[name] == want).all()
    assert int(np.frombuffer((tmp_path / "v.bin").read_bytes()[:8], "<i8")[0]) == MAGIC


@pytest.mark.parametrize("arrays, error", [
    ({"f": np.array([1.5])}, TypeError),
    ({"big": np.array([1 << 63], dtype=np.uint64)}, ValueError),
    ({"": 1}, ValueError),
    ({"a b": 1}, ValueError),
    ({"x" * 256: 1}, ValueError),
], ids=["float", "beyond-int64", "empty-name", "space", "long-name"])
def test_write_refuses(tmp_path, arrays, error):
    with pytest.raises(error):
        write_arrays(tmp_path / "v.bin", arrays)


def test_read_refuses_damaged_files(tmp_path):
    write_arrays(tmp_path / "v.bin", {"a": np.arange(4)})
    good = (tmp_path / "v.bin").read_bytes()
    for damaged, message in ((good[:-1], "truncated"), (good + b"\0", "trailing"), (b"x" + good[1:], "magic")):
        (tmp_path / "d.bin").write_bytes(damaged)
        with pytest.raises(ValueError, match=message):
            read_arrays(tmp_path / "d.bin")


@pytest.fixture(scope="module")
def tb():
    return bench("event_list")


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\0", "trailing data"),
    (lambda b: b"x" + b[1:], "bad magic"),
    (lambda b: b[:8] + b"\2" + b[9:], "unsupported version"),
], ids=["truncated", "trailing", "magic", "version"])
def test_testbench_refuses_damaged_files(tb, tmp_path, damage, message):
    write_arrays(tmp_path / "v.bin", {"spikes.n": 1, "spikes.0.spikes": np.ones((1, 2), dtype=np.int64)})
    (tmp_path / "inputs.bin").write_bytes(damage((tmp_path / "v.bin").read_bytes()))
    proc = tb.execute(tmp_path / "inputs.bin", tmp_path / "outputs.bin")
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


@pytest.mark.parametrize("arrays, message", [
    ({"spikes.n": 1, "spikes.0.spikes": np.ones((1, 2), dtype=np.int64), "stray": 0}, "stray was not read"),
    ({"spikes.n": 1}, "missing array spikes.0.spikes"),
    ({"spikes.n": 1, "spikes.0.spikes": np.ones(2, dtype=np.int64)}, "wrong shape"),
], ids=["unread", "missing", "shape"])
def test_testbench_refuses_unexpected_arrays(tb, tmp_path, arrays, message):
    proc = tb.run_raw(tmp_path, **arrays)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
