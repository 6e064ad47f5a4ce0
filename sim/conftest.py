import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT / "sim", ROOT / "sw"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def small_hwmodel(tmp_path_factory):
    """The shipped small-configuration model, exported (the PYNQ-Z2 default)."""
    from fsvae_fpga.training.checkpoint import SHIPPED_DIR, load_model
    from fsvae_fpga.contract.export import export
    model, _ = load_model(SHIPPED_DIR.parent / "small" / "model.pt")
    return export(model, tmp_path_factory.mktemp("hwmodel") / "small")


@pytest.fixture(scope="session")
def paper_hwmodel(tmp_path_factory):
    """The shipped paper-configuration model (configs/mnist.yaml), exported."""
    from fsvae_fpga.training.checkpoint import SHIPPED_MODEL, load_model
    from fsvae_fpga.contract.export import export
    model, _ = load_model(SHIPPED_MODEL)
    return export(model, tmp_path_factory.mktemp("hwmodel") / "mnist")
