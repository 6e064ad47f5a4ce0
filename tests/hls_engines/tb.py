"""Build and run the C-simulation testbenches of the HLS engines (hls/tb/tb_<engine>.cpp).

A testbench is compiled with g++ against the vendor ap_types headers (shipped in the hls4ml
wheel) at most once per process, and the binary is kept across runs in
build/hls-tb/<engine>-<key>/, keyed by a hash of the testbench source, every project header it
includes (transitively), the vendor headers, the compiler version and the flags: a second
pytest run compiles nothing (and a new build removes the testbench's older entries).  A file
lock per entry and an atomic rename keep pytest-xdist workers (and concurrent runs) from
building the same entry twice or reading half a binary.

Vectors go in and out through tests/hls_engines/vectors.py (format: hls/tb/tb_vectors.h).
Cases are grouped: {"lif": [case, ...]} travels as "lif.n" and "lif.<i>.<field>" arrays, and
the results come back as {"lif": [results of case 0, ...], <ungrouped output>: array}."""
from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pytest

from .vectors import read_arrays, write_arrays

ROOT = Path(__file__).resolve().parents[2]
HLS = ROOT / "hls"
TB_DIR = HLS / "tb"
CACHE = ROOT / "build" / "hls-tb"              # build/ is git-ignored; make clean removes it
CXXFLAGS = ("-std=c++14", "-Wall", "-Werror", "-Wno-unknown-pragmas")
EVENT_POISON = 0xFFFF          # what a testbench puts in an event list before the engine fills it


def ap_types_dir() -> Path | None:
    spec = importlib.util.find_spec("hls4ml")       # locate the wheel without importing it
    roots = list(spec.submodule_search_locations) if spec and spec.submodule_search_locations else []
    roots += [str(p) for p in sorted(ROOT.glob(".venv/lib/python*/site-packages/hls4ml"))]
    for r in roots:
        d = Path(r) / "templates" / "vivado" / "ap_types"
        if (d / "ap_int.h").is_file():
            return d
    return None


def project_sources(src: Path, include_dirs: Sequence[Path]) -> list[Path]:
    """src and every file it includes with #include "..." (transitively) that resolves in its own
    folder or in include_dirs, as g++ looks them up."""
    seen, todo = [], [src.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.append(path)
        for inc in re.findall(r'^\s*#\s*include\s*"([^"]+)"', path.read_text(), flags=re.M):
            found = next((d / inc for d in (path.parent, *include_dirs) if (d / inc).is_file()), None)
            if found is not None:
                todo.append(found.resolve())
    return sorted(seen)


class Bench:
    def __init__(self, name: str, exe: Path):
        self.name, self.exe = name, exe

    def run_raw(self, work: Path, cases: Mapping[str, Sequence[Mapping]] | None = None,
                **arrays) -> subprocess.CompletedProcess:
        """Run on cases (grouped) and ungrouped arrays; the finished process (inputs.bin and
        outputs.bin in work)."""
        packed = dict(arrays)
        for group, items in (cases or {}).items():
            packed[f"{group}.n"] = len(items)
            for i, case in enumerate(items):
                packed.update({f"{group}.{i}.{field}": v for field, v in case.items()})
        write_arrays(work / "inputs.bin", packed)
        return self.execute(work / "inputs.bin", work / "outputs.bin")

    def execute(self, inputs: Path, outputs: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.exe), str(inputs), str(outputs)], capture_output=True, text=True,
                              timeout=120)

    def run(self, work: Path, cases: Mapping[str, Sequence[Mapping]] | None = None, **arrays) -> dict:
        proc = self.run_raw(work, cases, **arrays)
        assert proc.returncode == 0, f"{self.name} failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        results: dict = {group: [{} for _ in items] for group, items in (cases or {}).items()}
        for name, value in read_arrays(work / "outputs.bin").items():
            parts = name.split(".", 2)
            if len(parts) == 3 and parts[0] in results and parts[1].isdigit():
                assert int(parts[1]) < len(results[parts[0]]), f"{self.name} wrote {name}: no such case"
                results[parts[0]][int(parts[1])][parts[2]] = value
            else:
                results[name] = value
        return results


