"""The command line as a new user meets it, in a subprocess: no silent wrong results (one seed
range, counts as asked) and every mistake one line `fsvae-fpga <command>: error: ...`, exit 2."""
import json
import os
import shutil

import numpy as np
import pytest
import torch
import yaml

from cli_run import SMALL, SMALL_CFG, cli, export_small, run_folder, user_error


@pytest.fixture(scope="module")
def hwmodel(tmp_path_factory):
    return export_small(tmp_path_factory.mktemp("hw") / "hwmodel")


# ------------------------------------------------------------------ no silent wrong results
@pytest.mark.parametrize("seed", [2 ** 32, 2 ** 40, -5, 2 ** 64 - 5, "12abc"])
def test_one_seed_range_everywhere(tmp_path, seed, hwmodel):
    runs = {
        "sample": ("sample", "--ckpt", SMALL, "--n", 2, "--out", "s.png"),
        "reconstruct": ("reconstruct", "--ckpt", SMALL, "--n", 2, "--out", "r.png"),
        "evaluate": ("evaluate", "--ckpt", SMALL, "--samples", 8),
        "vectors": ("vectors", "--hwmodel", hwmodel, "--out", "v"),
        "stats": ("stats", "--hwmodel", hwmodel),
        "codegen": ("codegen", "hls", "--hwmodel", hwmodel, "--out", "c"),
        "featurenet": ("featurenet", "--out", "f.pt"),
    }
    for command, args in runs.items():
        user_error(cli(*args, "--seed", seed, cwd=tmp_path), command, "seed")
    cfg = yaml.safe_load(SMALL_CFG.read_text())
    cfg["train"]["seed"] = 2 ** 32 if isinstance(seed, str) else seed
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    user_error(cli("train", "--config", "c.yaml", "--out", "run", cwd=tmp_path), "train", "train.seed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_a_seed_gives_the_golden_models_images(tmp_path, hwmodel):
    """`sample` uses the hardware sampler by default: the golden model's (and so the RTL's and
    the board's) images for the same seed; --sampler torch is the other generator."""
    from fsvae_fpga.contract import golden
    from fsvae_fpga.contract.hwmodel import load
    seed = 2 ** 32 - 1
    assert cli("sample", "--ckpt", SMALL, "--n", 6, "--seed", seed, "--out", "hw.npy", cwd=tmp_path).returncode == 0
    assert cli("sample", "--ckpt", SMALL, "--n", 6, "--seed", seed, "--sampler", "torch", "--out", "t.npy",
               cwd=tmp_path).returncode == 0
    want = golden.generate(load(hwmodel), 6, seed)
    got = np.load(tmp_path / "hw.npy")
    assert got.dtype == np.uint8 and (got == want).all()
    assert not (np.load(tmp_path / "t.npy") == want).all()


def test_counts_are_what_was_asked_or_refused(tmp_path, hwmodel):
    user_error(cli("vectors", "--hwmodel", hwmodel, "--n", 501, "--out", "v", cwd=tmp_path), "vectors",
               "only 500 held-out images")
    user_error(cli("reconstruct", "--ckpt", SMALL, "--n", 600, "--out", "r.png", cwd=tmp_path), "reconstruct",
               "only 500")
    for n in (0, -1, 65537, "many"):
        user_error(cli("sample", "--ckpt", SMALL, "--n", n, "--out", "s.png", cwd=tmp_path), "sample", "--n")
    assert cli("vectors", "--hwmodel", hwmodel, "--n", 5, "--out", "v", cwd=tmp_path).returncode == 0
    index = json.loads((tmp_path / "v" / "vectors.json").read_text())
    assert index["n"] == 5
    assert all(index["files"][k]["shape"][0] == 5 for k in ("gen_expected", "rec_inputs", "rec_expected"))


# ------------------------------------------------------------------ one-line errors
def test_broken_checkpoints_are_one_line_errors(tmp_path):
    data = SMALL.read_bytes()
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "half.pt").write_bytes(data[:len(data) // 2])
    (tmp_path / "noise.pt").write_bytes(os.urandom(3000))
    for name, words in [("empty.pt", ("empty",)), ("half.pt", ("corrupt, truncated",)), ("noise.pt", ("corrupt",))]:
        last = user_error(cli("sample", "--ckpt", name, "--n", 1, "--out", "s.png", cwd=tmp_path), "sample", *words)
        assert "weights_only=False" not in last
    # weights that do not fit the config inside the checkpoint, named tensor by tensor
    ckpt = torch.load(SMALL, weights_only=True)
    ckpt["config"]["network"]["latent_dim"] = 24
    torch.save(ckpt, tmp_path / "mismatch.pt")
    last = user_error(cli("sample", "--ckpt", "mismatch.pt", "--n", 1, "--out", "s.png", cwd=tmp_path), "sample",
                      "do not fit")
    assert "encoder_fc" in last and "[16" in last
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tmp_path / "mismatch.pt", run / "last.pt")
    last = user_error(cli("train", "--resume", run / "last.pt", "--epochs", 99, "--out", run, cwd=tmp_path),
                      "train", "do not fit")
    assert "encoder_fc" in last
    user_error(cli("train", "--resume", SMALL, "--set", "network.latent_dim=24", "--epochs", 99, "--out", "r2",
                   cwd=tmp_path), "train", "do not fit", "encoder_fc")
    assert not (tmp_path / "r2").exists()


def test_structurally_wrong_hwmodel_is_one_line(tmp_path, hwmodel):
    bad = tmp_path / "bad"
    shutil.copytree(hwmodel, bad)
    desc = json.loads((bad / "hwmodel.json").read_text())
    for mutate in (lambda d: d.update(layers=7), lambda d: d["layers"][0].update(weight=[1, 2]),
                   lambda d: d.update(output="x"), lambda d: d.update(image_shape={"a": 1})):
        d = json.loads(json.dumps(desc))
        mutate(d)
        (bad / "hwmodel.json").write_text(json.dumps(d))
        user_error(cli("vectors", "--hwmodel", bad, "--out", "v", cwd=tmp_path), "vectors", "hardware model")
    (bad / "hwmodel.json").write_text("[1, 2")
    user_error(cli("stats", "--hwmodel", bad, cwd=tmp_path), "stats", "not valid JSON")


def test_set_values_are_typed_and_checked():
    from fsvae_fpga.config import ConfigError, load_config, parse_value, with_overrides
    cfg = load_config(SMALL_CFG)
    assert with_overrides(cfg, **{"train.lr": parse_value("1e-3")})["train"]["lr"] == 1e-3
    assert parse_value("3") == 3 and parse_value("[0.5, 0]") == [0.5, 0] and parse_value("true") is True
    for key, value in [("train.lr", "nan"), ("train.lr", "inf"), ("train.lr.x", "1"), ("train", "1"),
                       ("network.k", "two")]:
        with pytest.raises(ConfigError):
            with_overrides(cfg, **{key: parse_value(value)})


def test_set_number_reaches_training_and_bad_ones_are_named(tmp_path):
    run, _ = run_folder(tmp_path)
    # 1e-3 is accepted as a number: the refusal that follows is about the run folder
    user_error(cli("train", "--config", SMALL_CFG, "--set", "train.lr=1e-3", "--out", run, cwd=tmp_path),
               "train", "already holds a run")
    user_error(cli("train", "--config", SMALL_CFG, "--set", "train.lr=fast", "--out", "r", cwd=tmp_path),
               "train", "train.lr")
    user_error(cli("train", "--config", SMALL_CFG, "--set", "=3", "--out", "r", cwd=tmp_path), "train", "KEY=VALUE")
