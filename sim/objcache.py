"""A compile cache for Verilator's runtime, used as the verilated makefile's OBJCACHE.

Every bench build compiles Verilator's runtime (verilated.cpp, verilated_vpi.cpp,
verilated_threads.cpp) again: about 12 of a small bench's 15 s of g++, the same objects each
time, in each of make test's 140 builds.  ccache would keep them, but it is not on PyPI, so
this does the same for those files alone:

    make -f Vtop.mk OBJCACHE="python sim/objcache.py"   (sim/runner.py adds it)

make then runs ``python sim/objcache.py c++ <flags> -c -o verilated.o <include>/verilated.cpp``.
A source inside Verilator's include folder is looked up by a key over the whole command (the
output name aside), the compiler binary and every file of that folder (contents of the source,
size and mtime of the rest); a hit copies the object and its -MMD dependency file, a miss
compiles and stores them.  Anything else (the model, cocotb's main, which includes the model's
header) compiles with Verilator's headers precompiled: about half of a small bench's model
compile (1.2 s of 2.3 s) and most of cocotb's main (1.0 s of 1.4 s) is parsing verilated.h and
its siblings again.  The precompiled header is keyed like a runtime object (flags, compiler,
include folder), built once and passed as ``-include``; a compiler that cannot use it reads the
plain header instead, so it changes build time, never the object.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CACHE = Path(__file__).resolve().parents[1] / "build" / "sim" / ".objcache"


def runtime_source(args: list[str]) -> tuple[Path, Path, Path] | None:
    """(source, object, dependency file) when args compile a file of Verilator's own include
    folder to an object, else None."""
    if "-c" not in args or "-o" not in args:
        return None
    out = Path(args[args.index("-o") + 1])
    sources = [Path(a) for a in args if a.endswith((".cpp", ".cc", ".c"))]
    includes = [Path(a[2:]).resolve() for a in args if a.startswith("-I") and a.rstrip("/").endswith("verilator/include")]
    if len(sources) != 1 or not includes or sources[0].resolve().parent not in includes:
        return None
    return sources[0], out, out.with_suffix(".d")


def cache_key(args: list[str], source: Path) -> str:
    i = args.index("-o")
    return _key(args[:i] + args[i + 2:], args[0], source.resolve().parent, source.read_bytes())


def _key(flags: list[str], compiler: str, include: Path, extra: bytes = b"") -> str:
    """A hash of the flags, the compiler binary and every file of Verilator's include folder."""
    h = hashlib.sha256()
    h.update("\0".join(flags).encode())
    path = Path(shutil.which(compiler) or compiler).resolve()
    st = path.stat()
    h.update(f"{path}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(extra)
    for entry in sorted(include.rglob("*")):
        if entry.is_file():
            st = entry.stat()
            h.update(f"{entry}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def _store(src: Path, dest: Path) -> None:
    """Copy atomically: parallel builds (pytest-xdist) may store the same key at once."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".")
    os.close(fd)
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


# the Verilator headers a model file and cocotb's main include (the rest of them are the model's)
PCH_HEADERS = ("verilated.h", "verilated_dpi.h", "verilated_vpi.h")


def model_compile(args: list[str]) -> Path | None:
    """Verilator's include folder when args compile one C++ file (a model file or cocotb's
    main) against it, else None."""
    if "-c" not in args or "-o" not in args or any(a.startswith("-include") for a in args):
        return None
    sources = [a for a in args if a.endswith((".cpp", ".cc"))]
    includes = [Path(a[2:]).resolve() for a in args if a.startswith("-I") and a.rstrip("/").endswith("verilator/include")]
    return includes[0] if len(sources) == 1 and len(includes) == 1 else None


def precompiled_header(args: list[str], include: Path) -> Path | None:
    """The cached header of PCH_HEADERS precompiled with args' flags (built on first use), or
    None when it cannot be built (the compile then goes on without it)."""
    drop_next = {"-o", "-MF", "-MT", "-MQ"}
    flags, skip = [], False
    for a in args[1:]:
        if skip or a in drop_next:
            skip = a in drop_next
            continue
        if a in ("-c", "-MMD", "-MD", "-MP") or a.endswith((".cpp", ".cc")):
            continue
        flags.append(a)
    entry = CACHE / ("pch-" + _key(flags, args[0], include)[:32])
    header = entry / "verilator_headers.h"
    if (entry / "verilator_headers.h.gch").is_file():
        return header
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=entry.name + "."))
    (tmp / header.name).write_text("".join(f'#include "{h}"\n' for h in PCH_HEADERS))
    rc = subprocess.call([args[0], *flags, "-x", "c++-header", "-o", str(tmp / (header.name + ".gch")),
                          str(tmp / header.name)])
    try:
        if rc == 0:
            os.replace(tmp, entry)      # atomic; a parallel build that got there first keeps its own
    except OSError:
        pass
    shutil.rmtree(tmp, ignore_errors=True)
    return header if (entry / "verilator_headers.h.gch").is_file() else None


def main(args: list[str]) -> int:
    found = runtime_source(args)
    if found is None:
        include = model_compile(args)
        header = precompiled_header(args, include) if include else None
        if header is not None:
            # -MP: the cached header in the .d file is a phony target, so a cleared cache means
            # a rebuild, not make's "no rule to make target"
            args = [args[0], "-include", str(header), "-MP", *args[1:]]
        return subprocess.call(args)
    source, out, dep = found
    entry = CACHE / cache_key(args, source)
    if (entry / "object.o").is_file() and (entry / "deps.d").is_file():
        shutil.copyfile(entry / "object.o", out)
        shutil.copyfile(entry / "deps.d", dep)
        return 0
    rc = subprocess.call(args)
    if rc == 0 and out.is_file() and dep.is_file():
        _store(out, entry / "object.o")
        _store(dep, entry / "deps.d")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
