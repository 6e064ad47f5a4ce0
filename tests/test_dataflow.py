"""The accelerator's dataflow graph (codegen/dataflow.py): the passes' invariants on the
shipped models and every board, the output stage fed by the last spiking layer's masks, and
the errors of impossible copy counts."""
from __future__ import annotations

import pytest

from fsvae_fpga.codegen import boards
from fsvae_fpga.codegen.dataflow import (EVENT_FIFO_MAX, FIFO_DEPTH, build, index_bits, insert_copies, insert_fifos,
                                         lower, masked_prior)
from fsvae_fpga.codegen.design import CodegenError, cname, describe, output_sum_weight, replicas, spike_streams


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from fsvae_fpga.contract.export import export
    from fsvae_fpga.contract.hwmodel import load
    from fsvae_fpga.training.checkpoint import SHIPPED_DIR, load_model
    out = {}
    for which in ("small", "mnist"):
        model, _ = load_model(SHIPPED_DIR.parent / which / "model.pt")
        out[which] = load(export(model, tmp_path_factory.mktemp("hw") / which))
    return out


def hw_last(hw) -> str:
    """The last spiking layer (the output stage's source)."""
    return hw.names("decoder")[-1]


CASES = [("small", "pynq-z2"), ("small", "kv260"), ("mnist", "kv260"), ("mnist", "zcu104")]


@pytest.mark.parametrize("which,board", CASES)
def test_every_stream_has_one_producer_and_one_consumer(models, which, board):
    g = lower(describe(models[which], boards.board(board)))
    for s in g.streams:
        producers = [n for n in g.nodes if s in n.outputs]
        consumers = g.consumers(s)
        assert len(producers) == 1, s
        assert len(consumers) == 1, s
    assert len({n.name for n in g.nodes}) == len(g.nodes), "instance names are unique"


@pytest.mark.parametrize("which,board", CASES)
def test_fifos_sit_exactly_on_the_streams_between_layers(models, which, board):
    design = describe(models[which], boards.board(board))
    g = lower(design)
    fifo_ops = ("stream_fifo", "event_fifo")
    fifos = [n for n in g.nodes if n.op in fifo_ops]
    for f in fifos:
        prod, cons = g.producer(f.inputs[0]), g.consumers(f.outputs[0])[0]
        assert prod.layer != cons.layer and f.layer == cons.layer, f.name
        # into a decoder layer the block-RAM FIFO, holding all of the producer's outputs (a
        # step's events) up to EVENT_FIFO_MAX; the prior's loop keeps the small one
        into_decoder = cons.layer == "decoder_fc" or cons.layer.startswith("decoder.")
        assert f.op == ("event_fifo" if into_decoder else "stream_fifo"), f.name
        if into_decoder:
            outputs = design.plan(prod.layer).outputs if prod.layer in design.layers else models[which].C
            depth = f.attrs["depth"]
            cap = design.board.get("event_fifo_max", EVENT_FIFO_MAX)          # PYNQ-Z2: 1,024
            assert depth & (depth - 1) == 0 and (depth >= outputs or depth == cap) and depth < 2 * outputs + 4
        else:
            assert f.attrs["depth"] == FIFO_DEPTH
    for n in g.nodes:                    # no other stream crosses from one layer to another
        if n.op in fifo_ops:
            continue
        for s in n.inputs:
            assert g.producer(s).layer == n.layer or g.producer(s).op in fifo_ops or g.streams[s].buffered, \
                (n.name, s)
    hw, b = models[which], design.board
    dec = hw.names("decoder")
    # the mask streams (the LIF update's mask FIFO is the buffer): into the output stage and
    # into every dense layer
    masked = [n for n in dec[1:-1] if design.plan(dec[dec.index(n) + 1]).dense] + [hw_last(hw)]
    # and the prior's last layer's masks into the pick (stage C of fsvae_lif_linear holds them)
    last_prior = hw.names("prior")[-1]
    prior_masks = masked_prior(design.plan(last_prior), hw.C * hw.k)
    assert prior_masks == (not design.plan(last_prior).streamed)        # on every board that does not stream it
    masked = [last_prior] * prior_masks + masked
    assert [s for s in g.streams.values() if s.buffered] == [g.streams[f"{cname(n)}_mask"] for n in masked]
    # one FIFO per layer input stream: each linear layer and the pick one (unless it takes
    # masks), a transposed conv one per spike stream of the layer before it (a dense one
    # none: its input is the mask FIFO); none before the output stage
    want = len(hw.names("prior")) + (not prior_masks) + 1 + 1   # prior layers, the pick, decoder_fc, decoder.0
    want += sum(spike_streams(b, name) for name in dec[1:-1] if name not in masked)
    assert len(fifos) == want
    out = next(n for n in g.nodes if n.op == "output_sum")
    assert g.producer(out.inputs[0]).op == "lif_update"


