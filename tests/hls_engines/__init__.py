"""Bit-exact C-simulation tests of the hand-written HLS engines (hls/fsvae/*.h): one test file
per engine, each driving its testbench hls/tb/tb_<engine>.cpp through tb.py and vectors.py.

A package, so that these test modules (e.g. test_sampler) do not collide with tests/*.py."""

import pytest

# detailed assertion messages in the helper modules too (the test modules get them anyway)
pytest.register_assert_rewrite(f"{__name__}.tb", f"{__name__}.conv_cases", f"{__name__}.vectors")
