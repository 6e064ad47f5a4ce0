"""Scripts and benches of the repository (not package modules), loaded as modules by tests."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_file(relpath: str):
    """The file at ``relpath`` from the repository root, loaded as a module."""
    path = ROOT / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
