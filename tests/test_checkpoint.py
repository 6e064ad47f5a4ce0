"""Checkpoint round trip, and corrupt / truncated / foreign files give clear errors."""
import os

import pytest
import torch

from fsvae_fpga.training.checkpoint import (CheckpointError, atomic_save, load_model, pack_fixed_point_weights,
                                            read_checkpoint, save_checkpoint)
from fsvae_fpga.evaluation.inference import generate


@pytest.fixture
def saved(tmp_path, trained_small_model, small_cfg):
    path = tmp_path / "model.pt"
    save_checkpoint(path, config=small_cfg, stage="quant", epoch=3,
                    model_state=trained_small_model.state_dict(), history=[{"epoch": 3}])
    return path


def test_round_trip_gives_identical_images(saved, trained_small_model):
    model, ckpt = load_model(saved)
    assert ckpt["epoch"] == 3 and ckpt["stage"] == "quant" and model.quantized
    assert torch.equal(generate(model, 6, seed=1), generate(trained_small_model, 6, seed=1))
    assert not (saved.parent / "model.pt.tmp").exists()


def test_packed_fixed_point_weights_give_the_same_model(tmp_path, trained_small_model, small_cfg):
    """The shipped form: int8 + exponent instead of float weights, same quantized weights."""
    path = tmp_path / "packed.pt"
    packed = pack_fixed_point_weights(trained_small_model)
    assert packed and all(p["q"].dtype == torch.int8 for p in packed.values())
    save_checkpoint(path, config=small_cfg, stage="quant", epoch=3, model_state=trained_small_model.state_dict(),
                    packed_weights=packed)
    model, _ = load_model(path)
    for key, p in pack_fixed_point_weights(model).items():
        assert torch.equal(p["q"], packed[key]["q"]) and p["frac_bits"] == packed[key]["frac_bits"], key
    assert torch.equal(generate(model, 6, seed=1), generate(trained_small_model, 6, seed=1))
    raw = torch.load(path, weights_only=True)
    raw["packed_weights"][next(iter(packed))]["q"] = torch.zeros(3)           # not int8
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match="malformed"):
        read_checkpoint(path)


def test_truncated_checkpoint_is_refused(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt, truncated"):
        read_checkpoint(saved)


def test_random_bytes_and_foreign_files_are_refused(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match=str(junk)):
        read_checkpoint(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not an fsvae-fpga checkpoint"):
        read_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")


def test_pickled_code_is_never_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))
    path = tmp_path / "evil.pt"
    torch.save({"format": "fsvae-fpga-checkpoint", "evil": Evil()}, path)
    with pytest.raises(CheckpointError):
        read_checkpoint(path)
    assert not (tmp_path / "pwned").exists()


def test_mismatched_weights_are_named(saved, small_cfg, tmp_path):
    ckpt = read_checkpoint(saved)
    ckpt["model"].pop("encoder_fc.bias")
    bad = tmp_path / "bad.pt"
    torch.save(ckpt, bad)
    with pytest.raises(CheckpointError, match="do not fit.*missing encoder_fc.bias"):
        load_model(bad)


def test_failed_save_leaves_the_old_checkpoint_intact(saved):
    before = saved.read_bytes()

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        atomic_save({"x": Unpicklable()}, saved)
    assert saved.read_bytes() == before
    assert not saved.with_name(saved.name + ".tmp").exists()


def test_a_carried_run_is_compact_resumable_and_never_overwrites_another(tmp_path, trained_small_model, small_cfg):
    """scripts/carry_run.py: the run's model in the compact form (same images, history and
    epoch, no optimizer); it replaces only an earlier carry of the same run."""
    from repo_files import load_file
    carry = load_file("scripts/carry_run.py")
    run = tmp_path / "run"
    run.mkdir()
    history = [{"epoch": 1, "test_mse": 0.2}, {"epoch": 2, "test_mse": 0.19}]
    save_checkpoint(run / "last.pt", config=small_cfg, stage="quant", epoch=2,
                    model_state=trained_small_model.state_dict(), history=history,
                    optimizer_state={"state": {}, "param_groups": []})
    dest = tmp_path / "carried" / "run.pt"
    assert carry.main([str(run), "--dest", str(dest)]) == 0
    model, ckpt = load_model(dest)
    assert ckpt["epoch"] == 2 and ckpt["history"] == history and ckpt["optimizer"] is None
    assert ckpt["config"] == read_checkpoint(run / "last.pt")["config"]
    assert torch.equal(generate(model, 6, seed=1), generate(trained_small_model, 6, seed=1))
    # the same run, one epoch further: replaced
    save_checkpoint(run / "last.pt", config=small_cfg, stage="quant", epoch=3,
                    model_state=trained_small_model.state_dict(), history=history + [{"epoch": 3}])
    assert carry.main([str(run), "--dest", str(dest)]) == 0 and read_checkpoint(dest)["epoch"] == 3
    # another run, or a file that is no checkpoint: refused, left as it was
    other = tmp_path / "other"
    other.mkdir()
    save_checkpoint(other / "last.pt", config=small_cfg, stage="quant", epoch=4,
                    model_state=trained_small_model.state_dict(), history=[{"epoch": 1, "test_mse": 0.3}])
    before = dest.read_bytes()
    assert carry.main([str(other), "--dest", str(dest)]) == 2 and dest.read_bytes() == before
    foreign = tmp_path / "notes.pt"
    foreign.write_text("mine")
    assert carry.main([str(run), "--dest", str(foreign)]) == 2 and foreign.read_text() == "mine"
