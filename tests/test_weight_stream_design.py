"""Weight streaming from DDR in the design description: which layers stream, the DDR image's
layout and contents, and the on-chip budget they free (codegen/design.py)."""
import numpy as np
import pytest

from fsvae_fpga.codegen import boards
from fsvae_fpga.codegen.design import (CodegenError, check_fits, ddr_weight_image, ddr_weight_layout, describe,
                                       engine_weight, memory_bits, row_stride)
from fsvae_fpga.contract import hwmodel

STREAM_SMALL = {"weight_stream": {"layers": ["prior.2", "decoder_fc"]}}


@pytest.fixture(scope="module")
def small_hw(tmp_path_factory):
    """The shipped small-configuration model (the PYNQ-Z2 default)."""
    from fsvae_fpga.contract.export import export
    from fsvae_fpga.training.checkpoint import SHIPPED_DIR, load_model
    model, _ = load_model(SHIPPED_DIR.parent / "small" / "model.pt")
    return hwmodel.load(export(model, tmp_path_factory.mktemp("hw") / "small"))


@pytest.fixture(scope="module")
def paper_hw(tmp_path_factory):
    from fsvae_fpga.contract.export import export
    from fsvae_fpga.training.checkpoint import SHIPPED_MODEL, load_model
    model, _ = load_model(SHIPPED_MODEL)
    return hwmodel.load(export(model, tmp_path_factory.mktemp("hw") / "paper"))


def _board(name, **over):
    return {**boards.board(name), **over}


def test_row_stride_keeps_every_burst_inside_one_burst_window():
    beat, burst = 8, 128
    for useful in (8, 12, 64, 72, 128, 200, 2560):
        stride = row_stride(useful, beat, burst)
        assert stride >= useful and stride % beat == 0
        if useful >= burst:
            assert stride % burst == 0
        else:
            assert stride & (stride - 1) == 0 and burst % stride == 0   # a power of two dividing the burst
    assert row_stride(2560, 8, 128) == 2560 and row_stride(72, 8, 128) == 128 and row_stride(8, 8, 128) == 8


def test_the_ddr_image_holds_each_rows_engine_words(small_hw):
    design = describe(small_hw, _board("pynq-z2", **STREAM_SMALL))
    assert [n for n, p in design.layers.items() if p.streamed] == ["prior.2", "decoder_fc"]
    layout, image = ddr_weight_layout(design), ddr_weight_image(design)
    assert [m["layer"] for m in layout] == ["prior.2", "decoder_fc"]
    for m in layout:
        assert m["offset"] % 4096 == 0 and m["row_bytes"] <= m["row_stride"]
        rows = engine_weight(small_hw, m["layer"])                      # [in][out]
        assert m["rows"] == rows.shape[0] and m["row_bytes"] == rows.shape[1]      # 8-bit weights
        got = np.frombuffer(image, dtype=np.int8, count=m["rows"] * m["row_stride"], offset=m["offset"])
        got = got.reshape(m["rows"], m["row_stride"])
        assert np.array_equal(got[:, :m["row_bytes"]].astype(np.int64), rows)
        assert not got[:, m["row_bytes"]:].any()                       # padding is zero
    ends = [m["offset"] + m["rows"] * m["row_stride"] for m in layout]
    assert all(e <= m["offset"] for e, m in zip(ends, layout[1:])), "layers overlap"


def test_streamed_weights_leave_the_on_chip_budget(small_hw):
    plain = describe(small_hw, boards.board("pynq-z2"))
    streamed = describe(small_hw, _board("pynq-z2", **STREAM_SMALL))
    saved = sum(small_hw.weights[n].size * 8 for n in ("prior.2", "decoder_fc"))
    assert memory_bits(plain)["weights"] - memory_bits(streamed)["weights"] == saved
    assert memory_bits(plain)["state"] == memory_bits(streamed)["state"]


def test_auto_streams_nothing_when_the_model_fits(small_hw):
    design = describe(small_hw, boards.board("pynq-z2"))         # weight_stream: auto on this board
    assert boards.board("pynq-z2")["weight_stream"]["layers"] == "auto"
    assert not any(p.streamed for p in design.layers.values()) and ddr_weight_layout(design) == []


def test_auto_streams_the_largest_linear_layers_first(paper_hw):
    """The paper model on PYNQ-Z2: every linear layer streams, and what is left (decoder.0's
    weights and the decoder's state) fits the board's 90 % budget; at 85 % it is refused with
    the reason."""
    design = describe(paper_hw, boards.board("pynq-z2"))
    assert [n for n, p in design.layers.items() if p.streamed] == ["prior.0", "prior.1", "prior.2", "decoder_fc"]
    fit = check_fits(design)
    assert fit["used_bits"] <= fit["budget_bits"]
    tight = describe(paper_hw, _board("pynq-z2", memory_budget=0.85))
    assert [n for n, p in tight.layers.items() if p.streamed] == ["prior.0", "prior.1", "prior.2", "decoder_fc"]
    with pytest.raises(CodegenError, match=r"streamed from DDR \(only linear layers can stream\)"):
        check_fits(tight)
    # with a budget that holds everything but prior.2, auto stops after prior.2
    no_p2 = sum(memory_bits(design, {"prior.2"}).values())
    board = _board("pynq-z2", memory_budget=1.0,
                   resources={**boards.board("pynq-z2")["resources"], "bram36": -(-no_p2 // boards.BRAM36_BITS)})
    assert [n for n, p in describe(paper_hw, board).layers.items() if p.streamed] == ["prior.2"]


def test_only_linear_layers_stream_and_words_must_fit_the_port(small_hw):
    with pytest.raises(CodegenError, match="only the design's linear layers can stream"):
        describe(small_hw, _board("pynq-z2", weight_stream={"layers": ["decoder.1"]}))
    with pytest.raises(CodegenError, match="port_bits"):
        describe(small_hw, _board("pynq-z2", weight_stream={"layers": ["prior.2"], "port_bits": 48}))
    design = describe(small_hw, _board("pynq-z2", lanes=1, weight_stream={"layers": ["prior.2"], "port_bits": 32}))
    assert ddr_weight_layout(design)[0]["word_bits"] == 8                # 1 lane x 8 bits divides 32


def test_fused_membranes_keep_one_word_per_neuron(small_hw):
    """fused_membranes (PYNQ-Z2): the spiking transposed-conv layers of one engine copy hold one
    membrane word per neuron, not a current, a membrane and a spike bit; layers with several
    copies (KV260's replicas) and the linear layers do not fuse."""
    # lanes as the board sets them (balance off: unfused, the plan could add engine copies)
    fused = describe(small_hw, _board("pynq-z2", balance=None))
    plain = describe(small_hw, _board("pynq-z2", balance=None, fused_membranes=False))
    names = [n for n, p in fused.layers.items() if p.fused]
    assert names == small_hw.names("decoder")[1:]
    saved = sum(int(np.prod(small_hw.layer(n)["out_shape"])) * (small_hw.layer(n)["current_bits"] + 1)
                for n in names)
    assert memory_bits(plain)["state"] - memory_bits(fused)["state"] == saved
    assert all(fused.plan(n).cur_bits == fused.plan(n).widths["mem"] for n in names)
    kv = describe(small_hw, _board("kv260", fused_membranes=True, balance=None, replicas={"decoder.3": 2}))
    assert kv.plan("decoder.3").copies == 2 and not kv.plan("decoder.3").fused and kv.plan("decoder.2").fused
