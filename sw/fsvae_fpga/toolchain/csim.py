"""C simulation of a generated HLS project with g++ and the vendor headers from the hls4ml
wheel, plus static checks that need no vendor tool."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from fsvae_fpga.codegen.hls import HLS_DIR

CXXFLAGS = ["-std=c++14", "-O2", "-Wall", "-Werror", "-Wno-unknown-pragmas", "-DFSVAE_CHECK_DEPENDENCE"]
KNOWN_PRAGMAS = {"PIPELINE", "UNROLL", "ARRAY_PARTITION", "LOOP_TRIPCOUNT", "INLINE", "INTERFACE", "DATAFLOW",
                 "BIND_STORAGE", "DEPENDENCE", "STREAM", "LOOP_FLATTEN", "ARRAY_RESHAPE"}
# a stand-in for the vendor's ap_axi_sdata.h (Vitis ships it, the hls4ml wheel does not)
CSIM_INCLUDE = HLS_DIR / "csim"
SOURCES = ["firmware/fsvae_core.cpp", "firmware/fsvae_top.cpp", "tb/tb_fsvae.cpp"]


class CsimError(RuntimeError):
    pass


def vendor_include() -> Path:
    import hls4ml
    path = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
    if not (path / "ap_int.h").is_file():
        raise CsimError(f"vendor HLS headers not found under {path} (they ship in the hls4ml wheel; run make setup)")
    return path


def compile_project(project: str | Path, log=print) -> Path:
    """g++ build of the project's sources as Vitis C simulation compiles them: the project's
    own includes are relative to each file (firmware/fsvae/ holds the library), so only the
    vendor headers come from outside; FSVAE_CHECK_DEPENDENCE checks the DEPENDENCE pragmas.
    The sources compile in parallel (the core takes most of the time), then link."""
    project = Path(project)
    if shutil.which("g++") is None:
        raise CsimError("g++ not found: install it (Debian: apt-get install g++)")
    exe = project / "csim"
    flags = [*CXXFLAGS, f"-I{vendor_include()}", f"-I{CSIM_INCLUDE}"]
    objs = [f"{Path(src).stem}.csim.o" for src in SOURCES]
    jobs = [subprocess.Popen(["g++", *flags, "-c", src, "-o", obj], cwd=project, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for src, obj in zip(SOURCES, objs)]
    errors = ""
    for job in jobs:
        _, err = job.communicate()
        if job.returncode != 0:
            errors += err
    if not errors:
        res = subprocess.run(["g++", *objs, "-o", "csim"], capture_output=True, text=True, cwd=project)
        errors = res.stderr if res.returncode != 0 else ""
    for obj in objs:
        (project / obj).unlink(missing_ok=True)
    if errors:
        raise CsimError("g++ failed:\n" + errors[-4000:])
    return exe


def run_csim(project: str | Path, vectors: str | Path | None = None, rebuild: bool = True,
             images: int | None = None) -> tuple[bool, str]:
    """Compile (unless ``rebuild`` is False and a binary exists) and run the C testbench
    (``images``: check only the first ones)."""
    project = Path(project)
    exe = project / "csim"
    if rebuild or not exe.is_file():
        exe = compile_project(project)
    args = [str(exe.resolve()), str(Path(vectors).resolve()) if vectors else "vectors"]
    if images:
        args.append(str(images))
    res = subprocess.run(args, capture_output=True, text=True, cwd=project)
    return res.returncode == 0, res.stdout + res.stderr


def _strip_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def static_check(paths: list[Path]) -> list[str]:
    """Problems Vitis HLS would reject or could not bound, found without the tool."""
    problems = []
    for path in paths:
        src = path.read_text()
        code = _strip_comments(src)
        for m in re.finditer(r"#pragma\s+HLS\s+(\w+)", code):
            if m.group(1).upper() not in KNOWN_PRAGMAS:
                problems.append(f"{path.name}: unknown pragma HLS {m.group(1)}")
        for word in ("new ", "malloc(", "calloc(", "realloc(", "free("):
            if re.search(r"(?<![\w.])" + re.escape(word), code):
                problems.append(f"{path.name}: dynamic memory ({word.strip()})")
        # recursion: a function whose body calls itself
        for m in re.finditer(r"\b(\w+)\s*\([^;{)]*\)\s*\{", code):
            name = m.group(1)
            if name in ("if", "for", "while", "switch"):
                continue
            depth, i = 1, m.end()
            while i < len(code) and depth:
                depth += {"{": 1, "}": -1}.get(code[i], 0)
                i += 1
            if re.search(r"\b" + re.escape(name) + r"\s*(<[^;]*?>)?\s*\(", code[m.end():i]):
                problems.append(f"{path.name}: {name} calls itself (recursion)")
        # every loop: a constant bound, or a LOOP_TRIPCOUNT in its first lines
        for m in re.finditer(r"\bfor\s*\(([^;]*);([^;]*);", code):
            cond = m.group(2)
            bound = re.split(r"<=|<|>=|>|!=", cond)[-1].strip() if re.search(r"<|>", cond) else ""
            constant = re.fullmatch(r"[\w\s\*\+\-\(\)/]+", bound or "x") and not re.search(
                r"\b(n_\w*|n|count|total|n_images|n_in)\b", bound)
            window = code[m.end():m.end() + 300]
            if not constant and "LOOP_TRIPCOUNT" not in window:
                problems.append(f"{path.name}: loop '{m.group(0)[:60]}' has no constant bound or LOOP_TRIPCOUNT")
    return problems
