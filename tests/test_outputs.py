"""outputs.py: folders replaced only when ours, written whole or not at all."""
import json

import pytest

from fsvae_fpga.outputs import MARKER, OutputError, atomic_file, check_file_target, output_dir


def test_a_new_folder_appears_whole_with_its_marker(tmp_path):
    out = tmp_path / "a" / "b" / "vec"
    with output_dir(out, "vectors") as tmp:
        assert not out.exists() and tmp.parent == out.parent
        (tmp / "x.bin").write_bytes(b"1")
    assert json.loads((out / MARKER).read_text())["kind"] == "vectors"
    assert sorted(p.name for p in out.parent.iterdir()) == ["vec"]


def test_our_folder_is_replaced_foreign_and_other_kinds_are_refused(tmp_path):
    out = tmp_path / "vec"
    with output_dir(out, "vectors") as tmp:
        (tmp / "old.bin").write_bytes(b"old")
    with output_dir(out, "vectors") as tmp:
        (tmp / "new.bin").write_bytes(b"new")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "new.bin"]
    with pytest.raises(OutputError, match="holds fsvae-fpga vectors output, not hwmodel"):
        with output_dir(out, "hwmodel"):
            pass
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "paper.tex").write_text("x")
    with pytest.raises(OutputError, match="not written by fsvae-fpga"):
        with output_dir(mine, "vectors"):
            pass
    assert (mine / "paper.tex").read_text() == "x"
    empty = tmp_path / "empty"
    empty.mkdir()
    with output_dir(empty, "vectors") as tmp:
        (tmp / "a.bin").write_bytes(b"")
    assert (empty / "a.bin").exists()


def test_a_legacy_folder_counts_as_ours_only_when_it_holds_nothing_else(tmp_path):
    old = tmp_path / "hw"
    old.mkdir()
    (old / "hwmodel.json").write_text(json.dumps({"format": "fsvae-fpga-hwmodel"}))
    (old / "a.weight.npy").write_bytes(b"")
    with output_dir(old, "hwmodel") as tmp:
        (tmp / "hwmodel.json").write_text("{}")
    (old / MARKER).unlink()
    (old / "notes.txt").write_text("mine")
    (old / "hwmodel.json").write_text(json.dumps({"format": "fsvae-fpga-hwmodel"}))
    with pytest.raises(OutputError):
        with output_dir(old, "hwmodel"):
            pass


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_a_failure_leaves_the_old_output_and_no_temporary(tmp_path, exc):
    out = tmp_path / "deep" / "vec"
    with pytest.raises(exc):
        with output_dir(out, "vectors") as tmp:
            (tmp / "half.bin").write_bytes(b"x")
            raise exc()
    assert not (tmp_path / "deep").exists()          # the parents it made are gone too
    with output_dir(out, "vectors") as tmp:
        (tmp / "good.bin").write_bytes(b"x")
    with pytest.raises(exc):
        with output_dir(out, "vectors") as tmp:
            raise exc()
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "good.bin"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["vec"]
    f = tmp_path / "f.npy"
    f.write_bytes(b"old")
    with pytest.raises(exc):
        with atomic_file(f) as tmp:
            tmp.write_bytes(b"half")
            raise exc()
    assert f.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["deep", "f.npy"]


def test_file_targets_are_checked_before_work(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("")
    for path, words in [(tmp_path / "d", "is a folder"), (tmp_path / "f" / "x.png", "is a file"),
                        (tmp_path / "x.gif", "must end in"), ("/proc/fsvae.png", "cannot write")]:
        with pytest.raises(OutputError, match=words):
            check_file_target(path, (".png",))
    assert check_file_target(tmp_path / "new" / "x.png", (".png",)) == tmp_path / "new" / "x.png"
    assert not (tmp_path / "new").exists()
