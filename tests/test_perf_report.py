"""make sim's report (toolchain/perf_report.py): the design's bound is the slowest layer's or
the latent loop's (the prior's layers summed: they run one after another within a step),
whichever is larger, and the total utilisation is measured against it."""
from __future__ import annotations

import pytest

from fsvae_fpga.toolchain import perf_report


def _run(bounds: dict[str, float], cycles: float, n: int = 2):
    """A manifest of one engine per layer (lanes 1, so the bound is accumulates + updates) and
    counters for a run of n images at `cycles` each."""
    manifest = {"board": "kv260", "clock_mhz": 100.0,
                "engines": [{"layer": k, "instance": k.replace(".", "_"), "lanes": 1} for k in bounds]}
    rows = [{"layer": k, "event_accumulates": v, "neuron_updates": 0} for k, v in bounds.items()]
    counters = {"perf_run_cycles": cycles * n}
    for k in bounds:
        counters[f"perf_{k.replace('.', '_')}_busy"] = cycles * n
        counters[f"perf_{k.replace('.', '_')}_events"] = 0
    result = {"n": n, "counters": counters, "seed": 0, "equal": True}
    return perf_report.report(manifest, result, rows, 0.0, 1.0)


def test_the_latent_loop_bounds_the_design_when_the_prior_layers_sum_above_the_slowest():
    rep = _run({"prior.0": 10, "prior.1": 30, "prior.2": 40, "decoder.2": 60}, cycles=100)
    assert rep["total"]["latent_loop_bound_cycles"] == 80
    assert rep["total"]["slowest_layer_bound_cycles"] == 60
    assert rep["total"]["lower_bound_cycles"] == 80
    assert rep["total"]["lane_utilisation"] == pytest.approx(0.8)


def test_the_slowest_layer_bounds_the_design_otherwise():
    rep = _run({"prior.0": 10, "prior.1": 20, "decoder.2": 60}, cycles=100)
    assert rep["total"]["latent_loop_bound_cycles"] == 30
    assert rep["total"]["slowest_layer_bound_cycles"] == 60
    assert rep["total"]["lower_bound_cycles"] == 60
    assert rep["total"]["lane_utilisation"] == pytest.approx(0.6)
