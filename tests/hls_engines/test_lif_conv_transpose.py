"""The transposed-convolution engines (hls/fsvae/lif_conv_transpose.h) equal the golden model
bit for bit in C simulation: every spike map, membrane map, output event list and current map
of every time step is compared with `==` against golden.conv_transpose2d + golden.LIFState
(cases: conv_cases.py).  The testbench hls/tb/tb_lif_conv_transpose.cpp is built with
FSVAE_CHECK_DEPENDENCE, so each scatter also checks at run time that no accumulator is
revisited sooner than its DEPENDENCE pragma distance."""
from __future__ import annotations

import pytest

from .conv_cases import (KIND_CONVT, KIND_CONVT_CURRENTS, check_activity, check_equals_golden, config_id,
                         configs, run_cases)
from .tb import bench

KINDS = (KIND_CONVT, KIND_CONVT_CURRENTS)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tb = bench("lif_conv_transpose", "-DFSVAE_CHECK_DEPENDENCE")
    return run_cases(tb, tmp_path_factory.mktemp("tb_lif_conv_transpose"), KINDS)


@pytest.mark.parametrize("config", configs(*KINDS), ids=config_id)
def test_engine_equals_golden(results, config):
    check_equals_golden(results[config_id(config)])


def test_cases_exercise_activity(results):
    check_activity(results)