@functools.lru_cache(maxsize=None)
def bench(engine: str, *flags: str, opt: str = "-O2") -> Bench:
    """hls/tb/tb_<engine>.cpp built with CXXFLAGS, opt and flags (from the cache when it is
    there); skips the calling test when g++ or the vendor headers are missing."""
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not found: the HLS engine C-simulation tests need a C++14 compiler")
    vendor = ap_types_dir()
    if vendor is None:
        pytest.skip("vendor ap_types headers (ap_int.h) not found: install the hls4ml wheel "
                    "(requirements.txt, make setup), which ships them under hls4ml/templates/vivado/ap_types")
    name = f"tb_{engine}"
    cmd = [gxx, *CXXFLAGS, opt, *flags, f"-I{vendor}", f"-I{HLS}", str(TB_DIR / f"{name}.cpp")]
    version = subprocess.run([gxx, "--version"], capture_output=True, text=True).stdout
    h = hashlib.sha256("\0".join([version, *cmd[1:]]).encode())
    vendor_files = sorted(p for p in vendor.rglob("*") if p.is_file())
    for path in [*project_sources(TB_DIR / f"{name}.cpp", [HLS]), *vendor_files]:
        h.update(f"\0{path}\0".encode() + path.read_bytes())
    entry = CACHE / f"{name}-{h.hexdigest()[:20]}"
    exe = entry / name
    if not exe.is_file():
        entry.mkdir(parents=True, exist_ok=True)
        with open(entry / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)          # released when the file closes
            if not exe.is_file():                     # another process may have built it meanwhile
                tmp = entry / f"{name}.{os.getpid()}.tmp"
                proc = subprocess.run([*cmd, "-o", str(tmp)], capture_output=True, text=True)
                if proc.returncode != 0:
                    tmp.unlink(missing_ok=True)
                    pytest.fail(f"testbench build failed:\n{' '.join(cmd)}\n{proc.stderr[-6000:]}")
                (entry / "command.txt").write_text(" ".join(cmd) + "\n")
                os.replace(tmp, exe)
                for stale in CACHE.iterdir():         # builds of older sources of this testbench
                    if stale != entry and re.fullmatch(rf"{name}-[0-9a-f]{{20}}", stale.name):
                        shutil.rmtree(stale, ignore_errors=True)
    return Bench(name, exe)


def events_golden(spikes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What spikes_to_events makes of each row of spikes (R, N) in a buffer filled with
    EVENT_POISON: (count (R,), events (R, N)), the rows' ascending active indices, then poison."""
    spikes = np.asarray(spikes).reshape(-1, spikes.shape[-1])
    count = spikes.sum(axis=1).astype(np.int64)
    events = np.full(spikes.shape, EVENT_POISON, dtype=np.int64)
    for r, row in enumerate(spikes):
        events[r, :count[r]] = np.flatnonzero(row)
    return count, events


def assert_equal(got: Mapping[str, np.ndarray], expected: Mapping[str, object], what: str) -> None:
    """The same arrays (names, shapes and every value, with ==) or a failure naming the first
    difference."""
    assert sorted(got) == sorted(expected), f"{what}: outputs {sorted(got)}, expected {sorted(expected)}"
    for name, e in expected.items():
        g, e = np.asarray(got[name], dtype=np.int64), np.asarray(e, dtype=np.int64)
        if g.shape != e.shape:
            pytest.fail(f"{what}: {name} has shape {g.shape}, expected {e.shape}")
        if not (g == e).all():
            at = tuple(int(i) for i in np.argwhere(g != e)[0])
            pytest.fail(f"{what}: {name} differs first at {at}: {int(g[at])} != {int(e[at])}")
