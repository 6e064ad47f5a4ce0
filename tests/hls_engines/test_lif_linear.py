"""The event-driven LIF linear layer (hls/fsvae/lif_linear.h, fed by event_list.h) equals the
golden model bit for bit in C simulation: every step's event list, membranes and spikes are
compared with `==` against golden.linear + golden.LIFState; so does its paired scatter
(lif_linear_step_pairs, two events an iteration: LayerPlan.event_pairs); testbench
hls/tb/tb_lif_linear.cpp."""
from __future__ import annotations

import numpy as np
import pytest

from fsvae_fpga.contract import golden, hwmodel

from .tb import assert_equal, bench, events_golden

# The testbench's instantiations: config -> (IN, OUT, P, current bits, membrane bits).
LIF_CONFIGS = {0: (64, 48, 4, 25, 26), 1: (16, 8, 8, 40, 42), 2: (37, 15, 3, 25, 26),
               3: (20, 7, 1, 25, 26), 4: (9, 8, 4, 25, 26)}
NARROW = (0, 2, 3, 4)
# those with a paired scatter: G = OUT / P >= 2 (G = 2: the next pair's events are fetched in
# the only two groups a pair has)
PAIRED = tuple(c for c, (_, out, p, *_) in LIF_CONFIGS.items() if out // p >= 2)


@pytest.fixture(scope="module")
def tb():
    return bench("lif_linear")


def lif_case(config, weight, bias, threshold, x, first=None, membrane0=None, spikes0=None, rng=None, pairs=False):
    """weight (OUT, IN) as the hardware model; the testbench gets [in][out].  pairs: the case
    runs lif_linear_step_pairs."""
    IN, OUT = LIF_CONFIGS[config][:2]
    T = x.shape[0]
    assert weight.shape == (OUT, IN) and x.shape == (T, IN)
    first = np.eye(1, T, dtype=np.int64)[0] if first is None else np.asarray(first)
    assert first[0] == 1
    rng = rng or np.random.default_rng(0)
    if membrane0 is None:        # garbage: the first step must ignore the incoming state
        membrane0 = rng.integers(-(1 << 20), 1 << 20, OUT)
    if spikes0 is None:
        spikes0 = np.ones(OUT, dtype=np.int64)
    case = {"config": config, "pairs": int(pairs), "threshold": threshold, "weight": weight.T, "bias": bias,
            "membrane0": membrane0, "spikes0": spikes0, "first": first, "x": x}
    return case, (weight, bias, threshold, x, first)


def lif_expected(weight, bias, threshold, x, first):
    """Golden model: per step (events, membrane, spikes)."""
    out, state = [], None
    for t in range(x.shape[0]):
        if first[t]:
            state = golden.LIFState(threshold)
        current = golden.linear(x[t][None].astype(np.int64), weight, bias)[0]
        o = state.step(current)
        out.append((np.flatnonzero(x[t]), state.u.copy(), o.copy()))
    return out


def lif_check(got, spec):
    weight, bias, threshold, x, first = spec
    steps = lif_expected(*spec)
    count, events = events_golden(x)
    for t, (ev, _, _) in enumerate(steps):
        assert count[t] == ev.size and (events[t, :ev.size] == ev).all()
    assert_equal(got, {"count": count, "events": events, "membrane": np.stack([u for _, u, _ in steps]),
                       "spikes": np.stack([o for _, _, o in steps])}, f"LIF {weight.shape}")


def check_fits(config, weight, bias, threshold, T):
    """The case respects the instantiation's widths, as the hardware-model loader would
    guarantee for a real layer (bound analysis of hwmodel.py)."""
    cur_bits, mem_bits = LIF_CONFIGS[config][3:]
    lo, hi = hwmodel.current_range("linear", weight, bias.astype(np.int64), 0, 1)
    mlo, mhi = hwmodel.membrane_range(lo, hi, threshold, T)
    assert hwmodel.signed_bits(lo, hi) <= cur_bits, (lo, hi)
    assert hwmodel.signed_bits(mlo, mhi) <= mem_bits, (mlo, mhi)
    assert hwmodel.signed_bits(min(threshold, 0), max(threshold, 0)) <= cur_bits


def random_layer(rng, config, bias_bits=20):
    IN, OUT = LIF_CONFIGS[config][:2]
    weight = rng.integers(-128, 128, (OUT, IN))
    bias = rng.integers(-(1 << bias_bits), 1 << bias_bits, OUT)
    return weight, bias


def run_lif_cases(tb, tmp_path, cases):
    results = tb.run(tmp_path, {"lif": [c for c, _ in cases]})
    assert len(results["lif"]) == len(cases)
    for got, (_, spec) in zip(results["lif"], cases):
        lif_check(got, spec)


def test_lif_random_event_densities(tb, tmp_path):
    rng = np.random.default_rng(1)
    cases, spikes_seen = [], 0
    for config in (0, 1, 2, 3):
        IN = LIF_CONFIGS[config][0]
        for density in (0.0, 0.03, 0.15, 0.5, 0.9, 1.0):
            weight, bias = random_layer(rng, config, bias_bits=10)
            T = 6
            x = (rng.random((T, IN)) < density).astype(np.int64)
            # thresholds around the typical current, so spikes and silence both occur
            scale = int(np.sqrt(IN * density + 1) * 74)
            for threshold in (int(rng.integers(-scale, scale)), scale // 2):
                check_fits(config, weight, bias, threshold, T)
                case, spec = lif_case(config, weight, bias, threshold, x, rng=rng)
                cases.append((case, spec))
                spikes_seen += sum(o.sum() for _, _, o in lif_expected(*spec))
    assert spikes_seen > 0
    run_lif_cases(tb, tmp_path, cases)


@pytest.mark.parametrize("pairs", [False, True])
def test_lif_extreme_weights_and_biases(tb, tmp_path, pairs):
    """All +127 / all -127 weights with the largest bias the widths allow, all inputs on
    (the bound analysis' worst case) and off, several steps; pairs: the paired scatter, whose
    sums of two rows must not leave the widths either."""
    rng = np.random.default_rng(2)
    cases = []
    for config in PAIRED if pairs else (0, 1, 2, 3):
        IN, OUT, _, cur_bits, _ = LIF_CONFIGS[config]
        if config in NARROW:
            bmax = (1 << (cur_bits - 1)) - 1 - 127 * IN       # current reaches 2^24 - 1
            bmin = -(1 << (cur_bits - 1)) + 127 * IN          # current reaches -2^24
        else:
            bmax, bmin = (1 << 31) - 1, -(1 << 31)            # int32 extremes
        plus, minus = np.full((OUT, IN), 127), np.full((OUT, IN), -127)
        mixed = np.where(np.arange(OUT)[:, None] % 2 == 0, plus, minus)
        layers = [(plus, np.full(OUT, bmax)), (minus, np.full(OUT, bmin)),
                  (plus, np.full(OUT, bmin)), (minus, np.full(OUT, bmax)),
                  (mixed, np.where(np.arange(OUT) % 2 == 0, bmax, bmin)),
                  (np.full((OUT, IN), -128), np.full(OUT, bmin + 128 * IN - 127 * IN))]
        T = 8
        on = np.ones((T, IN), dtype=np.int64)
        alternating = np.tile(np.array([[1], [0]]), (T // 2, IN))
        for weight, bias in layers:
            lo, hi = hwmodel.current_range("linear", weight, bias.astype(np.int64), 0, 1)
            for threshold in (hi, lo, 0, (lo + hi) // 2):     # never, always, and in between
                for x in (on, alternating):
                    check_fits(config, weight, bias, int(threshold), T)
                    cases.append(lif_case(config, weight, bias, int(threshold), x, rng=rng, pairs=pairs))
    run_lif_cases(tb, tmp_path, cases)


def test_lif_all_ones_inputs(tb, tmp_path):
    rng = np.random.default_rng(3)
    cases = []
    for config in (0, 1, 2, 3):
        IN = LIF_CONFIGS[config][0]
        weight, bias = random_layer(rng, config, bias_bits=12)
        T = 5
        x = np.ones((T, IN), dtype=np.int64)
        current = golden.linear(x[:1], weight, bias)[0]
        threshold = int(np.median(current))
        check_fits(config, weight, bias, threshold, T)
        cases.append(lif_case(config, weight, bias, threshold, x, rng=rng))
    run_lif_cases(tb, tmp_path, cases)


def test_lif_membrane_carried_over_steps(tb, tmp_path):
    """Long runs with negative biases (negative membranes: the floor of the arithmetic
    shift matters), restarts (first_step again in mid-run, as for the next image), and
    thresholds that make some neurons spike and others not."""
    rng = np.random.default_rng(4)
    cases, negative_seen, floor_matters = [], 0, 0
    for config in (0, 1, 2, 3):
        IN, OUT = LIF_CONFIGS[config][:2]
        for trial in range(3):
            weight, bias = random_layer(rng, config, bias_bits=9)
            bias = bias - (1 << 9) * (trial % 2)                # push half of them negative
            T = 16
            x = (rng.random((T, IN)) < rng.uniform(0.05, 0.6)).astype(np.int64)
            first = np.zeros(T, dtype=np.int64)
            first[[0, 7, 12]] = 1
            threshold = int(rng.integers(-200, 600))
            check_fits(config, weight, bias, threshold, T)
            case, spec = lif_case(config, weight, bias, threshold, x, first=first, rng=rng)
            for _, u, _ in lif_expected(*spec):
                negative_seen += int((u < 0).sum())
                floor_matters += int(((u < 0) & (u % 4 != 0)).sum())
            cases.append((case, spec))
    assert negative_seen > 0 and floor_matters > 0
    run_lif_cases(tb, tmp_path, cases)


def counted_inputs(rng, IN, counts):
    """One step per count: that many of the IN inputs spiking, at random positions."""
    x = np.zeros((len(counts), IN), dtype=np.int64)
    for t, k in enumerate(counts):
        x[t, rng.choice(IN, int(k), replace=False)] = 1
    return x


def test_lif_pairs_equal_golden(tb, tmp_path):
    """The paired scatter on random layers and inputs, step counts 0, 1, 2, odd and even,
    IN - 1 and IN (every input: the last pair ends at events[IN - 1], or is one event), the
    membranes carried over steps and restarted; each case also runs the one-event scatter,
    and both must equal the golden model."""
    rng = np.random.default_rng(5)
    cases, counts_seen, spikes_seen = [], set(), 0
    for config in PAIRED:
        IN = LIF_CONFIGS[config][0]
        for trial in range(4):
            counts = rng.permutation([0, 1, 2, 3, 4, IN - 1, IN, *rng.integers(0, IN + 1, 9)])
            x = counted_inputs(rng, IN, counts)
            T = x.shape[0]
            first = np.zeros(T, dtype=np.int64)
            first[[0, T // 2]] = 1
            weight, bias = random_layer(rng, config, bias_bits=10)
            scale = int(np.sqrt(IN / 2 + 1) * 74)
            threshold = int(rng.integers(-scale, scale))
            check_fits(config, weight, bias, threshold, T)
            for pairs in (True, False):
                case, spec = lif_case(config, weight, bias, threshold, x, first=first, rng=rng, pairs=pairs)
                cases.append((case, spec))
            spikes_seen += sum(o.sum() for _, _, o in lif_expected(*spec))
            counts_seen |= {int(k) if k <= 2 else "IN" if k == IN else ("even", "odd")[int(k) % 2] for k in counts}
    assert counts_seen == {0, 1, 2, "odd", "even", "IN"} and spikes_seen > 0      # IN: 64, 37, 20, 9
    run_lif_cases(tb, tmp_path, cases)


def test_testbench_rejects_values_outside_the_hardware_types(tb, tmp_path):
    IN, OUT = LIF_CONFIGS[0][:2]
    weight = np.zeros((OUT, IN), dtype=np.int64)
    weight[0, 0] = 200                                           # not an int8
    case, _ = lif_case(0, weight, np.zeros(OUT, np.int64), 0, np.ones((1, IN), np.int64))
    proc = tb.run_raw(tmp_path, {"lif": [case]})
    assert proc.returncode == 2 and "weight does not fit" in proc.stderr
    IN, OUT = LIF_CONFIGS[1][:2]                                 # G = 1: no paired scatter
    case, _ = lif_case(1, np.zeros((OUT, IN), np.int64), np.zeros(OUT, np.int64), 0, np.ones((1, IN), np.int64),
                       pairs=True)
    proc = tb.run_raw(tmp_path, {"lif": [case]})
    assert proc.returncode == 2 and "pairs need G = OUT / P >= 2" in proc.stderr
