"""Test order for ``make test`` (pytest-xdist, one file per worker): the files that take longest
(a Verilator build of a whole accelerator each) start first, so that the workers finish
together instead of one worker running them at the end."""

import sys
from pathlib import Path

# the one place that puts the project's folders on the import path: the package (also
# installed by make setup), the bench helpers and the simulated board
ROOT = Path(__file__).resolve().parent
for _p in (ROOT / "sw", ROOT / "sim", ROOT / "sim" / "board_sim"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

LONGEST_FIRST = ("sim/fsvae_top/", "tests/test_prior_stage.py", "tests/test_board_driver.py", "tests/test_board_weights.py",
                 "tests/test_board_stream.py",
                 "tests/test_hls_project.py", "tests/test_bench.py", "tests/test_cli.py", "tests/test_cli_outputs.py",
                 "tests/test_cli_errors.py", "tests/test_hwmodel_tamper.py", "tests/test_cli_fuzz.py")


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        path = item.nodeid
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)), len(LONGEST_FIRST))
    items.sort(key=rank)          # stable: the order within each group is kept
