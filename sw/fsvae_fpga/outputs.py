"""Safe outputs: a command never deletes or replaces what it did not create.

Three rules every command that writes follows:

* A folder the tool writes (``export``, ``vectors``, ...) carries a marker file, ``MARKER``,
  naming the kind of output.  An existing ``--out`` folder is replaced only when it holds
  that marker with the same kind, or is empty; anything else is refused, never deleted.
* Files and folders are written under a hidden temporary name beside the target and moved
  into place only when complete (a folder is swapped in with one atomic rename where the
  kernel offers ``renameat2(RENAME_EXCHANGE)``).  On any failure, Ctrl-C included, the
  temporary is removed, and so are the parent folders the command itself created.
* Targets are checked before long work starts (``check_file_target``/``check_dir_target``),
  so a bad path fails in a second, not after the images are generated.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
from pathlib import Path

MARKER = ".fsvae-fpga-output.json"
TOOL = "fsvae-fpga"


class OutputError(Exception):
    """An output path that cannot or must not be written; the message says what to do."""


# ------------------------------------------------------------------ checks before work
def _nearest_existing(path: Path) -> Path:
    p = path
    while not (p.exists() or p.is_symlink()):
        if p.parent == p:
            break
        p = p.parent
    return p


def _check_parent(path: Path) -> None:
    """The folder that will hold ``path`` exists or can be created, and is writable."""
    anchor = _nearest_existing(path.parent)
    if not anchor.is_dir():
        raise OutputError(f"{path}: {anchor} is a file, not a folder; choose another path")
    try:   # a real probe: permissions, read-only mounts and root all answer the same way
        fd, probe = tempfile.mkstemp(prefix=".fsvae-fpga-probe-", dir=anchor)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"{path}: cannot write in {anchor} ({err.strerror or err}); "
                          "choose a writable location") from None


def check_file_target(path: str | Path, suffixes: tuple[str, ...] = ()) -> Path:
    """``path`` may be written as a file: right suffix, not a folder, parent writable."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name" + (f" ending in {' or '.join(suffixes)}"
                                                                     if suffixes else ""))
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(f"{path}: the file name must end in {' or '.join(suffixes)}")
    if path.exists() and not path.is_file():
        raise OutputError(f"{path} exists and is not a regular file; choose another path")
    _check_parent(path)
    return path


# folders written before the marker existed: recognised by their index file's format tag, and
# only while every entry is a file of the kinds that writer makes
_LEGACY = {"hwmodel": ("hwmodel.json", "fsvae-fpga-hwmodel", (".json", ".npy")),
           "vectors": ("vectors.json", "fsvae-fpga-vectors", (".json", ".bin"))}


def _json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def marker_kind(path: Path) -> str | None:
    """The kind recorded in ``path``'s marker, or None when the folder is not ours."""
    info = _json(Path(path) / MARKER)
    if isinstance(info, dict) and info.get("tool") == TOOL:
        return info.get("kind")
    for kind, (index, fmt, suffixes) in _LEGACY.items():
        info = _json(Path(path) / index)
        if isinstance(info, dict) and info.get("format") == fmt and all(
                e.is_file() and not e.is_symlink() and e.suffix in suffixes for e in Path(path).iterdir()):
            return kind
    return None


def check_dir_target(path: str | Path, kind: str) -> Path:
    """``path`` may become (or be replaced by) a ``kind`` output folder."""
    path = Path(path)
    if path.is_symlink():
        raise OutputError(f"{path} is a symbolic link; give the real folder")
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} is a file; --out must be a folder (a new one, or one this tool wrote)")
    if path.is_dir():
        try:
            entries = list(path.iterdir())
        except OSError as err:
            raise OutputError(f"{path}: cannot read the folder ({err.strerror or err})") from None
        if entries:
            found = marker_kind(path)
            if found is None:
                raise OutputError(f"{path} exists and was not written by {TOOL} {kind} (no {MARKER}); "
                                  "choose a new --out folder, or empty this one yourself")
            if found != kind:
                raise OutputError(f"{path} holds {TOOL} {found} output, not {kind}; choose another --out folder")
        if path.resolve() == Path.cwd().resolve() or path.resolve() in Path.cwd().resolve().parents:
            raise OutputError(f"{path} is the current folder or one above it; choose a new --out folder")
    _check_parent(path)
    return path


# ------------------------------------------------------------------ atomic writers
def _created_parents(path: Path) -> list[Path]:
    """The missing ancestors of ``path`` (deepest first): what mkdir(parents=True) would create."""
    missing, p = [], path.parent
    while not p.exists() and p.parent != p:
        missing.append(p)
        p = p.parent
    return missing


def _remove_empty(dirs: list[Path]) -> None:
    for d in dirs:                      # deepest first; stop at the first that is not empty
        try:
            d.rmdir()
        except OSError:
            break


def _libc_renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _swap_in(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target``; an existing ``target`` is removed after the swap."""
    if not target.exists():
        os.replace(new, target)
        return
    fn = _libc_renameat2()
    if fn is not None and fn(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE) == 0:
        shutil.rmtree(new)              # ``new`` now names the old folder
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(old)
    os.replace(target, old)             # fallback: two renames, never a half-written target
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old)


@contextlib.contextmanager
def output_dir(path: str | Path, kind: str, info: dict | None = None):
    """Write a ``kind`` output folder: yields an empty temporary folder to fill; on success
    it gets the marker and replaces ``path`` in one step; on failure it disappears."""
    path = check_dir_target(path, kind)
    parents = _created_parents(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        (tmp / MARKER).write_text(json.dumps({"tool": TOOL, "kind": kind, **(info or {})}, indent=1) + "\n")
        os.chmod(tmp, 0o755 & ~_umask())
        _swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(parents)
        raise


def mark_dir(path: str | Path, kind: str, info: dict | None = None) -> None:
    """Add the marker to a folder written in place (for writers that cannot use output_dir)."""
    (Path(path) / MARKER).write_text(json.dumps({"tool": TOOL, "kind": kind, **(info or {})}, indent=1) + "\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | Path):
    """Yields a temporary path beside ``path``; moved over ``path`` only on success."""
    path = Path(path)
    parents = _created_parents(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        _remove_empty(parents)
        raise
