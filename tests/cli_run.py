"""Running the real command line in a subprocess, and what every user error must look like."""
import os
import subprocess
import sys
from pathlib import Path

import torch

from conftest import ROOT

SMALL = ROOT / "sw" / "fsvae_fpga" / "shipped" / "small" / "model.pt"
SMALL_CFG = ROOT / "configs" / "small.yaml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "sw"), "OMP_NUM_THREADS": "1"}


def cli(*args, cwd, timeout=300):
    return subprocess.run([sys.executable, "-m", "fsvae_fpga.cli", *map(str, args)], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def user_error(res, command: str, *words: str) -> str:
    """Exit 2, no traceback, the last stderr line is `fsvae-fpga <command>: error: ...`."""
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f"fsvae-fpga {command}: error: "), last
    for w in words:
        assert w in last, (w, last)
    return last


def tree(root: Path) -> dict:
    """Every path under root with its content hash (folders as None)."""
    out = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = None if p.is_dir() else hash(p.read_bytes())
    return out


def no_leftovers(root: Path):
    left = [p for p in root.rglob("*") if ".tmp" in p.name or ".old-" in p.name or "probe" in p.name]
    assert not left, left


def export_small(out: Path) -> Path:
    res = cli("export", "--ckpt", SMALL, "--out", out, cwd=out.parent)
    assert res.returncode == 0, res.stderr
    return out


def run_folder(tmp_path, name="run", epoch=None):
    """A run folder whose last.pt is the shipped small checkpoint (no training needed)."""
    run = tmp_path / name
    run.mkdir()
    ckpt = torch.load(SMALL, weights_only=True)
    if epoch is not None:
        ckpt["epoch"] = epoch
    torch.save(ckpt, run / "last.pt")
    return run, ckpt
