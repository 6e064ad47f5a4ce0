"""The command line as a new user meets it, in a subprocess: nothing of the user's is lost.
Folders it did not write are refused, never deleted; outputs appear whole or not at all
(bad paths found before the work, a full disk, Ctrl-C); a run folder holds one run."""
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from cli_run import ENV, SMALL, SMALL_CFG, cli, export_small, no_leftovers, run_folder, tree, user_error


@pytest.fixture(scope="module")
def hwmodel(tmp_path_factory):
    return export_small(tmp_path_factory.mktemp("hw") / "hwmodel")


# ------------------------------------------------------------------ never destroy what the user has
def test_export_vectors_and_codegen_refuse_folders_they_did_not_write(tmp_path, hwmodel):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.tex").write_text("years of work")
    before = tree(tmp_path)
    user_error(cli("export", "--ckpt", SMALL, "--out", user, cwd=tmp_path), "export", "not written by fsvae-fpga")
    user_error(cli("vectors", "--hwmodel", hwmodel, "--n", 2, "--out", user, cwd=tmp_path), "vectors", "mine")
    user_error(cli("codegen", "hls", "--hwmodel", hwmodel, "--board", "pynq-z2", "--out", user, cwd=tmp_path),
               "codegen")
    user_error(cli("codegen", "rtl", "--hwmodel", hwmodel, "--board", "pynq-z2", "--out", user, cwd=tmp_path),
               "codegen")
    user_error(cli("export", "--ckpt", SMALL, "--out", ".", cwd=user), "export")
    assert tree(tmp_path) == before
    # its own output is replaced whole; another kind of its output is refused
    vec = tmp_path / "vec"
    assert cli("vectors", "--hwmodel", hwmodel, "--n", 2, "--out", vec, cwd=tmp_path).returncode == 0
    first = json.loads((vec / "vectors.json").read_text())
    res = cli("vectors", "--hwmodel", hwmodel, "--n", 3, "--seed", 9, "--out", vec, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    second = json.loads((vec / "vectors.json").read_text())
    assert (first["n"], second["n"], second["seed"]) == (2, 3, 9)
    user_error(cli("export", "--ckpt", SMALL, "--out", vec, cwd=tmp_path), "export", "holds fsvae-fpga vectors")
    no_leftovers(tmp_path)


def test_sample_checks_its_output_before_generating(tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_dir").mkdir()
    before = tree(tmp_path)
    for out, words in [("a_dir", ("is a folder",)), ("a_file/s.png", ("is a file",)), ("s.jpg", (".png or .npy",)),
                       ("/proc/fsvae-samples.png", ("cannot write",))]:
        t0 = time.time()
        user_error(cli("sample", "--ckpt", SMALL, "--n", 60000, "--out", out, cwd=tmp_path), "sample", *words)
        assert time.time() - t0 < 60                    # refused before 60,000 images were made
    assert tree(tmp_path) == before


def test_a_full_disk_leaves_no_partial_file(tmp_path, monkeypatch, capsys):
    """ENOSPC in the middle of writing: exit 2, one line, the old file intact, no temporary."""
    import errno
    from fsvae_fpga import cli as cli_mod
    old = tmp_path / "s.npy"
    old.write_bytes(b"previous result")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".s.npy.tmp"))
    monkeypatch.setattr(np, "save", full)
    assert cli_mod.main(["sample", "--ckpt", str(SMALL), "--n", "2", "--out", str(old)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("fsvae-fpga sample: error: ") and "No space left" in err and "free some space" in err
    assert old.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npy"]


def test_train_never_mixes_two_runs(tmp_path):
    run, ckpt = run_folder(tmp_path)
    done = ckpt["epoch"]
    other, _ = run_folder(tmp_path, "other")
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("mine")
    before = tree(tmp_path)
    user_error(cli("train", "--config", SMALL_CFG, "--out", run, cwd=tmp_path), "train",
               "already holds a run", f"--resume {run / 'last.pt'}")
    user_error(cli("train", "--resume", other / "last.pt", "--epochs", done + 1, "--out", run, cwd=tmp_path),
               "train", "holds another run")
    user_error(cli("train", "--config", SMALL_CFG, "--out", tmp_path / "stuff", cwd=tmp_path), "train", "no run")
    user_error(cli("train", "--config", SMALL_CFG, "--out", tmp_path / "stuff" / "notes.txt", cwd=tmp_path), "train")
    assert tree(tmp_path) == before


def test_train_with_nothing_to_do_or_ignored_options_is_refused(tmp_path):
    run, ckpt = run_folder(tmp_path)
    done = ckpt["epoch"]
    before = tree(tmp_path)
    user_error(cli("train", "--epochs", 0, "--out", tmp_path / "new", cwd=tmp_path), "train", "epochs")
    for epochs in (done, max(1, done - 1)):
        user_error(cli("train", "--resume", run / "last.pt", "--epochs", epochs, "--out", run, cwd=tmp_path),
                   "train", f"already done {done}")
    user_error(cli("train", "--resume", run / "last.pt", "--config", SMALL_CFG, "--epochs", done + 1,
                   "--out", run, cwd=tmp_path), "train", "--config cannot be used with --resume")
    cfg = yaml.safe_load(SMALL_CFG.read_text())
    cfg["train"].update(epochs=0, float_epochs=0)
    zero = tmp_path / "zero.yaml"
    zero.write_text(yaml.safe_dump(cfg))
    user_error(cli("train", "--config", zero, "--out", tmp_path / "new", cwd=tmp_path), "train", "nothing to train")
    assert tree(tmp_path) == {**before, "zero.yaml": hash(zero.read_bytes())}


def test_ctrl_c_exits_130_and_leaves_files_consistent(tmp_path):
    """SIGINT while a long command runs: one line, exit 130, no temporary, no half-made run folder."""
    for args, target in [(("sample", "--ckpt", SMALL, "--n", 65536, "--out", "s.npy"), "s.npy"),
                         (("train", "--config", SMALL_CFG, "--out", "run", "--no-progress"), "run")]:
        # a shell's background job starts with SIGINT ignored; a user's terminal delivers it
        proc = subprocess.Popen([sys.executable, "-m", "fsvae_fpga.cli", *map(str, args)], cwd=tmp_path, env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(12)                                  # past the imports, into the work
        assert proc.poll() is None, "finished before the interrupt: make the command longer"
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1].startswith(f"fsvae-fpga {args[0]}: interrupted")
        assert not (tmp_path / target).exists()
        no_leftovers(tmp_path)
