"""The HLS cycle model (codegen/latency.py) of the linear layers: the loop structure of
lif_linear_step (E G scatter cycles for E input events) and of lif_linear_step_pairs where the
plan scatters events in pairs (E2 G, E2 = ceil(E_t / 2) summed over the steps: stats.py
input_pairs), on the shipped small model on KV260 with lanes held at 8 (the balance plan then
pairs the prior's layers and decoder_fc, as sim/fsvae_top's kv260-pairs bench)."""
from __future__ import annotations

import pytest

from fsvae_fpga.codegen import boards
from fsvae_fpga.codegen.design import describe
from fsvae_fpga.codegen.latency import DEPTH, image_cycles, layer_cycles
from fsvae_fpga.contract import stats

PAIRS = {"balance": {**boards.board("kv260")["balance"], "max_lanes": 8}}


@pytest.fixture(scope="module")
def small_hw(tmp_path_factory):
    from fsvae_fpga.contract.export import export_shipped
    from fsvae_fpga.contract.hwmodel import load
    return load(export_shipped("configs/small.yaml", tmp_path_factory.mktemp("hw") / "small"))


def test_linear_cycles_with_and_without_event_pairs(small_hw):
    board = {**boards.board("kv260"), **PAIRS}
    design = describe(small_hw, board)
    paired = {n for n, lp in design.layers.items() if lp.event_pairs}
    assert paired == {"prior.0", "prior.1", "prior.2", "decoder_fc"}
    rows = {r["layer"]: r for r in stats.layer_stats(small_hw, "generate", 4, 0)}
    per_layer = image_cycles(small_hw, board, list(rows.values()))["per_layer"]
    T, fewer = small_hw.T, 0
    for name in paired:
        lp, r = design.plan(name), rows[name]
        E, E2, G = r["input_events"], r["input_pairs"], lp.cout // lp.lanes
        assert E / 2 <= E2 <= min(E, (E + T) / 2) and E2 > 0, (name, E, E2)
        fixed = T * (lp.in_events + 2 * G + 4 * DEPTH)
        assert layer_cycles(design, name, E, E2) == per_layer[name] == fixed + 2 * T + E2 * G
        unpaired = describe(small_hw, {**board, "balance": None, "layer_lanes": {name: lp.lanes}})
        assert not unpaired.plan(name).event_pairs
        assert layer_cycles(unpaired, name, E, E2) == fixed + E * G
        fewer += layer_cycles(design, name, E, E2) < layer_cycles(unpaired, name, E, E2)
        with pytest.raises(ValueError, match=f"{name} scatters its events in pairs"):
            layer_cycles(design, name, E)
    assert fewer == len(paired)      # their events come several a step: pairs save cycles
