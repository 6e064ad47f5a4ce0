"""The HLS convolution engines (hls/fsvae/lif_conv_transpose.h, conv_encoder.h) equal the golden
model bit for bit, in C simulation with the vendor ap_int types; the run-time weight loader
(weight_load.h) reads the RTL's blob format.

Random cases (numpy) are written to a binary file, hls/tb/tb_engines_b.cpp runs the engines on
them, and every spike map, membrane map, output event list and current map of every time step
is compared with `==` against golden.conv_transpose2d / golden.conv2d + golden.LIFState.  The
testbench is built with FSVAE_CHECK_DEPENDENCE, so each scatter also checks at run time that
no accumulator is revisited sooner than its DEPENDENCE pragma distance.

Binary format (little-endian int32 words): see the header comment of tb_engines_b.cpp.
"""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from fsvae_fpga.contract import golden
from fsvae_fpga.contract.hwmodel import current_range, membrane_range, signed_bits

ROOT = Path(__file__).resolve().parents[1]
HLS = ROOT / "hls"
HEADERS = [HLS / "fsvae" / "lif_conv_transpose.h", HLS / "fsvae" / "conv_encoder.h", HLS / "fsvae" / "weight_load.h"]
TB = HLS / "tb" / "tb_engines_b.cpp"
MAGIC, VERSION = 0x42565346, 1

KIND_CONVT, KIND_CONVT_CURRENTS, KIND_CONV_EVENTS, KIND_CONV_IMAGE = 1, 2, 3, 4
KIND_NAMES = {1: "convT", 2: "convT-currents", 3: "conv-events", 4: "conv-image"}

Config = namedtuple("Config", "kind cin cout ih iw k s pad outpad p accb memb")

# Must match the instances compiled in tb_engines_b.cpp (dispatch()).
CONFIGS = [
    Config(1, 3, 4, 4, 4, 3, 2, 1, 1, 1, 16, 17),
    Config(1, 3, 4, 4, 4, 3, 2, 1, 1, 2, 16, 17),
    Config(1, 3, 4, 4, 4, 3, 2, 1, 1, 4, 16, 17),
    Config(1, 2, 4, 3, 5, 3, 2, 1, 1, 2, 24, 25),     # non-square
    Config(1, 2, 2, 3, 2, 4, 2, 1, 0, 2, 16, 17),     # even kernel
    Config(2, 4, 1, 8, 8, 3, 1, 1, 0, 1, 16, 17),     # the output layer's shape: K3 S1 P1
    Config(2, 3, 2, 5, 4, 3, 1, 1, 0, 2, 16, 17),
    Config(3, 8, 4, 8, 8, 3, 2, 1, 0, 1, 18, 19),
    Config(3, 8, 4, 8, 8, 3, 2, 1, 0, 2, 18, 19),
    Config(3, 8, 4, 8, 8, 3, 2, 1, 0, 4, 18, 19),
    Config(3, 3, 4, 7, 6, 3, 2, 1, 0, 2, 16, 17),     # odd, non-square
    Config(4, 1, 4, 8, 8, 3, 2, 1, 0, 1, 19, 20),
    Config(4, 1, 4, 8, 8, 3, 2, 1, 0, 2, 19, 20),
    Config(4, 1, 4, 8, 8, 3, 2, 1, 0, 4, 19, 20),
    Config(4, 3, 4, 7, 6, 3, 2, 1, 0, 2, 21, 22),
]
VARIANTS = ("random", "extreme", "saturated")
T_STEPS = 5
DENSITIES = (0.0, 0.1, 0.5, 1.0)


def config_id(c: Config) -> str:
    geo = f"{c.cin}x{c.ih}x{c.iw}-{c.cout}_k{c.k}s{c.s}p{c.pad}" + (f"op{c.outpad}" if c.kind <= 2 else "")
    return f"{KIND_NAMES[c.kind]}_{geo}_P{c.p}"


