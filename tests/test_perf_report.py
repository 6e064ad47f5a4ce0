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


def test_the_simulator_speed_counts_the_images_not_the_weight_load(capsys):
    """run_s holds the simulator's start and a run-time weight load (most of a short KV260 run):
    the cycles/s figure is over the images' wall time, with the load stated beside it."""
    rep = _run({"decoder.2": 60}, cycles=1000)
    assert rep["sim_cycles_per_s"] == 2000 and rep["weight_load_s"] == 0.0     # no wall_s: over run_s
    manifest = {"board": "kv260", "clock_mhz": 100.0, "engines": [{"layer": "decoder.2", "instance": "d", "lanes": 1}]}
    result = {"n": 2, "seed": 0, "equal": True, "wall_s": 0.5, "load_s": 20.0, "weight_words_loaded": 466944,
              "counters": {"perf_run_cycles": 2000, "perf_d_busy": 2000, "perf_d_events": 0}}
    rep = perf_report.report(manifest, result, [{"layer": "decoder.2", "event_accumulates": 60, "neuron_updates": 0}],
                             90.0, 22.0)
    assert rep["sim_cycles_per_s"] == 4000 and rep["images_s"] == 0.5 and rep["run_s"] == 22.0
    perf_report.print_report(rep)
    assert "weight load 20.0 s (466,944 words on in_r), 2 images 0.5 s (4,000 cycles/s)" in capsys.readouterr().out


def test_an_engine_that_scatters_events_in_pairs_accumulates_twice_its_lanes_a_cycle():
    """fsvae_lif_linear PAIRS (manifest engines event_pairs): the bound is A / (2P) + U / P."""
    manifest = {"engines": [{"layer": "prior.2", "instance": "p2", "lanes": 4, "event_pairs": True},
                            {"layer": "prior.1", "instance": "p1", "lanes": 4}]}
    rows = [{"layer": "prior.2", "event_accumulates": 80, "neuron_updates": 40},
            {"layer": "prior.1", "event_accumulates": 80, "neuron_updates": 40}]
    lb = perf_report.lower_bounds(manifest, rows)
    assert lb["prior.2"]["lower_bound"] == 80 / 8 + 40 / 4 == 20
    assert lb["prior.1"]["lower_bound"] == (80 + 40) / 4 == 30