@pytest.mark.parametrize("which,board", CASES)
def test_copies_split_and_join_follow_the_board(models, which, board):
    hw = models[which]
    b = describe(hw, boards.board(board)).board     # with the balance plan resolved
    g = lower(describe(hw, b))
    dense = set(b.get("dense_layers") or [])
    for name in hw.names("decoder")[1:]:
        R = replicas(b, name)
        copies = [n for n in g.nodes if n.op == "convt_current" and n.layer == name]
        joins = [n for n in g.nodes if n.op == "current_join" and n.layer == name]
        if name in dense:                 # one dense engine, no copies
            assert R == 1 and not copies and not joins
            assert [n.op for n in g.nodes if n.layer == name] == ["convt_dense", "lif_update"]
            continue
        assert len(copies) == R
        assert len(joins) == (R > 1)
        assert [c.attrs.get("zero_bias", False) for c in copies] == [False] + [True] * (R - 1), "bias in copy 0 only"
    assert len(g.engines()) == len(hw.names("prior")) + 1 + sum(replicas(b, n) for n in hw.names("decoder")[1:])
    assert not [n for n in g.nodes if n.layer == "output" and n.op != "output_sum"], "the output layer is one unit"


@pytest.mark.parametrize("which,board", CASES)
def test_the_last_spiking_layer_hands_its_masks_to_the_output_stage(models, which, board):
    hw, b = models[which], boards.board(board)
    design = describe(hw, b)
    g = lower(design)
    last = hw_last(hw)
    lp, o = design.plan(last), design.output_sum
    out = [n for n in g.nodes if n.op == "output_sum"]
    assert len(out) == 1 and out[0].outputs == [] and out[0].attrs["trace_in"] == last
    mask = g.streams[out[0].inputs[0]]
    update = g.producer(mask.name)
    assert update.op == "lif_update" and update.layer == last and update.attrs["masks"]
    assert update.outputs == [mask.name]
    # {w, mask}: a word index of the layer's NW = outputs / P words, P spike bits; tlast, no tuser
    assert o.source == last and o.lanes == lp.lanes and o.groups * o.lanes == lp.cout
    assert mask.width == index_bits(lp.outputs // lp.lanes) + lp.lanes and mask.last and not mask.user
    assert o.words == lp.outputs // lp.lanes                      # the Sc RAM: one word per mask word
    coef = hw.desc["output"]["decay_coefficients"]
    assert o.bias_sum == int(hw.biases["output"][0]) * sum(coef)
    assert (1 << (o.s_bits - 1)) <= sum(coef) < (1 << o.s_bits)
    # every intermediate sum (from the bias term, over any subset of the taps) and every
    # threshold fit the signed sum width
    lo, hi = hw.desc["output"]["sum_range"]
    assert -(1 << (o.sum_bits - 1)) <= lo and hi + 1 < (1 << (o.sum_bits - 1))
    w = hw.weights["output"].astype(int)                          # (CIN, 1, K, K)
    words = output_sum_weight(w, o.lanes)
    K = o.kernel
    assert words.shape == (K * K * o.groups, o.lanes)
    for c in range(w.shape[0]):
        for ky in range(K):
            for kx in range(K):
                assert words[(ky * K + kx) * o.groups + c // o.lanes, c % o.lanes] == w[c, 0, ky, kx]


@pytest.mark.parametrize("key,value,message", [
    ("replicas", {"output": 4}, "output: replicas \\(4\\)"),
    ("spike_streams", {"decoder.3": 2}, "decoder.3: spike_streams \\(2\\): the last spiking layer"),
])
def test_copies_of_the_output_stage_are_refused(models, key, value, message):
    with pytest.raises(CodegenError, match=message):
        lower(describe(models["mnist"], {**boards.board("kv260"), "balance": None, key: value}))


def test_passes_are_what_lower_runs(models):
    hw, b = models["mnist"], boards.board("kv260")
    by_hand = insert_fifos(insert_copies(build(describe(hw, b))))
    assert [(n.name, n.op, n.inputs, n.outputs) for n in by_hand.nodes] == \
        [(n.name, n.op, n.inputs, n.outputs) for n in lower(describe(hw, b)).nodes]
    assert not any(n.op == "stream_fifo" for n in build(describe(hw, b)).nodes), "build inserts no FIFOs"


def test_replicas_not_a_multiple_of_the_spike_streams_are_refused(models):
    hw = models["mnist"]
    b = {**boards.board("kv260"), "balance": None, "spike_streams": {"decoder.2": 2}, "replicas": {"decoder.3": 3}}
    with pytest.raises(CodegenError, match="decoder.3: replicas \\(3\\) must be a multiple of the input spike streams"):
        lower(describe(hw, b))


def test_dense_layers_take_the_spike_masks_of_the_layer_before(models):
    """KV260 (balance.dense): the paper model's decoder.1-.3 run on the dense engine, each fed
    by the previous layer's LIF update in mask mode, its words {w, mask} of that layer's lanes."""
    hw = models["mnist"]
    design = describe(hw, boards.board("kv260"))
    dense = design.board["dense_layers"]
    assert dense == ["decoder.1", "decoder.2", "decoder.3"]
    g = lower(design)
    for name in dense:
        node = next(n for n in g.nodes if n.op == "convt_dense" and n.layer == name)
        prev = hw.names("decoder")[hw.names("decoder").index(name) - 1]
        src = g.streams[node.inputs[0]]
        update = g.producer(src.name)
        assert update.op == "lif_update" and update.layer == prev and update.attrs["masks"]
        assert node.attrs["trace_in"] == prev
        lp = design.plan(prev)
        assert src.width == index_bits(lp.outputs // lp.lanes) + lp.lanes and src.buffered


def test_a_dense_layer_after_decoder_fc_is_refused(models):
    hw = models["mnist"]
    board = {**boards.board("kv260"), "dense_layers": ["decoder.0"]}
    board.pop("balance")
    with pytest.raises(CodegenError, match="decoder.0: the dense engine takes spike masks"):
        lower(describe(hw, board))
