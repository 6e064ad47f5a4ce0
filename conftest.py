"""Test order for ``make test`` (pytest-xdist, one file per worker): the files that take longest
(Verilator builds of a whole accelerator or of many bench configurations) start first, so that the workers finish
together instead of one worker running them at the end."""

import sys
from pathlib import Path

# the one place that puts the project's folders on the import path: the package (also
# installed by make setup), the bench helpers and the simulated board
ROOT = Path(__file__).resolve().parent
for _p in (ROOT / "sw", ROOT / "sim", ROOT / "sim" / "board_sim"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

# by measured time (make test on 2 cores, 2026-12-04: fsvae_top 200 s of worker time, convt_current
# 155 s, convt_dense 135 s, the fuzz 45-100 s, ...); the board tests early as well, since they
# share one built design (board_sim/launch.ensure_design)
LONGEST_FIRST = ("sim/fsvae_top/", "sim/fsvae_convt_current/", "sim/fsvae_convt_dense/", "tests/test_cli_fuzz.py",
                 "tests/test_cli_errors.py", "tests/test_board_stream.py", "tests/test_board_driver.py",
                 "tests/test_board_weights.py", "tests/test_hls_project.py", "tests/test_bench.py",
                 "sim/fsvae_lif_linear/", "tests/test_estimate.py", "sim/fsvae_lif_update/", "tests/test_cli_outputs.py",
                 "sim/fsvae_latent_pick/", "tests/test_sparsity.py", "tests/test_cli.py", "tests/test_hwmodel_tamper.py",
                 "tests/test_prior_stage.py")


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        path = item.nodeid
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)), len(LONGEST_FIRST))
    items.sort(key=rank)          # stable: the order within each group is kept
