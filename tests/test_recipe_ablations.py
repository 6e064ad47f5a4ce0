"""The recipe-ablation arms (benchmarks/recipe_ablations.py) are real configuration changes:
each arm's --set overrides are accepted by the config schema, on both configurations the
ablations run on, and every arm but the baseline changes the configuration it trains, whatever
the configuration file's own defaults (the arms start from the script's BASE recipe)."""
import importlib.util
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
