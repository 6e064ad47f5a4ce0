"""The accelerator's dataflow graph (codegen/dataflow.py): the passes' invariants on the
shipped models and every board, and the errors of impossible copy counts."""
from __future__ import annotations

import pytest

from fsvae_fpga.codegen import boards
from fsvae_fpga.codegen.dataflow import build, insert_copies, insert_fifos, lower
from fsvae_fpga.codegen.design import CodegenError, describe, replicas, spike_streams


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


CASES = [("small", "pynq-z2"), ("small", "kv260"), ("mnist", "kv260"), ("mnist", "zcu104")]


@pytest.mark.parametrize("which,board", CASES)
def test_every_stream_has_one_producer_and_one_consumer(models, which, board):
    g = lower(describe(models[which], boards.board(board)))
    for s in g.streams:
        producers = [n for n in g.nodes if s in n.outputs]
        consumers = g.consumers(s)
        assert len(producers) == 1, s
        assert len(consumers) == (0 if s == "cur" else 1), s
    assert len({n.name for n in g.nodes}) == len(g.nodes), "instance names are unique"


@pytest.mark.parametrize("which,board", CASES)
def test_fifos_sit_exactly_on_the_streams_between_layers(models, which, board):
    g = lower(describe(models[which], boards.board(board)))
    fifos = [n for n in g.nodes if n.op == "stream_fifo"]
    for f in fifos:
        prod, cons = g.producer(f.inputs[0]), g.consumers(f.outputs[0])[0]
        assert prod.layer != cons.layer and f.layer == cons.layer, f.name
    for n in g.nodes:                    # no other stream crosses from one layer to another
        if n.op == "stream_fifo":
            continue
        for s in n.inputs:
            assert g.producer(s).layer == n.layer or g.producer(s).op == "stream_fifo", (n.name, s)
    # one FIFO per layer input stream: each linear layer and the pick one, a transposed
    # conv one per spike stream of the layer before it
    hw, b = models[which], boards.board(board)
    dec = hw.names("decoder")
    want = len(hw.names("prior")) + 1 + 1 + 1        # prior layers, the pick, decoder_fc, decoder.1
    want += sum(spike_streams(b, name) for name in dec[1:])
    assert len(fifos) == want


@pytest.mark.parametrize("which,board", CASES)
def test_copies_split_and_join_follow_the_board(models, which, board):
    hw, b = models[which], boards.board(board)
    g = lower(describe(hw, b))
    for name in hw.names("decoder")[1:] + ["output"]:
        R = replicas(b, name)
        copies = [n for n in g.nodes if n.op == "convt_current" and n.layer == name]
        joins = [n for n in g.nodes if n.op == "current_join" and n.layer == name]
        assert len(copies) == R
        assert len(joins) == (R > 1)
        assert [c.attrs.get("zero_bias", False) for c in copies] == [False] + [True] * (R - 1), "bias in copy 0 only"
    assert len(g.engines()) == len(hw.names("prior")) + 1 + sum(
        replicas(b, n) for n in hw.names("decoder")[1:] + ["output"])


def test_passes_are_what_lower_runs(models):
    hw, b = models["mnist"], boards.board("kv260")
    by_hand = insert_fifos(insert_copies(build(describe(hw, b))))
    assert [(n.name, n.op, n.inputs, n.outputs) for n in by_hand.nodes] == \
        [(n.name, n.op, n.inputs, n.outputs) for n in lower(describe(hw, b)).nodes]
    assert not any(n.op == "stream_fifo" for n in build(describe(hw, b)).nodes), "build inserts no FIFOs"


def test_replicas_not_a_multiple_of_the_spike_streams_are_refused(models):
    hw = models["mnist"]
    b = {**boards.board("kv260"), "spike_streams": {"decoder.2": 2}, "replicas": {"decoder.3": 3}}
    with pytest.raises(CodegenError, match="decoder.3: replicas \\(3\\) must be a multiple of the input spike streams"):
        lower(describe(hw, b))
