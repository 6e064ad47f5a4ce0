"""Per-layer lanes and engine copies from the measured events (codegen/balance.py), on the
shipped paper model: the plan's invariants against an independent recount of its cycle model,
that no single step of the plan's own kind could still lower the slowest unit within the
budget, monotonicity in the budget, the UltraRAM cap, and the board errors."""
from __future__ import annotations

import math

import pytest

from fsvae_fpga.codegen import balance, boards
from fsvae_fpga.codegen.design import CodegenError, describe
from fsvae_fpga.codegen.hls_memory import uram_blocks
from fsvae_fpga.contract import stats


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    from fsvae_fpga.contract.export import export
    from fsvae_fpga.contract.hwmodel import load
    from fsvae_fpga.training.checkpoint import SHIPPED_DIR, load_model
    model, _ = load_model(SHIPPED_DIR.parent / "mnist" / "model.pt")
    return load(export(model, tmp_path_factory.mktemp("hw") / "mnist"))


def _board(lanes: int, **extra) -> dict:
    return {**boards.board("kv260"), "balance": {"lanes": lanes, **extra}}


def _recount(hw, plan: dict, images: int = 8, seed: int = 0) -> dict[str, float]:
    """Cycles per image per layer from the stats rows, written out again: linear (A + U) / P,
    transposed conv A / (P R) + U / P, the last one at least the output stage's cycles."""
    rows = {r["layer"]: r for r in stats.layer_stats(hw, "generate", images, seed)}
    out = {}
    for name, p in plan["layer_lanes"].items():
        r, copies = rows[name], plan["replicas"].get(name, 1)
        out[name] = r["event_accumulates"] / (p * copies) + r["neuron_updates"] / p
    o = hw.layer("output")
    cin, ih, iw = o["in_shape"]
    groups = cin // plan["layer_lanes"][hw.names("decoder")[-1]]
    dense = hw.T * ih * iw * groups + 1 + math.prod(o["out_shape"]) * o["kernel_size"] ** 2 * groups + 14
    last = hw.names("decoder")[-1]
    out[last] = max(out[last], dense)
    return out


@pytest.mark.parametrize("budget", [200, 352, 520])
def test_plan_is_consistent_and_cannot_be_improved_by_one_step(paper, budget):
    hw, board = paper, _board(budget)
    plan = balance.plan_lanes(hw, board, balance.settings(board))
    lanes, copies = plan["layer_lanes"], plan["replicas"]
    assert set(lanes) == {n for n in hw.mode_layers("generate") if n != "output"}
    for name, p in lanes.items():
        cout = hw.layer(name)["out_shape"][0]
        assert p & (p - 1) == 0 and cout % p == 0 and p <= 128, (name, p)
    assert all(hw.layer(n)["kind"] == "convT" and c > 1 for n, c in copies.items())
    used = sum(p * copies.get(n, 1) for n, p in lanes.items())
    assert used == plan["lanes_used"] <= budget
    recount = _recount(hw, plan)
    assert {n: round(v) for n, v in recount.items()} == plan["bounds"]
    prior = [n for n in lanes if n.startswith("prior.")]
    units = {"+".join(prior): sum(recount[n] for n in prior), **{n: recount[n] for n in lanes if n not in prior}}
    assert {u: round(v) for u, v in units.items()} == plan["unit_bounds"]
    # the slowest unit: each of its layers either cannot take its next step (lanes would stop
    # dividing COUT or pass 128, and no copy is possible: a linear layer, or 8 copies), or
    # that step would break the budget or the UltraRAM cap, or gain less than 10 %
    slowest = max(units, key=units.get)
    ultra_cap = boards.board("kv260")["resources"]["uram"]
    for name in slowest.split("+"):
        p, c = lanes[name], copies.get(name, 1)
        cout = hw.layer(name)["out_shape"][0]
        if cout % (2 * p) == 0 and 2 * p <= 128:
            step = (2 * p, c)
        elif hw.layer(name)["kind"] == "convT" and c < 8:
            step = (p, c + 1)
        else:
            continue
        after = _recount(hw, {"layer_lanes": {**lanes, name: step[0]}, "replicas": {**copies, name: step[1]}})
        if after[name] > 0.9 * recount[name]:
            continue
        more = used - p * c + step[0] * step[1]
        loaded = {n for n, lp in describe(hw, board).layers.items() if lp.loaded}
        urams = sum((step[1] if n == name else copies.get(n, 1)) *
                    uram_blocks(hw.weights[n].size // (step[0] if n == name else lanes[n]),
                                (step[0] if n == name else lanes[n]) * 8) for n in loaded)
        assert more > budget or urams > ultra_cap, (name, step, more, urams)


def test_more_lanes_never_slow_the_plan_and_urams_stay_within_the_part(paper):
    previous = math.inf
    for budget in (64, 128, 256, 352, 512, 768):
        board = _board(budget)
        plan = balance.plan_lanes(paper, board, balance.settings(board))
        slowest = max(plan["unit_bounds"].values())
        assert slowest <= previous
        assert plan["uram_weight_blocks"] <= board["resources"]["uram"]
        previous = slowest
    assert previous < max(balance.plan_lanes(paper, _board(64), balance.settings(_board(64)))["unit_bounds"].values())


def test_describe_and_the_writers_see_the_plan(paper):
    board = _board(352)
    design = describe(paper, board)
    plan = design.board["balanced"]
    assert "balance" not in design.board and design.board["layer_lanes"] == plan["layer_lanes"]
    for name, p in plan["layer_lanes"].items():
        assert design.plan(name).lanes == p
        assert design.plan(name).copies == plan["replicas"].get(name, 1)
    assert balance.resolve(paper, design.board) is design.board           # resolved once
    plain = {**boards.board("kv260"), "balance": None, "replicas": {"decoder.3": 3}}
    assert balance.resolve(paper, plain) is plain                           # no balance: the board as it is


@pytest.mark.parametrize("extra,message", [
    ({"balance": {"lanes": 0}}, "balance.lanes must be a positive lane budget"),
    ({"balance": {"lanes": "many"}}, "balance.lanes must be a positive lane budget"),
    ({"balance": {"lanes": 64}, "replicas": {"decoder.3": 2}}, "balance chooses replicas"),
    ({"balance": {"lanes": 64}, "layer_lanes": {"decoder.3": 2}}, "balance chooses layer_lanes"),
])
def test_board_errors(paper, extra, message):
    with pytest.raises(CodegenError, match=message):
        describe(paper, {**boards.board("kv260"), **extra})
