"""The recipe-ablation arms (benchmarks/recipe_ablations.py) are real configuration changes:
each arm's --set overrides are accepted by the config schema, on both configurations the
ablations run on, and every arm but the baseline changes the configuration it trains, whatever
the configuration file's own defaults (the arms start from the script's BASE recipe)."""
import importlib.util
import json
from pathlib import Path

import pytest

from fsvae_fpga.config import load_config, parse_value, with_overrides

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("recipe_ablations", ROOT / "benchmarks" / "recipe_ablations.py")
ablations = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ablations)


def _apply(cfg: dict, sets: list[str]) -> dict:
    return with_overrides(cfg, **{k: parse_value(v) for k, v in (s.split("=", 1) for s in sets)})


@pytest.mark.parametrize("config", ["configs/small.yaml", "configs/mnist.yaml"])
@pytest.mark.parametrize("arm", sorted(set(ablations.ARMS) - {"baseline"}))
def test_arm_is_a_valid_change(arm, config):
    base = load_config(ROOT / config)
    common = ["train.epochs=9", "train.float_epochs=4", "train.prior_epochs=2", *ablations.BASE]
    changed = _apply(base, common + ablations.ARMS[arm][1])
    assert changed != _apply(base, common), f"arm {arm} changes nothing"


@pytest.mark.parametrize("done, expect", [(0, "new"), (2, "resume"), (4, None)])
def test_an_arm_stopped_part_way_is_resumed_not_scored(tmp_path, monkeypatch, done, expect):
    """A run folder whose last.pt holds fewer epochs than asked is continued with --resume
    (before, any last.pt counted as finished and a half-trained arm was scored); a finished
    one is only scored; none starts a new run."""
    from fsvae_fpga.training.checkpoint import save_checkpoint
    run = tmp_path / "G"
    if done:
        run.mkdir()
        save_checkpoint(run / "last.pt", config=load_config(ROOT / "configs/small.yaml"), stage="quant",
                        epoch=done, model_state={})
    calls = []
    monkeypatch.setattr(ablations, "cli", lambda *a: calls.append(a) or "")
    monkeypatch.setattr(ablations, "evaluate", lambda ckpt, n: {"reconstruction_mse": 0.1, "frechet_distance": 1.0,
                                                                "frechet_distance_sharp": 1.0})
    ablations.main(["--config", "configs/small.yaml", "--epochs", "4", "--float-epochs", "2", "--arms", "G",
                    "--out", str(tmp_path)])
    trains = [c for c in calls if c[0] == "train"]
    if expect is None:
        assert trains == []
    elif expect == "new":
        assert len(trains) == 1 and "--config" in trains[0] and "--resume" not in trains[0]
    else:
        assert trains == [("train", "--resume", str(run / "last.pt"), "--out", str(run), "--epochs", "4")]
    row = next(iter(json.loads((tmp_path / "ablations.json").read_text()).values()))
    assert row.get("resumed_from_epoch") == (done if expect == "resume" else None)
