"""Smoke test of every command on the small configuration, plus bad-input errors."""
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from fsvae_fpga.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`train` for one short run of the small config (float epoch, then fixed point)."""
    from conftest import ROOT
    out = tmp_path_factory.mktemp("run")
    cfg = yaml.safe_load((ROOT / "configs" / "small.yaml").read_text())
    cfg["train"].update(epochs=2, float_epochs=1, batch_size=64, images_per_epoch=512)   # the flow, not the fit
    config = tmp_path_factory.mktemp("cfg") / "cfg.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(config), "--out", str(out), "--no-progress"]) == 0
    return out


def test_train_writes_checkpoints_log_and_pngs(trained, capsys):
    for name in ("last.pt", "float.pt", "log.jsonl", "samples.png", "reconstructions.png", "loss.png"):
        assert (trained / name).is_file(), name
    lines = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    assert [r["stage"] for r in lines] == ["float", "quant"]
    assert all(0 < r["test_mse"] < 2 for r in lines)


def test_resume_continues_where_it_stopped(trained, capsys):
    assert main(["train", "--resume", str(trained / "last.pt"), "--epochs", "3",
                 "--out", str(trained), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert '"resumed"' in out and '"epoch": 3' in out
    lines = (trained / "log.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["epoch"] == 3


def test_sample_png_and_npy(trained, tmp_path):
    ckpt = str(trained / "last.pt")
    assert main(["sample", "--ckpt", ckpt, "--n", "5", "--seed", "2", "--out", str(tmp_path / "s.npy")]) == 0
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape == (5, 1, 32, 32) and arr.dtype == np.uint8
    assert main(["sample", "--ckpt", ckpt, "--n", "5", "--seed", "2", "--out", str(tmp_path / "t.npy")]) == 0
    assert (np.load(tmp_path / "t.npy") == arr).all()           # same seed, same images
    assert main(["sample", "--ckpt", ckpt, "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert Image.open(tmp_path / "s.png").size[0] > 64


def test_reconstruct_and_evaluate(trained, tmp_path, capsys):
    ckpt = str(trained / "last.pt")
    assert main(["reconstruct", "--ckpt", ckpt, "--n", "8", "--out", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r.png").is_file()
    capsys.readouterr()
    assert main(["evaluate", "--ckpt", ckpt, "--json", "--limit", "64", "--samples", "64"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0 < result["reconstruction_mse"] < 2
    assert result["stage"] == "quant" and result["held_out_images"] == 64
    assert "frechet_distance" in result


def test_ann_vae_trains_through_the_same_command(tmp_path, capsys):
    from conftest import ROOT
    cfg = yaml.safe_load((ROOT / "configs" / "small.yaml").read_text())
    cfg["train"].update(epochs=1, float_epochs=1)
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(config), "--model", "ann-vae", "--out", str(tmp_path / "run"),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--ckpt", str(tmp_path / "run" / "last.pt"), "--json", "--limit", "32",
                 "--samples", "32"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "ann-vae" and 0 < result["reconstruction_mse"] < 2


def test_bad_inputs_give_clear_errors_and_touch_nothing(trained, tmp_path, capsys):
    ckpt = trained / "last.pt"
    before = ckpt.read_bytes()
    assert main(["sample", "--ckpt", str(ckpt), "--n", "2", "--out", str(tmp_path / "x.jpg")]) == 2
    assert "must end in .png or .npy" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(before[:1000])
    out = tmp_path / "keep.png"
    out.write_bytes(b"old")
    assert main(["sample", "--ckpt", str(corrupt), "--n", "2", "--out", str(out)]) == 2
    assert "corrupt, truncated" in capsys.readouterr().err
    assert out.read_bytes() == b"old"
    assert main(["train", "--config", str(tmp_path / "none.yaml"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
    assert ckpt.read_bytes() == before


def test_missing_dataset_is_explained(tmp_path, capsys):
    from conftest import ROOT
    cfg = yaml.safe_load((ROOT / "configs" / "small.yaml").read_text())
    cfg["data"].update(dataset="fashion-mnist", root=str(tmp_path / "nothing"))
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and "nothing" in err
    assert not (tmp_path / "o").exists()          # the run folder it made is gone again


def test_set_overrides_are_validated(tmp_path, capsys):
    assert main(["train", "--config", "configs/small.yaml", "--set", "network.k=0",
                 "--out", str(tmp_path)]) == 2
    assert "network.k" in capsys.readouterr().err
    assert main(["train", "--set", "novalue", "--out", str(tmp_path)]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["train", "--config", "configs/small.yaml", "--set", "train.bogus=1",
                 "--out", str(tmp_path)]) == 2
    assert "unknown key train.bogus" in capsys.readouterr().err
    assert not (tmp_path / "last.pt").exists()


def test_featurenet_command_writes_a_loadable_net(tmp_path, capsys):
    from fsvae_fpga.evaluation.featurenet import load_feature_net
    out = tmp_path / "fn.pt"
    assert main(["featurenet", "--config", "configs/small.yaml", "--arch", "classic", "--epochs", "1",
                 "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.1 < result["held_out_accuracy"] <= 1.0
    net, meta = load_feature_net(out)
    assert meta["dataset"] == "mnist-embedded" and meta["epochs"] == 1
