"""make bench (benchmarks/bench.py), quick mode end to end: the small model on PYNQ-Z2, 3 images,
the lane sweep at the board's own lane count (no second Verilator build), 2 images alone for the
spike-rate sweep, Yosys estimates from the cache only.

The run writes into a fresh folder under build/ (Yosys, should the cache be used, cannot read
/tmp) and shares the bench's cache build/bench/cache: its Verilator build of the small design
takes one to two minutes the first time and is reused afterwards (the whole file then takes
about a minute on 2 cores).  The estimate-cache tests use made-up designs whose hashes no real
design has, so a bench running at the same time can never pick their entries up.
"""
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from cli_run import ENV
from conftest import ROOT

BENCH = ROOT / "benchmarks" / "bench.py"
N = 3
SPIKE_IMAGES = 2


def bench(*args, timeout=1200):
    return subprocess.run([sys.executable, str(BENCH), *map(str, args)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def fresh_dir(prefix: str) -> Path:
    (ROOT / "build").mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(dir=ROOT / "build", prefix=prefix))


@pytest.fixture(scope="module")
def quick():
    out = fresh_dir("test-bench-")
    t0 = time.perf_counter()
    res = bench("--quick", "--n", N, "--lanes", 4, "--spike-images", SPIKE_IMAGES, "--samples", 64,
                "--held-out", 32, "--estimate", "cached", "--out", out / "bench")
    wall = time.perf_counter() - t0
    assert res.returncode == 0, res.stderr[-4000:]
    yield {"out": out / "bench", "json": json.loads((out / "bench" / "bench.json").read_text()),
           "md": (out / "bench" / "bench.md").read_text(), "stdout": res.stdout, "wall": wall}
    shutil.rmtree(out)


@pytest.fixture(scope="module")
def hw_small():
    from fsvae_fpga import flows
    from fsvae_fpga.contract.hwmodel import load
    return load(flows.hardware_model("configs/small.yaml", ROOT / "build"))


def test_outputs_and_machine(quick):
    out, res = quick["out"], quick["json"]
    for name in ("bench.json", "bench.md", "cycles_vs_lanes.png", "cycles_vs_spike_rate.png",
                 "sim-pynq-z2/report.json", "sim-pynq-z2/result.json", "sim-pynq-z2/samples.png"):
        assert (out / name).is_file(), name
    from PIL import Image
    for p in res["plots"]:
        with Image.open(p) as img:
            assert img.format == "PNG" and img.width >= 400
    import torch
    m = res["machine"]
    assert m["cpu_count"] >= 1 and 1 <= m["cpus_usable"] <= m["cpu_count"]
    assert m["torch"] == torch.__version__
    assert re.fullmatch(r"[0-9a-f]{40}", m["git_commit"])
    assert len(m["load_average_at_start"]) == 3 and len(m["load_average_at_end"]) == 3
    assert res["bench"]["quick"] and res["bench"]["n"] == N and res["bench"]["wall_s"] > 0
    assert quick["md"] in quick["stdout"]                   # the table is printed as written


def test_cpu_speed(quick):
    rows = {(r["engine"], r["batch"]): r for r in quick["json"]["cpu"]}
    assert set(rows) == {("torch", 1), ("torch", 64), ("golden", 1), ("golden", 64)}
    for (engine, batch), r in rows.items():
        assert r["model"] == "small" and r["repetitions"] == len(r["seconds"]) >= 2
        assert r["images_per_s"] == pytest.approx(batch / statistics.median(r["seconds"]), rel=1e-3)
        assert r["images_per_s_best"] >= r["images_per_s"] > 0


def test_cycles_and_projection_are_the_simulation_s(quick):
    from fsvae_fpga.codegen import boards
    (h,) = quick["json"]["hardware"]
    # pynq-z2's own design: per-layer lanes from its balance plan (lanes x copies summed)
    manifest = json.loads((ROOT / "build" / "bench" / "cache" / "rtl" / "small-pynq-z2" / "manifest.json").read_text())
    assert (h["board"], h["config"], h["images"], h["balanced"]) == ("pynq-z2", "configs/small.yaml", N, True)
    assert h["lanes"] == manifest["balance"]["lanes_used"] == sum(v for k, v in manifest["lanes"].items() if k != "output")
    report = json.loads(Path(h["report"]).read_text())
    result = json.loads((Path(h["report"]).parent / "result.json").read_text())
    # the raw counter of the simulated run, then make sim's report (toolchain/perf_report.py)
    assert result["equal"] and result["n"] == N and h["bit_exact"]
    assert h["cycles_per_image"] == result["counters"]["perf_run_cycles"] / N
    assert h["cycles_per_image"] == report["total"]["cycles_per_image"]
    clock = boards.board("pynq-z2")["clock_mhz"]
    assert h["clock_mhz"] == clock
    assert h["projected_images_per_s"] == pytest.approx(clock * 1e6 / h["cycles_per_image"], rel=1e-12)
    # latency: image 0 alone, the first point of the spike-rate sweep; the steady state from it
    sweep = quick["json"]["sweeps"]["spike_rate"]["images"]
    assert h["latency_cycles"] == sweep[0]["cycles_alone"] > h["cycles_per_image"]
    assert h["steady_state_cycles_per_image"] == pytest.approx(
        (h["cycles_per_image"] * N - h["latency_cycles"]) / (N - 1))
    manifest = json.loads((ROOT / "build" / "bench" / "cache" / "rtl" / "small-pynq-z2" / "manifest.json").read_text())
    assert h["design_sha256"] == manifest["design_sha256"]


def test_utilisation_against_the_event_bound(quick, hw_small):
    (h,) = quick["json"]["hardware"]
    assert 0 < h["utilisation"] <= 1
    # the design's bound: its slowest layer's, or the latent loop's (the prior's layers in turn)
    slowest = max(x["event_bound_cycles"] for x in h["layers"])
    loop = sum(x["event_bound_cycles"] for x in h["layers"] if x["layer"].startswith("prior."))
    assert h["slowest_layer_bound_cycles"] == slowest and h["latent_loop_bound_cycles"] == pytest.approx(loop)
    assert h["event_bound_cycles"] == pytest.approx(max(slowest, loop))
    assert h["utilisation"] == pytest.approx(h["event_bound_cycles"] / h["cycles_per_image"])
    assert h["slowest_layer_utilisation"] == pytest.approx(slowest / h["cycles_per_image"])
    assert h["slowest_layer_utilisation"] <= h["utilisation"]
    assert [x["layer"] for x in h["layers"]] == hw_small.mode_layers("generate")
    for x in h["layers"]:
        assert 0 < x["utilisation"] <= 1, x
        assert x["utilisation"] == pytest.approx(x["event_bound_cycles"] / h["cycles_per_image"])
        assert 0 < x["busy_utilisation"] <= 1 and x["busy_cycles_per_image"] <= h["cycles_per_image"] * 1.001
    for name in hw_small.mode_layers("generate"):       # the table lists each layer
        assert re.search(rf"^\| {re.escape(name)} \| \d+ x \d+ \|", quick["md"], re.M), name


def test_quality_of_the_hardware_bits(quick):
    (q,) = quick["json"]["quality"]
    assert q["samples"] == 64 and q["reconstructed_images"] == 32
    assert q["rtl_images_checked"] == {"pynq-z2": {"images": N, "equal": True}}
    assert set(q["frechet_distance"]) == {"classic", "sharp"}
    for kind, fd in q["frechet_distance"].items():
        assert math.isfinite(fd) and fd > q["noise_floor"][kind] > 0
    assert 0 < q["reconstruction_mse"] < 4                # [-1, 1] scale


def test_sweeps(quick):
    res = quick["json"]
    (h,) = res["hardware"]
    (lane,) = res["sweeps"]["lanes"]                     # 4 lanes in every layer: not the balanced design
    assert lane["lanes"] == 4 and lane["design_sha256"] != h["design_sha256"]
    assert lane["cycles_per_image"] > h["cycles_per_image"] > 0
    rows = res["sweeps"]["spike_rate"]["images"]
    assert [r["index"] for r in rows] == list(range(SPIKE_IMAGES))
    for r in rows:
        assert 0 < r["spike_rate"] < 1 and r["spikes"] > 0 and r["cycles_alone"] > 0


def test_estimate_reported_not_dropped(quick):
    (h,) = quick["json"]["hardware"]
    e = h["resources"]
    assert e["status"] in ("cached", "not cached")
    if e["status"] == "not cached":                      # said in the table, with the command to fill it
        assert "make estimate BOARD=pynq-z2 CONFIG=configs/small.yaml" in quick["md"]
    else:
        assert e["design_sha256"] == h["design_sha256"] and e["measured_at"]
        assert e["resources"]["lut"]["used"] > 0 and e["logic_depth"]["deepest_lut_levels"] > 0


# --- the estimate cache, without Yosys ---------------------------------------------------------
def fake_design(tmp: Path, sha: str):
    import bench_hw
    d = object.__new__(bench_hw.Design)
    rtl = tmp / f"rtl-{sha[:8]}"
    rtl.mkdir()
    (rtl / "manifest.json").write_text(json.dumps({"design_sha256": sha}))
    d.board, d.config, d.lanes, d.rtl_dir = "pynq-z2", "configs/small.yaml", 4, rtl
    d.manifest = {"design_sha256": sha, "memory": {"used_bits": 400000}}
    return d


@pytest.fixture
def bench_hw_module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_hw
    yield bench_hw
    sys.path.remove(str(ROOT / "benchmarks"))


def test_estimate_cache_is_keyed_by_design(bench_hw_module):
    bench_hw = bench_hw_module
    tmp = fresh_dir("test-bench-cache-")
    try:
        cache = tmp / "cache"
        d = fake_design(tmp, "0" * 8 + os.urandom(28).hex())
        assert bench_hw.cached_estimate(cache, d) is None
        # an estimate of this design as `fsvae-fpga estimate --out DIR` writes it, made after the RTL
        est = {"rtl_dir": str(d.rtl_dir), "tool": "Yosys test", "synth": "synth_xilinx", "seconds": 1.0,
               "resources": {r: {"used": 1, "available": 10, "percent": 10.0, "fits": True}
                             for r in ("lut", "ff", "dsp", "bram36", "uram")},
               "fits": True, "over": [], "logic_depth": {"deepest": {"lut": 7, "carry": 1, "instances": ["u_x"]}}}
        folder = tmp / "estimate" / "pynq-z2"
        folder.mkdir(parents=True)
        (folder / "estimate.json").write_text(json.dumps(est))
        entry = bench_hw.cached_estimate(cache, d)
        assert entry["design_sha256"] == d.sha and entry["measured_by"].startswith("fsvae-fpga estimate")
        assert (cache / "estimates" / f"{d.sha}-{bench_hw.estimator_sha256()[:16]}.json").is_file()
        (folder / "estimate.json").unlink()               # now from the cache alone
        again = bench_hw.cached_estimate(cache, d)
        assert again["measured_at"] == entry["measured_at"]
        s = bench_hw.summary(again, "cached")
        assert s["resources"]["lut"]["used"] == 1 and s["logic_depth"]["deepest_lut_levels"] == 7
        # another design (one changed generator text, board setting or weight changes the hash): no entry
        assert bench_hw.cached_estimate(cache, fake_design(tmp, "1" * 8 + os.urandom(28).hex())) is None
        # an estimate older than its RTL folder's manifest is not taken
        (folder / "estimate.json").write_text(json.dumps(est))
        old = time.time() - 3600
        os.utime(folder / "estimate.json", (old, old))
        shutil.rmtree(cache)
        assert bench_hw.cached_estimate(cache, d) is None
    finally:
        shutil.rmtree(tmp)


# --- mistakes are one line, exit 2 ------------------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["--boards", "nope"], "unknown board 'nope'"),
    (["--n", "0"], "--n must be in"),
    (["--lanes", "1,x"], "not an integer"),
    (["--config", "configs/nope.yaml"], "no shipped model"),
    (["--estimate", "maybe"], "invalid choice"),
])
def test_bad_arguments(args, words):
    res = bench(*args, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: error: ") and words in lines[0], res.stderr


def test_refuses_a_folder_it_did_not_write():
    tmp = fresh_dir("test-bench-foreign-")
    try:
        (tmp / "notes.txt").write_text("mine")
        res = bench("--quick", "--out", tmp, timeout=120)
        assert res.returncode == 2 and "was not written by the bench" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        assert [p.name for p in tmp.iterdir()] == ["notes.txt"] and (tmp / "notes.txt").read_text() == "mine"
    finally:
        shutil.rmtree(tmp)
