"""Static rules for every header of the HLS engine library (hls/fsvae/*.h), read as text: what
Vitis HLS can synthesise and what its reports rely on.  Every HLS pragma is a known directive
and names variables that exist; no dynamic memory, no while loops, no recursion; every for
loop has a constant bound or a LOOP_TRIPCOUNT.  The checker itself is tested on bad code."""
from __future__ import annotations

import re

import pytest

from .tb import HLS

HEADERS = sorted((HLS / "fsvae").glob("*.h"))
ENGINE_FREE = {"types.h"}                  # types and constants only: no functions, no pragmas
HLS_DIRECTIVES = {"PIPELINE", "UNROLL", "ARRAY_PARTITION", "LOOP_TRIPCOUNT", "INLINE", "INTERFACE",
                  "DATAFLOW", "BIND_STORAGE", "DEPENDENCE", "STREAM", "LOOP_FLATTEN", "ARRAY_RESHAPE"}
CONST_BOUND = re.compile(r"^[\sA-Z0-9_()+\-*/%]+$")   # literals and UPPER_CASE constants only
NOT_FUNCTIONS = {"if", "for", "while", "switch", "return", "sizeof", "static_assert"}
# a definition: name(parameters) [const] {; the parameters without (strict) or with ; { }
DEFINITION = {True: re.compile(r"\b([A-Za-z_]\w*)\s*\(([^;{}()]|\([^()]*\))*\)\s*(const\s*)?\{"),
              False: re.compile(r"\b([A-Za-z_]\w*)\s*\(([^()]|\([^()]*\))*\)\s*(const\s*)?\{")}


def strip_comments(src: str) -> str:
    """Comments removed, line numbers kept."""
    src = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def matching(src: str, start: int, open_ch: str = "{", close_ch: str = "}") -> int:
    """Index of the bracket closing the one at src[start]."""
    depth = 0
    for i in range(start, len(src)):
        depth += (src[i] == open_ch) - (src[i] == close_ch)
        if depth == 0:
            return i
    raise AssertionError("unbalanced brackets")


def functions(src: str, strict: bool = True):
    """(name, body) of every function definition (brace-matched), src without comments."""
    for m in DEFINITION[strict].finditer(src):
        if m.group(1) not in NOT_FUNCTIONS:
            yield m.group(1), src[m.end():matching(src, m.end() - 1)]


def pragmas(src: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*#\s*pragma\s+HLS\s+(\w+)(.*)$", src, flags=re.M | re.I)


def violations(raw: str) -> list[str]:
    """What breaks the rules in the source text raw (empty: none)."""
    src, found = strip_comments(raw), []
    for name, args in pragmas(src):
        if name.upper() not in HLS_DIRECTIVES:
            found.append(f"unknown HLS directive {name!r}")
        var = re.search(r"\bvariable\s*=\s*(\w+)", args)
        if var and not re.search(rf"\b{var.group(1)}\b", src.replace(args, "")):
            found.append(f"pragma names unknown variable {var.group(1)!r}")
    if re.search(r"\bnew\b|\bdelete\b|\b(malloc|calloc|realloc|free)\s*\(", src):
        found.append("dynamic allocation is not synthesisable")
    if re.search(r"\bwhile\s*\(", src):
        found.append("while/do loops: use for loops with a bound")
    for m in re.finditer(r"\bfor\s*\(", src):
        close = matching(src, m.end() - 1, "(", ")")
        parts = src[m.end():close].split(";")
        cond = re.match(r"\s*\w+\s*(<=|<|>=|>|!=)\s*(.+?)\s*$", parts[1], flags=re.S) if len(parts) == 3 else None
        if cond is None:
            found.append(f"cannot read the loop bound of {src[m.start():close + 1]}")
        elif not CONST_BOUND.match(cond.group(2)):
            brace = src.index("{", close)
            head = re.split(r"\bfor\s*\(", src[brace + 1:matching(src, brace)])[0]
            if not re.search(r"#\s*pragma\s+HLS\s+LOOP_TRIPCOUNT\b", head, flags=re.I):
                found.append(f"data-dependent loop without LOOP_TRIPCOUNT: {src[m.start():close + 1]}")
    for name, body in functions(src, strict=True):          # a call of itself
        if re.search(rf"(?<![\w.]){name}\s*(<[^;()]*>)?\s*\(", body):
            found.append(f"{name} is recursive")
    for name, body in functions(src, strict=False):         # any mention outside strings
        if re.search(rf"\b{name}\b", re.sub(r'"(\\.|[^"\\])*"', '""', body)):
            found.append(f"{name} may be recursive")
    return found


def test_every_engine_header_is_checked():
    assert {p.name for p in HEADERS} >= {"types.h", "event_list.h", "lif_linear.h", "sampler.h",
                                         "membrane_output.h", "lif_conv_transpose.h", "conv_encoder.h",
                                         "weight_load.h"}


@pytest.mark.parametrize("header", HEADERS, ids=lambda p: p.name)
def test_header_static_rules(header):
    raw = header.read_text()
    assert violations(raw) == [], header.name
    src = strip_comments(raw)
    if header.name not in ENGINE_FREE:          # the checks above had something to look at
        assert pragmas(src), "no HLS pragmas found"
        assert re.search(r"\bfor\s*\(", src) and list(functions(src)), "no loops or functions found"


def test_checker_sees_the_lif_linear_step():
    lif = strip_comments((HLS / "fsvae" / "lif_linear.h").read_text())
    assert "lif_linear_step" in dict(functions(lif))
    assert re.search(r"#pragma HLS PIPELINE II=1", lif)


def test_static_check_catches_violations():
    bad = "void f(int n) {\n#pragma HLS PIPELIN II=1\n int *p = new int[3]; f(n - 1); }"
    src = strip_comments(bad)
    assert [n for n, _ in pragmas(src)] == ["PIPELIN"]
    assert re.search(r"\bnew\b", src)
    name, body = next(functions(src))
    assert name == "f" and re.search(rf"(?<![\w.]){name}\s*\(", body)
    assert violations(bad) == ["unknown HLS directive 'PIPELIN'", "dynamic allocation is not synthesisable",
                               "f is recursive", "f may be recursive"]


@pytest.mark.parametrize("bad, message", [
    ("void f(int n) { while (n) { --n; } }", "while/do loops"),
    ("void f(int n) {\n for (int i = 0; i < n; ++i) {\n#pragma HLS PIPELINE II=1\n } }", "without LOOP_TRIPCOUNT"),
    ("void f(int a[4]) {\n#pragma HLS ARRAY_PARTITION variable=b complete\n}", "unknown variable 'b'"),
    ("void f(int n) { g(&f); }", "f may be recursive"),
    ("void f() { free(0); }", "dynamic allocation"),
], ids=["while", "unbounded-for", "pragma-variable", "mention", "free"])
def test_static_check_catches_each_rule(bad, message):
    assert any(message in v for v in violations(bad)), violations(bad)


def test_static_check_accepts_good_code():
    good = ("void f(int a[4], int n) {\n#pragma HLS ARRAY_PARTITION variable=a complete\n"
            " for (int i = 0; i < N; ++i) {\n#pragma HLS UNROLL\n a[i] = 0; }\n"
            " for (int i = 0; i < n; ++i) {\n#pragma HLS LOOP_TRIPCOUNT max=4\n a[i] = g(i); } }")
    assert violations(good) == []
