"""scripts/fetch_mnist.py never replaces a file it did not write (no network used here)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    from repo_files import load_file
    return load_file("scripts/fetch_mnist.py")


def test_a_file_with_other_content_is_refused_and_kept(tmp_path, capsys):
    other = tmp_path / "train-images-idx3-ubyte"
    other.write_bytes(b"not mnist")
    with pytest.raises(SystemExit) as stop:
        _script().main(["--out", str(tmp_path)])
    assert stop.value.code == 2
    assert "exists with other content" in capsys.readouterr().err
    assert other.read_bytes() == b"not mnist" and sorted(p.name for p in tmp_path.iterdir()) == [other.name]

