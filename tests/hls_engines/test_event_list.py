"""spikes_to_events (hls/fsvae/event_list.h) in C simulation: the event list of a spike vector
is its ascending active indices (np.flatnonzero), its count the number of spikes, and the
entries past the count are left as they were; testbench hls/tb/tb_event_list.cpp."""
from __future__ import annotations

import numpy as np
import pytest

from .tb import assert_equal, bench, events_golden

WIDTHS = (1, 2, 37, 64, 1000)                 # instantiated in the testbench, and 65535
FULL = 65535                                  # the widest layer an index_t event list can describe


@pytest.fixture(scope="module")
def tb():
    return bench("event_list")


def run_and_check(tb, tmp_path, spike_sets):
    results = tb.run(tmp_path, {"spikes": [{"spikes": s} for s in spike_sets]})
    for spikes, got in zip(spike_sets, results["spikes"]):
        count, events = events_golden(spikes)
        assert_equal(got, {"count": count, "events": events}, f"N={spikes.shape[1]}")


def test_random_densities(tb, tmp_path):
    rng = np.random.default_rng(11)
    sets = []
    for n in WIDTHS:
        rows = [(rng.random(n) < d) for d in (0.0, 0.03, 0.15, 0.5, 0.9, 0.97, 1.0) for _ in range(3)]
        sets.append(np.array(rows, dtype=np.int64))
    assert sum(int(s.sum()) for s in sets) > 0
    run_and_check(tb, tmp_path, sets)


def test_edges_of_the_vector(tb, tmp_path):
    """Only the first, only the last, both, alternating: the ends of the scan."""
    sets = []
    for n in WIDTHS:
        rows = np.zeros((5, n), dtype=np.int64)
        rows[0, 0] = rows[1, -1] = 1
        rows[2, [0, -1]] = 1
        rows[3, ::2] = 1
        rows[4, 1::2] = 1
        sets.append(rows)
    run_and_check(tb, tmp_path, sets)


def test_widest_layer(tb, tmp_path):
    """N = 65535: all on (count = 65535, the largest index_t), all off, the last one only."""
    rng = np.random.default_rng(12)
    rows = np.zeros((4, FULL), dtype=np.int64)
    rows[0] = 1
    rows[2, -1] = 1
    rows[3] = rng.random(FULL) < 0.01
    run_and_check(tb, tmp_path, [rows])


@pytest.mark.parametrize("spikes, message", [
    (np.array([[0, 2]]), "spike not 0/1"),
    (np.array([[0, -1]]), "spike not 0/1"),
    (np.zeros((1, 5), dtype=np.int64), "no instantiation for N = 5"),
], ids=["two", "minus-one", "no-instance"])
def test_testbench_rejects_bad_inputs(tb, tmp_path, spikes, message):
    proc = tb.run_raw(tmp_path, {"spikes": [{"spikes": spikes}]})
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