def out_hw(c: Config) -> tuple[int, int]:
    if c.kind <= 2:
        return tuple((n - 1) * c.s - 2 * c.pad + c.k + c.outpad for n in (c.ih, c.iw))
    return tuple((n + 2 * c.pad - c.k) // c.s + 1 for n in (c.ih, c.iw))


# --- case generation ------------------------------------------------------------------------
def make_case(c: Config, variant: str, rng: np.random.Generator) -> dict:
    torch_kind = "convT" if c.kind <= 2 else "conv"
    wshape = (c.cin, c.cout, c.k, c.k) if torch_kind == "convT" else (c.cout, c.cin, c.k, c.k)
    if variant == "random":
        w = rng.integers(-128, 128, size=wshape)
    elif variant == "extreme":
        w = rng.choice([-127, 127], size=wshape)
    else:   # saturated: one sign per output channel
        sign = rng.choice([-1, 1], size=c.cout)
        w = 127 * (sign[None, :, None, None] if torch_kind == "convT" else sign[:, None, None, None]) \
            * np.ones(wshape, dtype=np.int64)
    w = w.astype(np.int64)
    in_lo, in_hi = (-128, 127) if c.kind == KIND_CONV_IMAGE else (0, 1)

    # the largest biases the accumulator width allows: bias + every tap's extreme fits ACC bits
    wo = (w.transpose(1, 0, 2, 3) if torch_kind == "convT" else w).reshape(c.cout, -1)
    hi_c = np.where(wo > 0, wo * in_hi, wo * in_lo).sum(1)
    lo_c = np.where(wo > 0, wo * in_lo, wo * in_hi).sum(1)
    amax, amin = (1 << (c.accb - 1)) - 1, -(1 << (c.accb - 1))
    b_hi, b_lo = amax - hi_c, amin - lo_c
    assert (b_lo <= b_hi).all(), "accumulator too narrow for the test weights"
    if variant == "random":
        bias = rng.integers(b_lo // 8, b_hi // 8 + 1)
    else:   # at the edge of the range, or small
        pick = rng.integers(0, 3, size=c.cout)
        bias = np.where(pick == 0, b_hi, np.where(pick == 1, b_lo, rng.integers(-64, 65, size=c.cout)))
    bias = bias.astype(np.int64)
    lo, hi = current_range(torch_kind, w, bias, in_lo, in_hi)
    assert signed_bits(lo, hi) <= c.accb

    oh, ow = out_hw(c)
    if c.kind == KIND_CONV_IMAGE:
        img = rng.integers(-128, 128, size=(c.ih, c.iw, c.cin))
        img[rng.random(img.shape) < 0.2] = rng.choice([-128, 127])
        cur1 = golden.conv2d(img[None].astype(np.int64), w, bias, c.s, c.pad)[0]
        currents = np.broadcast_to(cur1, (T_STEPS, oh, ow, c.cout))
        x = img
    else:
        dens = list(rng.permutation(DENSITIES)) + [float(rng.choice([0.1, 0.5]))]
        x = np.stack([(rng.random((c.ih, c.iw, c.cin)) < d) for d in dens]).astype(np.int64)
        if torch_kind == "convT":
            currents = golden.conv_transpose2d(x, w, bias, c.s, c.pad, c.outpad)
        else:
            currents = golden.conv2d(x, w, bias, c.s, c.pad)
    assert currents.shape == (T_STEPS, oh, ow, c.cout)
    assert lo <= currents.min() and currents.max() <= hi

    # threshold: a random quantile of the currents, so that neurons both spike and carry
    threshold = int(np.quantile(currents, rng.uniform(0.2, 0.8)))
    if variant == "saturated" and rng.random() < 0.5:
        threshold = -int(rng.integers(1, 100))
    mlo, mhi = membrane_range(lo, hi, threshold, T_STEPS)
    assert signed_bits(mlo, mhi) <= c.memb

    expected = []
    if c.kind == KIND_CONV_IMAGE:
        expected.append(("current", cur1.reshape(-1)))
    if c.kind == KIND_CONVT_CURRENTS:
        for t in range(T_STEPS):
            expected.append((f"t{t} currents", currents[t].reshape(-1)))
    else:
        state = golden.LIFState(threshold)
        for t in range(T_STEPS):
            o = state.step(currents[t])
            expected.append((f"t{t} spikes", o.reshape(-1)))
            expected.append((f"t{t} membranes", state.u.reshape(-1)))
            expected.append((f"t{t} events", np.flatnonzero(o)))
        assert signed_bits(min(state.u_min, 0), max(state.u_max, 0)) <= c.memb

    hw_w = (w.transpose(0, 2, 3, 1) if torch_kind == "convT" else w.transpose(1, 2, 3, 0)).reshape(-1)
    words = [c.kind, c.cin, c.cout, c.ih, c.iw, c.k, c.s, c.pad, c.outpad, c.p, c.accb, c.memb,
             T_STEPS, threshold, *hw_w.tolist(), *bias.tolist()]
    if c.kind == KIND_CONV_IMAGE:
        words += img.reshape(-1).tolist()
    else:
        for t in range(T_STEPS):
            ev = np.flatnonzero(x[t])          # (ih*IW + iw)*CIN + c, ascending
            words += [len(ev), *ev.tolist()]
    return {"config": c, "variant": variant, "words": words, "expected": expected}


def parse_results(data: np.ndarray, cases: list[dict]) -> list[list[tuple[str, np.ndarray]]]:
    pos = 0

    def take(n):
        nonlocal pos
        assert pos + n <= data.size, "results file truncated"
        pos += n
        return data[pos - n:pos]

    assert take(3).tolist() == [MAGIC, VERSION, len(cases)]
    out = []
    for case in cases:
        c = case["config"]
        oh, ow = out_hw(c)
        nout = oh * ow * c.cout
        got = []
        if c.kind == KIND_CONV_IMAGE:
            got.append(("current", take(nout)))
        for t in range(T_STEPS):
            if c.kind == KIND_CONVT_CURRENTS:
                got.append((f"t{t} currents", take(nout)))
            else:
                got.append((f"t{t} spikes", take(nout)))
                got.append((f"t{t} membranes", take(nout)))
                got.append((f"t{t} events", take(int(take(1)[0]))))
        out.append(got)
    assert pos == data.size, "trailing words in the results file"
    return out


# --- build and run ----------------------------------------------------------------------------
def ap_types_dir() -> Path:
    spec = importlib.util.find_spec("hls4ml")
    roots = list(spec.submodule_search_locations) if spec and spec.submodule_search_locations else []
    roots += [str(p) for p in sorted(ROOT.glob(".venv/lib/python*/site-packages/hls4ml"))]
    for r in roots:
        d = Path(r) / "templates" / "vivado" / "ap_types"
        if (d / "ap_int.h").is_file():
            return d
    pytest.fail("vendor ap_types headers (ap_int.h) not found: install hls4ml into the project venv")


@pytest.fixture(scope="session")
def tb_binary(tmp_path_factory):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not found: the HLS C-simulation testbench needs a C++14 compiler")
    exe = tmp_path_factory.mktemp("tb_engines_b") / "tb_engines_b"
    cmd = [gxx, "-std=c++14", "-O2", "-Wall", "-Werror", "-Wno-unknown-pragmas", f"-I{ap_types_dir()}",
           f"-I{HLS}", "-DFSVAE_CHECK_DEPENDENCE", str(TB), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"testbench build failed:\n{' '.join(cmd)}\n{proc.stderr[-6000:]}"
    return exe


@pytest.fixture(scope="module")
def results(tb_binary, tmp_path_factory):
    rng = np.random.default_rng(20240229)
    cases = [make_case(c, v, rng) for c in CONFIGS for v in VARIANTS]
    work = tmp_path_factory.mktemp("tb_engines_b_run")
    words = [MAGIC, VERSION, len(cases)] + [w for case in cases for w in case["words"]]
    np.asarray(words, dtype="<i4").tofile(work / "cases.bin")
    proc = subprocess.run([str(tb_binary), str(work / "cases.bin"), str(work / "results.bin")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"testbench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    got = parse_results(np.fromfile(work / "results.bin", dtype="<i4"), cases)
    return {config_id(c): [(case, g) for case, g in zip(cases, got) if case["config"] == c] for c in CONFIGS}


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_engine_equals_golden(results, config):
    runs = results[config_id(config)]
    assert len(runs) == len(VARIANTS)
    for case, got in runs:
        assert [name for name, _ in got] == [name for name, _ in case["expected"]]
        for (name, g), (_, e) in zip(got, case["expected"]):
            e = np.asarray(e, dtype=np.int64)
            g = np.asarray(g, dtype=np.int64)
            if g.shape != e.shape or not (g == e).all():
                where = "" if g.shape != e.shape else f", first at flat index {int(np.argmax(g != e))}"
                pytest.fail(f"{case['variant']} case: {name} differ (shapes {g.shape} vs {e.shape}{where})")


def test_cases_exercise_activity(results):
    """The random cases are not degenerate: spikes, silence and carried membranes all occur."""
    for cid, runs in results.items():
        if cid.startswith("convT-currents"):
            continue
        spikes = np.concatenate([e for case, _ in runs for n, e in case["expected"] if n.endswith("spikes")])
        assert 0 < spikes.mean() < 1, cid


# --- static checks of the headers ----------------------------------------------------------------
HLS_DIRECTIVES = {"PIPELINE", "UNROLL", "ARRAY_PARTITION", "LOOP_TRIPCOUNT", "INLINE", "INTERFACE", "DATAFLOW",
                  "BIND_STORAGE", "DEPENDENCE", "STREAM", "LOOP_FLATTEN", "ARRAY_RESHAPE"}
CONST_BOUND = re.compile(r"^[\sA-Z0-9_()+\-*/%]+$")   # literals and UPPER_CASE constants only


def strip_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def matching(src: str, start: int, open_ch: str, close_ch: str) -> int:
    """Index of the bracket closing the one at src[start]."""
    depth = 0
    for i in range(start, len(src)):
        depth += (src[i] == open_ch) - (src[i] == close_ch)
        if depth == 0:
            return i
    raise AssertionError("unbalanced brackets")


@pytest.mark.parametrize("header", HEADERS, ids=lambda p: p.name)
def test_header_is_synthesizable_style(header):
    code = strip_comments(header.read_text())
    # every HLS pragma is a directive Vitis HLS knows
    pragmas = re.findall(r"#\s*pragma\s+HLS\s+(\w+)", code, flags=re.I)
    assert pragmas, "no HLS pragmas found"
    unknown = sorted({p for p in pragmas if p.upper() not in HLS_DIRECTIVES})
    assert not unknown, f"unknown HLS directives: {unknown}"
    # no dynamic memory, no while loops
    assert not re.search(r"\bnew\b|\bdelete\b|\b(malloc|calloc|realloc|free)\s*\(", code), "dynamic memory"
    assert not re.search(r"\bwhile\s*\(", code), "while/do loops: use for loops with a bound"
    # every for loop has a constant bound or a LOOP_TRIPCOUNT in its body (before nested loops)
    n_loops = 0
    for m in re.finditer(r"\bfor\s*\(", code):
        n_loops += 1
        close = matching(code, m.end() - 1, "(", ")")
        parts = code[m.end():close].split(";")
        assert len(parts) == 3, f"unexpected for header: {code[m.start():close + 1]}"
        cond = re.match(r"\s*\w+\s*(<=|<|>=|>|!=)\s*(.+?)\s*$", parts[1], flags=re.S)
        assert cond, f"cannot read the loop bound of {code[m.start():close + 1]}"
        if CONST_BOUND.match(cond.group(2)):
            continue
        brace = code.index("{", close)
        body = code[brace + 1:matching(code, brace, "{", "}")]
        head = re.split(r"\bfor\s*\(", body)[0]
        assert re.search(r"#\s*pragma\s+HLS\s+LOOP_TRIPCOUNT\b", head, flags=re.I), \
            f"data-dependent loop without LOOP_TRIPCOUNT: {code[m.start():close + 1]}"
    assert n_loops > 0
    # no recursion: no function body mentions its own name
    for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\(([^()]|\([^()]*\))*\)\s*(const\s*)?\{", code):
        name = m.group(1)
        if name in {"if", "for", "while", "switch", "return", "sizeof"}:
            continue
        brace = m.end() - 1
        body = code[brace + 1:matching(code, brace, "{", "}")]
        body = re.sub(r'"(\\.|[^"\\])*"', '""', body)          # messages may name the function
        assert not re.search(rf"\b{name}\b", body), f"{name} may be recursive"


# --- run-time weight loader (weight_load.h) ------------------------------------------------------
# (ROWS, COUT, P, W_BITS): a memory word of 12 bits (upper 20 of its one stream word unused),
# of 42 bits (2 stream words), of 256 bits (8 stream words, the KV260 paper model's shape)
LOAD_CONFIGS = [(5, 6, 3, 4), (3, 14, 7, 6), (2, 64, 32, 8)]
LOAD_TB = """
#include <cstdio>
#include <vector>
#include "fsvae/weight_load.h"
struct Word { ap_uint<32> data; };
struct Stream {
    std::vector<unsigned> words;
    size_t next = 0;
    Word read() { Word w; w.data = words.at(next++); return w; }
};
template <int ROWS, int COUT, int P, int W>
void run(Stream &s) {
    static ap_int<W> weight[ROWS][COUT];
    ap_uint<32> taken = 0, progress = 0;
    fsvae::load_weight_memory<ROWS, COUT, P, W>(s, weight, taken, progress);
    std::printf("%u %u\\n", (unsigned)taken, (unsigned)progress);
    for (int r = 0; r < ROWS; ++r)
        for (int c = 0; c < COUT; ++c) std::printf("%d\\n", (int)weight[r][c]);
}
int main() {
    Stream s;
    unsigned w;
    while (std::scanf("%u", &w) == 1) s.words.push_back(w);
    @RUNS@
    std::printf("left %zu\\n", s.words.size() - s.next);
    return 0;
}
"""


def test_weight_loader_reads_the_rtl_blob(tmp_path):
    """Words packed by the RTL writer's packer (rtl.pack_lanes, as in write_weight_blob) land in
    weight[row][g*P + p], sign-extended, for memory words of 1, 2 and 8 stream words."""
    from fsvae_fpga.codegen.rtl import pack_lanes
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not found")
    runs = " ".join(f"run<{r}, {c}, {p}, {w}>(s);" for r, c, p, w in LOAD_CONFIGS)
    (tmp_path / "tb.cpp").write_text(LOAD_TB.replace("@RUNS@", runs))
    cmd = [gxx, "-std=c++14", "-O1", "-Wall", "-Werror", "-Wno-unknown-pragmas", f"-I{ap_types_dir()}",
           f"-I{HLS}", str(tmp_path / "tb.cpp"), "-o", str(tmp_path / "tb")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rng = np.random.default_rng(7)
    weights, words = [], []
    for rows, cout, p, bits in LOAD_CONFIGS:
        w = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=(rows, cout))
        w[0, :2] = [-(1 << (bits - 1)), (1 << (bits - 1)) - 1]
        weights.append(w)
        chunks = (p * bits + 31) // 32
        for row in w.reshape(-1, p):
            blob = pack_lanes(row, bits).to_bytes(4 * chunks, "little")
            words += [int.from_bytes(blob[4 * i:4 * i + 4], "little") for i in range(chunks)]
    out = subprocess.run([str(tmp_path / "tb")], input=" ".join(map(str, words)), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    for (rows, cout, p, bits), w in zip(LOAD_CONFIGS, weights):
        n_words = rows * cout // p * ((p * bits + 31) // 32)
        assert lines.pop(0) == f"{n_words} {n_words}"           # taken, progress
        got = np.array([int(lines.pop(0)) for _ in range(rows * cout)]).reshape(rows, cout)
        assert (got == w).all(), (rows, cout, p, bits)
    assert lines.pop(0) == "left 0"
