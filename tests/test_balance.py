"""Per-layer lanes and engine copies from the measured events (codegen/balance.py), on the
shipped paper model: the plan's invariants against an independent recount of its cycle model,
that no single step of the plan's own kind could still lower the slowest unit within the
budget, monotonicity in the budget, the UltraRAM and block-RAM caps, and the board errors."""
from __future__ import annotations

import math

import pytest

from fsvae_fpga.codegen import balance, boards
from fsvae_fpga.codegen.design import CodegenError, describe, loadable_layers
from fsvae_fpga.codegen.hls_memory import bram18_blocks, uram_blocks
from fsvae_fpga.codegen.rtl_memory import bram18_available, layer_state_bram18, ram_bram18
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
    # the slowest unit: no step of any of its layers (twice the lanes while they divide COUT
    # and stay <= 128; one more copy of a transposed conv, up to 8) both pays (>= 10 %) and
    # fits: the budget, the UltraRAM (one memory per pair of copies) and the block RAM (state,
    # and a ROM per pair of copies and per odd copy)
    slowest = max(units, key=units.get)
    ultra_cap = boards.board("kv260")["resources"]["uram"]
    loaded = {n for n, lp in describe(hw, board).layers.items() if lp.loaded}
    for name in slowest.split("+"):
        p, c = lanes[name], copies.get(name, 1)
        cout = hw.layer(name)["out_shape"][0]
        steps = ([(2 * p, c)] if cout % (2 * p) == 0 and 2 * p <= 128 else []) + \
            ([(p, c + 1)] if hw.layer(name)["kind"] == "convT" and c < 8 else [])
        for step in steps:
            la, co = {**lanes, name: step[0]}, {n: copies.get(n, 1) for n in lanes} | {name: step[1]}
            after = _recount(hw, {"layer_lanes": la, "replicas": co})
            if after[name] > 0.9 * recount[name]:
                continue
            more = sum(la[n] * co[n] for n in la)
            urams = sum(-(-co[n] // 2) * uram_blocks(hw.weights[n].size // la[n], la[n] * 8) for n in loaded)
            state = sum(layer_state_bram18(hw, n, la[n], co[n]) for n in la)
            roms = _rom_bram18(hw, board, {"layer_lanes": la, "replicas": co})
            assert more > budget or urams > ultra_cap or state + roms > bram18_available(board), \
                (name, step, more, urams, state, roms)


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


def test_state_memories_in_block_ram_are_counted_as_fsvae_state_ram_places_them(paper):
    # fsvae_state_ram: at most 128 words in LUTs (no block RAM), deeper ones in 512 x 36 or
    # 1K x 18 .. 16K x 1 blocks, whichever takes fewest
    assert ram_bram18(128, 10_000) == 0 and ram_bram18(129, 36) == 1 and ram_bram18(1024, 448) == 25
    assert ram_bram18(256, 480) == 14 and ram_bram18(2048, 9) == 1 and ram_bram18(2048, 10) == 2
    # decoder.3 (32 x 32 x 32 neurons) at 32 lanes: 1,024 words; currents 14 bits, membranes 14
    d3 = paper.layer("decoder.3")
    assert math.prod(d3["out_shape"]) == 32768
    one, two = layer_state_bram18(paper, "decoder.3", 32, 1), layer_state_bram18(paper, "decoder.3", 32, 2)
    assert two - one == ram_bram18(1024, 32 * d3["current_bits"]) > 0       # a copy adds its currents


def _bram_board(bram36: int) -> dict:
    return {**_board(1024), "resources": {**boards.board("kv260")["resources"], "bram36": bram36}}


def _rom_bram18(hw, board: dict, plan: dict) -> int:
    """BRAM18 of the plan's block-RAM weight ROMs: copies 2j and 2j + 1 share one ROM with two
    read ports (true dual port: ports of at most 36 bits a BRAM36, 18 a BRAM18), an odd last
    copy has a one-port ROM (simple dual port shapes, 72 bits a BRAM36)."""
    ultra = set(loadable_layers(hw, board)) if (board.get("weight_memory") or {}).get("style") == "ultra" else set()
    lanes = plan["layer_lanes"]
    total = 0
    for n in balance.weight_roms(hw, board, list(lanes), ultra):
        c = plan["replicas"].get(n, 1)
        depth, width = hw.weights[n].size // lanes[n], lanes[n] * hw.layer(n)["weight"]["bits"]
        total += (c // 2) * bram18_blocks(depth, width, False) + (c % 2) * bram18_blocks(depth, width, True)
    return total


def test_a_pair_of_copies_shares_one_weight_rom_or_ultraram(paper):
    """Two copies read one memory through its two ports: a ROM of 1,152 x 256 bits takes 24
    BRAM18 with one port (512 x 72 shapes: 4 wide, 3 deep, BRAM36) and 29 with two (2K x 9
    shapes, as Yosys maps fsvae_weight_mem_pair), against 48 for two one-port copies."""
    assert balance.weight_rom_bram18(1152, 256, 1) == bram18_blocks(1152, 256, True) == 24
    assert balance.weight_rom_bram18(1152, 256, 2) == 29 < 2 * 24
    assert balance.weight_rom_bram18(1152, 256, 3) == 29 + 24
    board = _board(1024)
    plan = balance.plan_lanes(paper, board, balance.settings(board))
    loaded = {n for n, lp in describe(paper, board).layers.items() if lp.loaded}
    assert plan["uram_weight_blocks"] == sum(
        -(-plan["replicas"].get(n, 1) // 2) * uram_blocks(paper.weights[n].size // plan["layer_lanes"][n],
                                                          plan["layer_lanes"][n] * 8) for n in loaded)


@pytest.mark.parametrize("bram36", [100, 115, 130])
def test_engine_copies_stop_at_the_block_ram(paper, bram36):
    board = _bram_board(bram36)
    plan = balance.plan_lanes(paper, board, balance.settings(board))
    cap = bram18_available(board)
    state = sum(layer_state_bram18(paper, n, p, plan["replicas"].get(n, 1)) for n, p in plan["layer_lanes"].items())
    roms = _rom_bram18(paper, board, plan)
    assert state == plan["state_bram18"] and roms == plan["weight_rom_bram18"] > 0
    assert state + roms <= cap == plan["bram18_cap"]
    roomy = balance.plan_lanes(paper, _board(1024), balance.settings(_board(1024)))
    if roomy["state_bram18"] + roomy["weight_rom_bram18"] > cap:   # the cap binds: fewer copies or lanes
        assert sum(plan["replicas"].values()) < sum(roomy["replicas"].values()) or \
            sum(plan["layer_lanes"].values()) < sum(roomy["layer_lanes"].values())
    else:
        assert plan["replicas"] == roomy["replicas"] and plan["layer_lanes"] == roomy["layer_lanes"]


def test_weight_roms_in_block_ram_take_room_from_engine_copies(paper):
    """With the RTL's ROMs in block RAM (KV260: rtl_lut_rom_max_bits 0) every copy of
    decoder.2/.3 brings its weight ROM, so on 100 BRAM36 fewer copies fit than with LUT ROMs
    (which take no block RAM); a board that streams weights counts none (it picks the
    streamed layers after this plan)."""
    def board(lut_max):
        b = _bram_board(100)
        return {**b, "weight_memory": {**b["weight_memory"], "rtl_lut_rom_max_bits": lut_max}}
    in_bram = balance.plan_lanes(paper, board(0), balance.settings(board(0)))
    in_luts = balance.plan_lanes(paper, board(10**9), balance.settings(board(10**9)))
    assert in_luts["weight_rom_bram18"] == 0 < in_bram["weight_rom_bram18"] == _rom_bram18(paper, board(0), in_bram)
    assert sum(in_bram["replicas"].values()) < sum(in_luts["replicas"].values())
    assert in_bram["state_bram18"] + in_bram["weight_rom_bram18"] <= in_bram["bram18_cap"]
    streaming = {**board(0), "weight_stream": boards.board("pynq-z2")["weight_stream"]}
    assert balance.weight_roms(paper, streaming, list(in_bram["layer_lanes"]), set()) == []


def test_a_board_whose_block_ram_cannot_hold_the_state_keeps_the_first_lanes(paper):
    board = _bram_board(40)
    plan = balance.plan_lanes(paper, board, balance.settings(board))
    assert plan["state_bram18"] > plan["bram18_cap"]          # over even so: nothing grew
    ultra = set(loadable_layers(paper, board))                     # UltraRAM weights start at 8 lanes
    assert not plan["replicas"] and plan["layer_lanes"] == {
        n: balance._first_lanes(paper, n, 72 if n in ultra else 1) for n in plan["layer_lanes"]}


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
    ({"balance": {"lanes": 64}, "event_pairs": ["prior.2"]}, "balance chooses event_pairs"),
    ({"balance": {"lanes": 64, "event_pairs": "yes"}}, "balance.event_pairs must be true or false"),
])
def test_board_errors(paper, extra, message):
    with pytest.raises(CodegenError, match=message):
        describe(paper, {**boards.board("kv260"), **extra})


def test_a_copy_the_block_ram_cannot_hold_keeps_its_currents_in_luts(paper):
    """With balance.state_lutram_luts, a transposed conv whose next copy's currents would not
    fit the block RAM gets that copy with its currents in distributed RAM (fsvae_current_acc
    STATE_LUTRAM), within that LUT budget; the block RAM counts only the other copies, and the
    generated top marks the last copies so."""
    from fsvae_fpga.codegen.dataflow import lower
    from fsvae_fpga.codegen.rtl_memory import copy_lutram_luts
    from fsvae_fpga.codegen.rtl_top import TopBody
    # decoder.1's weights in UltraRAM (loadable from 500 k bits, as KV260 had them before its
    # dense engines): the block RAM then runs out with decoder.3's fifth copy
    # (and 85 % of the block RAM, KV260's budget then)
    wm = {**boards.board("kv260")["weight_memory"], "loadable_min_bits": 500_000}
    plain = {**_board(448), "weight_memory": wm, "memory_budget": 0.85}
    plain = balance.plan_lanes(paper, plain, balance.settings(plain))
    board = {**_board(448, state_lutram_luts=12_000), "weight_memory": wm, "memory_budget": 0.85}
    plan = balance.plan_lanes(paper, board, balance.settings(board))
    assert plain["lutram_copies"] == {} and plain["state_lutram_luts"] == 0
    assert plan["lutram_copies"], "no copy went to LUTs: the test no longer exercises them"
    assert plan["state_lutram_luts"] == sum(c * copy_lutram_luts(paper, n, plan["layer_lanes"][n])
                                            for n, c in plan["lutram_copies"].items()) <= 12_000
    assert max(plan["unit_bounds"].values()) < 0.9 * max(plain["unit_bounds"].values())
    lanes, copies = plan["layer_lanes"], plan["replicas"]
    assert plan["state_bram18"] == sum(
        layer_state_bram18(paper, n, lanes[n], copies.get(n, 1), False, plan["lutram_copies"].get(n, 0))
        for n in lanes) and plan["state_bram18"] + plan["weight_rom_bram18"] <= plan["bram18_cap"]
    # the same layer with the LUT copies in block RAM would not fit
    blocked = sum(layer_state_bram18(paper, n, lanes[n], copies.get(n, 1)) for n in lanes)
    assert blocked + plan["weight_rom_bram18"] > plan["bram18_cap"]
    design = describe(paper, board)
    body = TopBody(lower(design), "mem").render()
    for name, k in plan["lutram_copies"].items():
        assert design.plan(name).lutram_copies == k
        r = copies[name]
        instances = body.split("fsvae_convt_current #(")[1:]
        marked = [i for i in instances if ".STATE_LUTRAM(1)" in i]
        assert len(marked) == k and all(f"u_{name.replace('.', '_')}_r{c} (" in "".join(marked)
                                        for c in range(r - k, r))


def test_dense_layers_are_planned_by_their_schedule_and_use_no_lane_budget(paper):
    """balance.dense: the candidates (fed by a transposed conv's masks, weights in a ROM) whose
    dense schedule beats their event-driven start run on fsvae_convt_dense, with all their
    channels as lanes, one engine, their bound the dense cycle model; the freed budget and
    block RAM go to the others, and the slowest unit is faster than without."""
    from fsvae_fpga.codegen.latency import dense_step_cycles
    board = _board(448, dense=True)
    plan = balance.plan_lanes(paper, board, balance.settings(board))
    ultra = set(loadable_layers(paper, board))
    dense = plan["dense_layers"]
    assert dense and set(dense) <= set(balance.dense_candidates(paper, board, ultra))
    assert "decoder.0" not in dense and not set(dense) & ultra          # decoder_fc sends no masks
    names = list(plan["layer_lanes"])
    last = paper.names("decoder")[-1]
    for n in dense:
        layer = paper.layer(n)
        p, pin = plan["layer_lanes"][n], plan["layer_lanes"][names[names.index(n) - 1]]
        assert p == layer["out_shape"][0] and n not in plan["replicas"]
        xt = plan["dense_tiles"][n]
        assert xt in balance.dense_tile_choices(paper, n)
        want = paper.T * dense_step_cycles(tuple(layer["in_shape"]), layer["out_shape"][0], layer["kernel_size"],
                                           layer["stride"], layer["padding"], layer["output_padding"], p, pin, xt)
        if n == last:                                                 # the output stage's cycles
            o = paper.layer("output")
            groups = o["in_shape"][0] // p
            want = max(want, paper.T * o["in_shape"][1] * o["in_shape"][2] * groups + 1
                       + math.prod(o["out_shape"]) * o["kernel_size"] ** 2 * groups + 14)
        assert plan["bounds"][n] == round(want)
    assert plan["lanes_used"] == sum(p * plan["replicas"].get(n, 1) for n, p in plan["layer_lanes"].items()
                                     if n not in dense)
    # the accumulators (OW/XT x COUT a layer) stay within balance.dense_pes
    assert plan["dense_pes"] == sum(paper.layer(n)["out_shape"][2] // plan["dense_tiles"][n]
                                    * paper.layer(n)["out_shape"][0] for n in dense) <= 1024
    events = balance.plan_lanes(paper, _board(448), balance.settings(_board(448)))
    assert not events["dense_layers"]
    assert max(plan["unit_bounds"].values()) < 0.8 * max(events["unit_bounds"].values())


def test_the_planners_dense_cycle_model_is_the_benchs():
    """latency.dense_step_cycles (what the plan and the perf report use) against the cycle model
    of the fsvae_convt_dense bench, which the bench checks against the RTL, on its geometries."""
    from repo_files import load_file
    from fsvae_fpga.codegen.latency import dense_step_cycles
    bench = load_file("sim/fsvae_convt_dense/test_fsvae_convt_dense.py")
    for cfg in bench.CONFIGS:
        c = dict(zip(bench.KEYS, cfg))
        got = dense_step_cycles((c["CIN"], c["IH"], c["IW"]), c["COUT"], c["K"], c["S"], c["PAD"], c["OUTPAD"],
                                c["P"], c["PIN"], c["XT"])
        assert got == bench.expected_cycles(c), cfg


def test_slack_grows_the_units_below_the_slowest_within_the_budgets(paper):
    """balance.slack: once the slowest unit cannot grow, the next slowest that can still does:
    the slowest bound stays, no unit gets slower, the budgets hold, and something grew."""
    tight = _board(448, dense=True, dense_pes=1536)
    loose = _board(448, dense=True, dense_pes=1536, slack=True)
    a = balance.plan_lanes(paper, tight, balance.settings(tight))
    b = balance.plan_lanes(paper, loose, balance.settings(loose))
    assert max(b["unit_bounds"].values()) == max(a["unit_bounds"].values())
    assert all(b["unit_bounds"][u] <= a["unit_bounds"][u] for u in a["unit_bounds"])
    assert sum(b["unit_bounds"].values()) < sum(a["unit_bounds"].values())
    assert b["lanes_used"] <= 448 and b["dense_pes"] <= 1536
    assert b["uram_weight_blocks"] <= tight["resources"]["uram"]
    assert b["state_bram18"] + b["weight_rom_bram18"] <= b["bram18_cap"]


def test_event_pairs_halve_a_linear_layers_accumulates_where_its_lanes_cannot_double(paper):
    """balance.event_pairs (KV260 as shipped): prior.2's lanes stop at max_lanes 64 (and 128
    would need UltraRAM the part does not have), so it scatters its events in pairs through
    its weight memory's two ports: its bound is A / (2P) + U / P (recounted here), the UltraRAM
    count does not change, each pair counts twice its lanes in the budget, and the latent
    loop's bound falls below the slowest decoder layer's.  Only linear layers of at least two
    groups a step get pairs, and none on a board that streams weights."""
    kv = boards.board("kv260")
    assert kv["balance"]["event_pairs"] is True
    without = {**kv, "balance": {**kv["balance"], "event_pairs": False}}
    off = balance.plan_lanes(paper, without, balance.settings(without))
    on = balance.plan_lanes(paper, kv, balance.settings(kv))
    assert off["event_pairs"] == [] and "prior.2" in on["event_pairs"]
    assert on["layer_lanes"]["prior.2"] == off["layer_lanes"]["prior.2"] == 64
    rows = {r["layer"]: r for r in stats.layer_stats(paper, "generate", 8, 0)}
    for name in on["layer_lanes"]:
        p, k = on["layer_lanes"][name], 2 if name in on["event_pairs"] else 1
        if name in on["event_pairs"]:
            assert paper.layer(name)["kind"] == "linear" and paper.layer(name)["out_shape"][0] // p >= 2
        if name not in on["dense_layers"] and name != paper.names("decoder")[-1]:
            r = rows[name]
            want = r["event_accumulates"] / (p * on["replicas"].get(name, 1) * k) + r["neuron_updates"] / p
            assert on["bounds"][name] == round(want), name
    assert on["lanes_used"] == sum(p * on["replicas"].get(n, 1) * (2 if n in on["event_pairs"] else 1)
                                   for n, p in on["layer_lanes"].items() if n not in on["dense_layers"])
    assert on["lanes_used"] <= kv["balance"]["lanes"]
    assert on["uram_weight_blocks"] == off["uram_weight_blocks"] <= kv["resources"]["uram"]
    loop = "+".join(n for n in on["layer_lanes"] if n.startswith("prior."))
    decoder_slowest = max(v for u, v in on["unit_bounds"].items() if u != loop)
    assert off["unit_bounds"][loop] > on["unit_bounds"][loop] and on["unit_bounds"][loop] < decoder_slowest
    assert max(on["unit_bounds"].values()) <= max(off["unit_bounds"].values())
    streaming = {**kv, "weight_stream": boards.board("pynq-z2")["weight_stream"]}
    assert balance.plan_lanes(paper, streaming, balance.settings(streaming))["event_pairs"] == []


@pytest.mark.parametrize("layer,message", [
    ("decoder.2", "not a linear layer"),
    ("prior.2", "streamed from DDR"),
])
def test_event_pairs_where_the_engine_cannot_have_them_are_refused(paper, layer, message):
    import dataclasses
    from fsvae_fpga.codegen.design import check_event_pairs
    design = describe(paper, boards.board("kv260"))
    bad = dataclasses.replace(design.plan(layer), event_pairs=True, streamed=layer == "prior.2")
    with pytest.raises(CodegenError, match=message):
        check_event_pairs(bad)
    prior2 = design.plan("prior.2")
    one_group = dataclasses.replace(prior2, event_pairs=True, lanes=prior2.cout)
    with pytest.raises(CodegenError, match=r"G = 1"):
        check_event_pairs(one_group)
