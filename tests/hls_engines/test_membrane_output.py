"""The membrane-output layer (hls/fsvae/membrane_output.h) equals the golden model bit for bit
in C simulation: the decayed sum over time (golden: tensordot over t) after every step, and the
pixel table (np.searchsorted, side='right') at and around every threshold; testbench
hls/tb/tb_membrane_output.cpp."""
from __future__ import annotations

import numpy as np
import pytest

from .tb import assert_equal, bench

SUM_BITS = 46                                   # M_T of the output instantiation
SUM_MIN, SUM_MAX = -(1 << (SUM_BITS - 1)), (1 << (SUM_BITS - 1)) - 1
OUT_N, OUT_T = 16, 16


@pytest.fixture(scope="module")
def tb():
    return bench("membrane_output")


def real_pixel_thresholds(unit: float) -> np.ndarray:
    """The exporter's rule (FSVAE.pixel_thresholds) for a given membrane unit."""
    p = np.arange(1, 256, dtype=np.float64)
    return np.ceil(np.arctanh((p - 0.5) / 127.5 - 1.0) / unit).astype(np.int64)


def threshold_tables(rng):
    # random_strict: 255 distinct values of range(-2^40, 2^40, 9973), drawn by index (the same
    # draw, and the same values, as rng.choice over the materialised range, without its 1.7 GB)
    step_count = len(range(-(1 << 40), 1 << 40, 9973))
    tables = {
        "real": real_pixel_thresholds(2.0 ** -12),
        "real_coarse": real_pixel_thresholds(0.7),                  # many duplicates
        "random_strict": np.sort(-(1 << 40) + 9973 * rng.choice(step_count, 255, replace=False)),
        "random_dups": np.sort(rng.integers(-50, 50, 255)),
        "all_equal": np.full(255, 12345),
        "extremes": np.sort(np.concatenate([np.full(100, SUM_MIN + 1), np.full(100, SUM_MAX - 1),
                                            rng.integers(-1000, 1000, 55)])),
    }
    for name, thr in tables.items():
        assert thr.shape == (255,) and (np.diff(thr) >= 0).all(), name
        assert thr.min() > SUM_MIN and thr.max() < SUM_MAX, name
    return tables


def test_pixel_lookup_at_and_around_every_threshold(tb, tmp_path):
    rng = np.random.default_rng(7)
    cases = []
    for thr in threshold_tables(rng).values():
        m = np.unique(np.concatenate([thr - 1, thr, thr + 1, [SUM_MIN, SUM_MAX, 0, -1, 1],
                                      rng.integers(thr.min() - 10, thr.max() + 10, 200)]))
        cases.append({"thresholds": thr, "m": m})
    results = tb.run(tmp_path, {"pixel": cases})["pixel"]
    assert len(results) == len(cases)
    for case, got in zip(cases, results):
        expected = np.searchsorted(case["thresholds"], case["m"], side="right")
        assert_equal(got, {"pixels": expected}, "pixel lookup")


def test_output_accumulate_and_pixels(tb, tmp_path):
    rng = np.random.default_rng(8)
    tables = threshold_tables(rng)
    imin, imax = -(1 << 24), (1 << 24) - 1
    cases = []
    coef_sets = [np.round(0.8 ** np.arange(OUT_T - 1, -1, -1) * 2 ** 16).astype(np.int64),
                 np.full(OUT_T, 1 << 16), rng.integers(0, (1 << 16) + 1, OUT_T), np.zeros(OUT_T, np.int64)]
    for i, coef in enumerate(coef_sets):
        for currents in (rng.integers(imin, imax + 1, (OUT_T, OUT_N)),
                         np.full((OUT_T, OUT_N), imax), np.full((OUT_T, OUT_N), imin),
                         rng.integers(-3000, 3000, (OUT_T, OUT_N))):
            for name in ("real", "random_strict", "extremes"):
                cases.append({"coef": coef, "current": currents, "thresholds": tables[name]})
    results = tb.run(tmp_path, {"output": cases})["output"]
    assert len(results) == len(cases)
    for case, got in zip(cases, results):
        coef, currents, thr = case["coef"], case["current"], case["thresholds"]
        expected = np.cumsum(coef[:, None] * currents, axis=0)     # golden: tensordot over t
        assert (expected[-1] == np.tensordot(coef, currents, axes=(0, 0))).all()
        assert_equal(got, {"m": expected, "pixels": np.searchsorted(thr, expected[-1], side="right")},
                     "output accumulate")
