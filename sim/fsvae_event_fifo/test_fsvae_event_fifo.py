"""cocotb bench of hw/rtl/fsvae_event_fifo.sv, the deep FIFO in block RAM: the small FIFO's
tests (sim/fsvae_stream_fifo: frames in order under idle and backpressure, fill against a
stalled output, reset, one beat a cycle), with the capacity DEPTH + 3 (its output buffer)."""
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve()
for _p in (_HERE.parents[2] / "sim", _HERE.parents[2] / "sw", _HERE.parents[1] / "fsvae_stream_fifo"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import pytest  # noqa: E402
from rtl_sources import sources  # noqa: E402
from test_fsvae_stream_fifo import run_full_and_reset, run_test, run_throughput  # noqa: E402,F401 (the cocotb tests)

OUTPUT_BUFFER = 3


@pytest.mark.parametrize("DATA_W,DEPTH", [(8, 4), (13, 16), (17, 64)])
def test_fsvae_event_fifo(DATA_W, DEPTH):
    import runner
    runner.run_bench("fsvae_event_fifo", sources("fsvae_event_fifo"), {"DATA_W": DATA_W, "DEPTH": DEPTH},
                     extra_env={"FSVAE_EXTRA_ENTRIES": str(OUTPUT_BUFFER)})
