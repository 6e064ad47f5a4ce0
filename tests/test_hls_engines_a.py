"""Bit-exact C-simulation tests of the hand-written HLS engines (hls/fsvae/*.h), part A:
event list, event-driven LIF linear layer, latent sampler, membrane output.

The testbench hls/tb/tb_engines_a.cpp is compiled once per session with g++ against the
vendor ap_types headers (shipped in the hls4ml wheel); every case is generated here with
numpy, run through the testbench, and compared with ``==`` over whole arrays against the
golden model's own functions (golden.linear, golden.LIFState, sampler.indices,
sampler.fmix32, np.searchsorted for the pixel table)."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fsvae_fpga.contract import golden, hwmodel, sampler

ROOT = Path(__file__).resolve().parents[1]
HLS = ROOT / "hls"
HEADERS = [HLS / "fsvae" / n for n in ("types.h", "event_list.h", "lif_linear.h", "sampler.h",
                                       "membrane_output.h")]
TB = HLS / "tb" / "tb_engines_a.cpp"

MAGIC = 0x3141454156534646
FORMAT_VERSION = 1
KIND_LIF, KIND_HASH, KIND_STREAM, KIND_PICK, KIND_OUTPUT, KIND_PIXEL = 1, 2, 3, 4, 5, 6

# The testbench's LIF instantiations: config -> (IN, OUT, P, current bits, membrane bits).
LIF_CONFIGS = {0: (64, 48, 4, 25, 26), 1: (16, 8, 8, 40, 42), 2: (37, 15, 3, 25, 26),
               3: (20, 7, 1, 25, 26)}
NARROW = (0, 2, 3)
SUM_BITS = 46                                   # M_T of the output instantiation
SUM_MIN, SUM_MAX = -(1 << (SUM_BITS - 1)), (1 << (SUM_BITS - 1)) - 1
OUT_N, OUT_T = 16, 16


# ----------------------------------------------------------------------------- build and run

def _ap_types_dir() -> Path:
    spec = importlib.util.find_spec("hls4ml")
    roots = list(spec.submodule_search_locations) if spec and spec.submodule_search_locations else []
    for root in roots:
        d = Path(root) / "templates" / "vivado" / "ap_types"
        if (d / "ap_int.h").is_file():
            return d
    raise RuntimeError("vendor ap_types headers (ap_int.h) not found: install the hls4ml wheel "
                       "(requirements.txt), which ships them under hls4ml/templates/vivado/ap_types")


@pytest.fixture(scope="session")
def tb_binary(tmp_path_factory) -> Path:
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not found: the HLS engine C-simulation tests need a C++14 compiler")
    out = tmp_path_factory.mktemp("hls_engines_a") / "tb_engines_a"
    cmd = [gxx, "-std=c++14", "-O2", "-Wall", "-Werror", "-Wno-unknown-pragmas",
           f"-I{_ap_types_dir()}", f"-I{HLS}", str(TB), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"testbench build failed:\n{' '.join(cmd)}\n{proc.stderr[-6000:]}"
    return out


class Results:
    """Cursor over the testbench's output words."""

    def __init__(self, words: np.ndarray):
        self.w, self.i = words, 0

    def take(self, n: int = 1) -> np.ndarray:
        assert self.i + n <= self.w.size, "testbench output is shorter than expected"
        out = self.w[self.i:self.i + n]
        self.i += n
        return out

    def one(self) -> int:
        return int(self.take(1)[0])


def run_cases(binary: Path, cases: list[list], tmp_path: Path) -> Results:
    """cases: lists of ints / int arrays (flattened into int64 words); returns a cursor
    positioned after the output header."""
    parts = [np.array([MAGIC, FORMAT_VERSION, len(cases)], dtype=np.int64)]
    for case in cases:
        for item in case:
            parts.append(np.asarray(item, dtype=np.int64).reshape(-1))
    src, dst = tmp_path / "cases.bin", tmp_path / "results.bin"
    np.concatenate(parts).astype("<i8").tofile(src)
    proc = subprocess.run([str(binary), str(src), str(dst)], capture_output=True, text=True)
    assert proc.returncode == 0, f"testbench failed (rc {proc.returncode}): {proc.stderr}"
    res = Results(np.fromfile(dst, dtype="<i8"))
    assert res.one() == MAGIC and res.one() == len(cases)
    return res


