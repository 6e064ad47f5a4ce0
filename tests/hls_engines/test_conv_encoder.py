"""The encoder convolution engines (hls/fsvae/conv_encoder.h: LIF convolution on events, image
convolution + LIF) equal the golden model bit for bit in C simulation: the image current and
every spike map, membrane map and output event list of every time step are compared with `==`
against golden.conv2d + golden.LIFState (cases: conv_cases.py).  The testbench
hls/tb/tb_conv_encoder.cpp is built with FSVAE_CHECK_DEPENDENCE, so each scatter also checks at
run time that no accumulator is revisited sooner than its DEPENDENCE pragma distance."""
from __future__ import annotations

import pytest

from .conv_cases import (KIND_CONV_EVENTS, KIND_CONV_IMAGE, check_activity, check_equals_golden, config_id,
                         configs, run_cases)
from .tb import bench

KINDS = (KIND_CONV_EVENTS, KIND_CONV_IMAGE)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tb = bench("conv_encoder", "-DFSVAE_CHECK_DEPENDENCE")
    return run_cases(tb, tmp_path_factory.mktemp("tb_conv_encoder"), KINDS)


@pytest.mark.parametrize("config", configs(*KINDS), ids=config_id)
def test_engine_equals_golden(results, config):
    check_equals_golden(results[config_id(config)])


def test_cases_exercise_activity(results):
    check_activity(results)
