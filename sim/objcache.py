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
header) compiles as it would without the cache.
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
    h = hashlib.sha256()
    i = args.index("-o")
    h.update("\0".join(args[:i] + args[i + 2:]).encode())
    compiler = Path(shutil.which(args[0]) or args[0]).resolve()
    st = compiler.stat()
    h.update(f"{compiler}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(source.read_bytes())
    for entry in sorted(source.resolve().parent.rglob("*")):
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


def main(args: list[str]) -> int:
    found = runtime_source(args)
    if found is None:
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