def _finish(res: Results):
    assert res.i == res.w.size, "testbench wrote more output than expected"


# ----------------------------------------------------------------------------- static checks

HLS_DIRECTIVES = {"PIPELINE", "UNROLL", "ARRAY_PARTITION", "LOOP_TRIPCOUNT", "INLINE", "INTERFACE",
                  "DATAFLOW", "BIND_STORAGE", "DEPENDENCE", "STREAM", "LOOP_FLATTEN", "ARRAY_RESHAPE"}


def _strip_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def _functions(src: str):
    """(name, body) of every function definition (brace-matched), comments stripped."""
    for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\(([^;{}()]|\([^()]*\))*\)\s*(const\s*)?\{", src):
        name = m.group(1)
        if name in {"if", "for", "while", "switch", "return", "sizeof", "static_assert"}:
            continue
        depth, j = 0, m.end() - 1
        for j in range(m.end() - 1, len(src)):
            depth += {"{": 1, "}": -1}.get(src[j], 0)
            if depth == 0:
                break
        yield name, src[m.end():j]


def test_headers_static_rules():
    for path in HEADERS:
        raw = path.read_text()
        src = _strip_comments(raw)
        pragmas = re.findall(r"^\s*#\s*pragma\s+HLS\s+(\w+)(.*)$", src, flags=re.M | re.I)
        for name, args in pragmas:
            assert name.upper() in HLS_DIRECTIVES, f"{path.name}: unknown HLS directive {name!r}"
            var = re.search(r"\bvariable\s*=\s*(\w+)", args)
            if var:
                assert re.search(rf"\b{var.group(1)}\b", src.replace(args, "")), \
                    f"{path.name}: pragma names unknown variable {var.group(1)!r}"
        assert not re.search(r"\bnew\b|\bdelete\b|\b(malloc|calloc|realloc|free)\s*\(", src), \
            f"{path.name}: dynamic allocation is not synthesisable"
        for name, body in _functions(src):
            assert not re.search(rf"(?<![\w.]){name}\s*(<[^;()]*>)?\s*\(", body), \
                f"{path.name}: {name} is recursive"
    # the headers must have been seen by the check at all
    lif = _strip_comments((HLS / "fsvae" / "lif_linear.h").read_text())
    assert "lif_linear_step" in dict(_functions(lif))
    assert re.search(r"#pragma HLS PIPELINE II=1", lif)


def test_static_check_catches_violations():
    bad = "void f(int n) {\n#pragma HLS PIPELIN II=1\n int *p = new int[3]; f(n - 1); }"
    src = _strip_comments(bad)
    assert [n for n, _ in re.findall(r"^\s*#\s*pragma\s+HLS\s+(\w+)(.*)$", src, flags=re.M)] == ["PIPELIN"]
    assert re.search(r"\bnew\b", src)
    name, body = next(_functions(src))
    assert name == "f" and re.search(rf"(?<![\w.]){name}\s*\(", body)


# ----------------------------------------------------------------------------- LIF linear

def lif_case(config, weight, bias, threshold, x, first=None, membrane0=None, spikes0=None, rng=None):
    """weight (OUT, IN) as the hardware model; the testbench gets [in][out]."""
    IN, OUT = LIF_CONFIGS[config][:2]
    T = x.shape[0]
    assert weight.shape == (OUT, IN) and x.shape == (T, IN)
    first = np.eye(1, T, dtype=np.int64)[0] if first is None else np.asarray(first)
    assert first[0] == 1
    rng = rng or np.random.default_rng(0)
    if membrane0 is None:        # garbage: the first step must ignore the incoming state
        membrane0 = rng.integers(-(1 << 20), 1 << 20, OUT)
    if spikes0 is None:
        spikes0 = np.ones(OUT, dtype=np.int64)
    case = [[KIND_LIF, config, IN, OUT, T, threshold], weight.T, bias, membrane0, spikes0, first, x]
    return case, (weight, bias, threshold, x, first)


def lif_expected(weight, bias, threshold, x, first):
    """Golden model: per step (events, membrane, spikes)."""
    out, state = [], None
    for t in range(x.shape[0]):
        if first[t]:
            state = golden.LIFState(threshold)
        current = golden.linear(x[t][None].astype(np.int64), weight, bias)[0]
        o = state.step(current)
        out.append((np.flatnonzero(x[t]), state.u.copy(), o.copy()))
    return out


def lif_check(res, spec):
    assert res.one() == KIND_LIF
    weight, bias, threshold, x, first = spec
    OUT = weight.shape[0]
    for t, (events, u, o) in enumerate(lif_expected(*spec)):
        count = res.one()
        got_events = res.take(count)
        got_u, got_o = res.take(OUT), res.take(OUT)
        assert count == events.size and (got_events == events).all(), f"events differ at step {t}"
        assert (got_u == u).all(), f"membranes differ at step {t}: {got_u - u}"
        assert (got_o == o).all(), f"spikes differ at step {t}"


def check_fits(config, weight, bias, threshold, T):
    """The case respects the instantiation's widths, as the hardware-model loader would
    guarantee for a real layer (bound analysis of hwmodel.py)."""
    cur_bits, mem_bits = LIF_CONFIGS[config][3:]
    lo, hi = hwmodel.current_range("linear", weight, bias.astype(np.int64), 0, 1)
    mlo, mhi = hwmodel.membrane_range(lo, hi, threshold, T)
    assert hwmodel.signed_bits(lo, hi) <= cur_bits, (lo, hi)
    assert hwmodel.signed_bits(mlo, mhi) <= mem_bits, (mlo, mhi)
    assert hwmodel.signed_bits(min(threshold, 0), max(threshold, 0)) <= cur_bits


def random_layer(rng, config, bias_bits=20):
    IN, OUT = LIF_CONFIGS[config][:2]
    weight = rng.integers(-128, 128, (OUT, IN))
    bias = rng.integers(-(1 << bias_bits), 1 << bias_bits, OUT)
    return weight, bias


def run_lif_cases(tb_binary, tmp_path, cases):
    res = run_cases(tb_binary, [c for c, _ in cases], tmp_path)
    for _, spec in cases:
        lif_check(res, spec)
    _finish(res)


def test_lif_random_event_densities(tb_binary, tmp_path):
    rng = np.random.default_rng(1)
    cases, spikes_seen = [], 0
    for config in (0, 1, 2, 3):
        IN = LIF_CONFIGS[config][0]
        for density in (0.0, 0.03, 0.15, 0.5, 0.9, 1.0):
            weight, bias = random_layer(rng, config, bias_bits=10)
            T = 6
            x = (rng.random((T, IN)) < density).astype(np.int64)
            # thresholds around the typical current, so spikes and silence both occur
            scale = int(np.sqrt(IN * density + 1) * 74)
            for threshold in (int(rng.integers(-scale, scale)), scale // 2):
                check_fits(config, weight, bias, threshold, T)
                case, spec = lif_case(config, weight, bias, threshold, x, rng=rng)
                cases.append((case, spec))
                spikes_seen += sum(o.sum() for _, _, o in lif_expected(*spec))
    assert spikes_seen > 0
    run_lif_cases(tb_binary, tmp_path, cases)


def test_lif_extreme_weights_and_biases(tb_binary, tmp_path):
    """All +127 / all -127 weights with the largest bias the widths allow, all inputs on
    (the bound analysis' worst case) and off, several steps."""
    rng = np.random.default_rng(2)
    cases = []
    for config in (0, 1, 2, 3):
        IN, OUT, _, cur_bits, _ = LIF_CONFIGS[config]
        if config in NARROW:
            bmax = (1 << (cur_bits - 1)) - 1 - 127 * IN       # current reaches 2^24 - 1
            bmin = -(1 << (cur_bits - 1)) + 127 * IN          # current reaches -2^24
        else:
            bmax, bmin = (1 << 31) - 1, -(1 << 31)            # int32 extremes
        plus, minus = np.full((OUT, IN), 127), np.full((OUT, IN), -127)
        mixed = np.where(np.arange(OUT)[:, None] % 2 == 0, plus, minus)
        layers = [(plus, np.full(OUT, bmax)), (minus, np.full(OUT, bmin)),
                  (plus, np.full(OUT, bmin)), (minus, np.full(OUT, bmax)),
                  (mixed, np.where(np.arange(OUT) % 2 == 0, bmax, bmin)),
                  (np.full((OUT, IN), -128), np.full(OUT, bmin + 128 * IN - 127 * IN))]
        T = 8
        on = np.ones((T, IN), dtype=np.int64)
        alternating = np.tile(np.array([[1], [0]]), (T // 2, IN))
        for weight, bias in layers:
            lo, hi = hwmodel.current_range("linear", weight, bias.astype(np.int64), 0, 1)
            for threshold in (hi, lo, 0, (lo + hi) // 2):     # never, always, and in between
                for x in (on, alternating):
                    check_fits(config, weight, bias, int(threshold), T)
                    cases.append(lif_case(config, weight, bias, int(threshold), x, rng=rng))
    run_lif_cases(tb_binary, tmp_path, cases)


def test_lif_all_ones_inputs(tb_binary, tmp_path):
    rng = np.random.default_rng(3)
    cases = []
    for config in (0, 1, 2, 3):
        IN = LIF_CONFIGS[config][0]
        weight, bias = random_layer(rng, config, bias_bits=12)
        T = 5
        x = np.ones((T, IN), dtype=np.int64)
        current = golden.linear(x[:1], weight, bias)[0]
        threshold = int(np.median(current))
        check_fits(config, weight, bias, threshold, T)
        cases.append(lif_case(config, weight, bias, threshold, x, rng=rng))
    run_lif_cases(tb_binary, tmp_path, cases)


def test_lif_membrane_carried_over_steps(tb_binary, tmp_path):
    """Long runs with negative biases (negative membranes: the floor of the arithmetic
    shift matters), restarts (first_step again in mid-run, as for the next image), and
    thresholds that make some neurons spike and others not."""
    rng = np.random.default_rng(4)
    cases, negative_seen, floor_matters = [], 0, 0
    for config in (0, 1, 2, 3):
        IN, OUT = LIF_CONFIGS[config][:2]
        for trial in range(3):
            weight, bias = random_layer(rng, config, bias_bits=9)
            bias = bias - (1 << 9) * (trial % 2)                # push half of them negative
            T = 16
            x = (rng.random((T, IN)) < rng.uniform(0.05, 0.6)).astype(np.int64)
            first = np.zeros(T, dtype=np.int64)
            first[[0, 7, 12]] = 1
            threshold = int(rng.integers(-200, 600))
            check_fits(config, weight, bias, threshold, T)
            case, spec = lif_case(config, weight, bias, threshold, x, first=first, rng=rng)
            for _, u, _ in lif_expected(*spec):
                negative_seen += int((u < 0).sum())
                floor_matters += int(((u < 0) & (u % 4 != 0)).sum())
            cases.append((case, spec))
    assert negative_seen > 0 and floor_matters > 0
    run_lif_cases(tb_binary, tmp_path, cases)


# ----------------------------------------------------------------------------- sampler

def test_sampler_known_answers_and_hashes(tb_binary, tmp_path):
    rng = np.random.default_rng(5)
    values = np.concatenate([[0, 1, 2, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x6A09E667],
                             rng.integers(0, 1 << 32, 500, dtype=np.uint64)]).astype(np.int64)
    res = run_cases(tb_binary, [[[KIND_HASH, values.size], values]], tmp_path)
    assert res.one() == KIND_HASH
    got = res.take(2 * values.size).reshape(-1, 2)
    _finish(res)
    assert got[1, 0] == 0x514E28B7 and got[0, 0] == 0 and got[3, 0] == 0x81F16F39
    assert got[1, 1] == 270369
    u32 = values.astype(np.uint32)
    assert (got[:, 0] == sampler.fmix32(u32).astype(np.int64)).all()
    assert (got[:, 1] == sampler.xorshift32(u32).astype(np.int64)).all()


def zero_state_seed(image: int, channel: int) -> int:
    seed = int(sampler.fmix32(((image << 16) | channel) ^ sampler.KEY_XOR))
    key = np.array([(image << 16) | channel], dtype=np.uint32)
    assert int(sampler.fmix32(sampler.fmix32(key ^ np.uint32(sampler.KEY_XOR)) ^ np.uint32(seed))[0]) == 0
    return seed


def test_sampler_index_sequences(tb_binary, tmp_path):
    streams = []
    for seed in (0, 1, 12345, 0xDEADBEEF, 0xFFFFFFFF):
        for image in (0, 1, 777, 65535):
            for channel in (0, 3, 255, 65535):
                for k in (20, 256, 1, 255):
                    streams.append((seed, image, channel, k, 12))
    # fmix32 is a bijection, so seed = fmix32(key ^ key_xor) makes s0 zero: the replacement
    for image, channel in ((0, 0), (9, 4), (65535, 65535)):
        seed = zero_state_seed(image, channel)
        streams += [(seed, image, channel, 20, 12), (seed, image, channel, 256, 12)]
    res = run_cases(tb_binary, [[[KIND_STREAM, len(streams)], np.array(streams)]], tmp_path)
    assert res.one() == KIND_STREAM
    for seed, image, channel, k, steps in streams:
        s0 = res.one()
        got = res.take(2 * steps).reshape(steps, 2)
        exp_s0 = int(sampler.initial_states(seed, [image], channel + 1)[0, channel])
        assert s0 == exp_s0, (seed, image, channel)
        states, x = [], np.uint32(exp_s0)
        for _ in range(steps):
            x = sampler.xorshift32(x)
            states.append(int(x))
        assert (got[:, 0] == states).all(), (seed, image, channel)
        idx = sampler.indices(seed, 1, channel + 1, k, steps, first_image=image)[:, 0, channel]
        assert (got[:, 1] == idx).all(), (seed, image, channel, k)
    _finish(res)


def test_pick_latent(tb_binary, tmp_path):
    rng = np.random.default_rng(6)
    cases, specs = [], []
    for C, K in ((4, 20), (3, 256), (5, 1)):
        for seed, image in ((0, 0), (42, 3), (0xFFFFFFFF, 65535), (zero_state_seed(7, 2), 7)):
            T = 10
            spikes = (rng.random((T, C * K)) < 0.5).astype(np.int64)
            cases.append([[KIND_PICK, C, K, seed, image, T], spikes])
            specs.append((C, K, seed, image, T, spikes))
    res = run_cases(tb_binary, cases, tmp_path)
    for C, K, seed, image, T, spikes in specs:
        assert res.one() == KIND_PICK
        states0 = res.take(C)
        z = res.take(T * C).reshape(T, C)
        assert (states0 == sampler.initial_states(seed, [image], C)[0].astype(np.int64)).all()
        idx = sampler.indices(seed, 1, C, K, T, first_image=image)[:, 0, :]
        expected = np.take_along_axis(spikes.reshape(T, C, K), idx[..., None], axis=2)[..., 0]
        assert (z == expected).all(), (C, K, seed, image)
    _finish(res)


# ----------------------------------------------------------------------------- membrane output

def real_pixel_thresholds(unit: float) -> np.ndarray:
    """The exporter's rule (FSVAE.pixel_thresholds) for a given membrane unit."""
    p = np.arange(1, 256, dtype=np.float64)
    return np.ceil(np.arctanh((p - 0.5) / 127.5 - 1.0) / unit).astype(np.int64)


def threshold_tables(rng):
    tables = {
        "real": real_pixel_thresholds(2.0 ** -12),
        "real_coarse": real_pixel_thresholds(0.7),                  # many duplicates
        "random_strict": np.sort(rng.choice(np.arange(-(1 << 40), 1 << 40, 9973), 255, replace=False)),
        "random_dups": np.sort(rng.integers(-50, 50, 255)),
        "all_equal": np.full(255, 12345),
        "extremes": np.sort(np.concatenate([np.full(100, SUM_MIN + 1), np.full(100, SUM_MAX - 1),
                                            rng.integers(-1000, 1000, 55)])),
    }
    for name, thr in tables.items():
        assert thr.shape == (255,) and (np.diff(thr) >= 0).all(), name
        assert thr.min() > SUM_MIN and thr.max() < SUM_MAX, name
    return tables


def test_pixel_lookup_at_and_around_every_threshold(tb_binary, tmp_path):
    rng = np.random.default_rng(7)
    cases, specs = [], []
    for thr in threshold_tables(rng).values():
        m = np.unique(np.concatenate([thr - 1, thr, thr + 1, [SUM_MIN, SUM_MAX, 0, -1, 1],
                                      rng.integers(thr.min() - 10, thr.max() + 10, 200)]))
        cases.append([[KIND_PIXEL], thr, [m.size], m])
        specs.append((thr, m))
    res = run_cases(tb_binary, cases, tmp_path)
    for thr, m in specs:
        assert res.one() == KIND_PIXEL
        got = res.take(m.size)
        assert (got == np.searchsorted(thr, m, side="right")).all()
    _finish(res)


def test_output_accumulate_and_pixels(tb_binary, tmp_path):
    rng = np.random.default_rng(8)
    tables = threshold_tables(rng)
    imin, imax = -(1 << 24), (1 << 24) - 1
    cases, specs = [], []
    coef_sets = [np.round(0.8 ** np.arange(OUT_T - 1, -1, -1) * 2 ** 16).astype(np.int64),
                 np.full(OUT_T, 1 << 16), rng.integers(0, (1 << 16) + 1, OUT_T), np.zeros(OUT_T, np.int64)]
    for i, coef in enumerate(coef_sets):
        for currents in (rng.integers(imin, imax + 1, (OUT_T, OUT_N)),
                         np.full((OUT_T, OUT_N), imax), np.full((OUT_T, OUT_N), imin),
                         rng.integers(-3000, 3000, (OUT_T, OUT_N))):
            for name in ("real", "random_strict", "extremes"):
                thr = tables[name]
                cases.append([[KIND_OUTPUT, OUT_N, OUT_T], coef, currents, thr])
                specs.append((coef, currents, thr))
    res = run_cases(tb_binary, cases, tmp_path)
    for coef, currents, thr in specs:
        assert res.one() == KIND_OUTPUT
        m_steps = res.take(OUT_T * OUT_N).reshape(OUT_T, OUT_N)
        pixels = res.take(OUT_N)
        expected = np.cumsum(coef[:, None] * currents, axis=0)     # golden: tensordot over t
        assert (expected[-1] == np.tensordot(coef, currents, axes=(0, 0))).all()
        assert (m_steps == expected).all()
        assert (pixels == np.searchsorted(thr, expected[-1], side="right")).all()
    _finish(res)


def test_testbench_rejects_values_outside_the_hardware_types(tb_binary, tmp_path):
    IN, OUT = LIF_CONFIGS[0][:2]
    weight = np.zeros((OUT, IN), dtype=np.int64)
    weight[0, 0] = 200                                           # not an int8
    case, _ = lif_case(0, weight, np.zeros(OUT, np.int64), 0, np.ones((1, IN), np.int64))
    parts = [np.array([MAGIC, FORMAT_VERSION, 1], dtype=np.int64)]
    parts += [np.asarray(p, dtype=np.int64).reshape(-1) for p in case]
    src = tmp_path / "bad.bin"
    np.concatenate(parts).astype("<i8").tofile(src)
    proc = subprocess.run([str(tb_binary), str(src), str(tmp_path / "out.bin")], capture_output=True, text=True)
    assert proc.returncode == 2 and "weight does not fit" in proc.stderr
