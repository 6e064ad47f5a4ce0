"""Host side: assemble the overlay folder that the board driver runs from.

``write_overlay_files(out_dir, rtl_dir, hwmodel_dir, board)`` is called by the Vivado flow
after the bitstream (fsvae.bit and fsvae.hwh are then already in out_dir) and by the
simulated board (sim/board_sim/run_notebook.py), which uses the folder without them.  It writes::

    fsvae-overlay.json   marker: this folder was written here; files, identity, and for the
                         simulated board the RTL folder, its Verilator build and the launcher
    fsvae.json           the RTL manifest (identity, modes, status_units, weight_load, ...)
    interface.json       the port contract (hw/interface.yaml as JSON: pyyaml may be missing
                         on the board)
    weights.bin          the load_weights blob, where the design has run-time weights
    ddr_weights.bin      the weight rows the core streams from DDR (mem/ddr_weights.bin), where
                         the design streams weights (manifest weight_stream); the driver copies
                         it into a DDR buffer and points weights_base at it
    hwmodel/             the hardware model (golden model input on the board)
    selftest/            vectors.json + seed_<seed>.npy: golden images the self-test replays
    fsvae_fpga/          the board-side driver package and the numpy-only golden modules
                         (contract/: hwmodel, sampler, golden), so the notebook can compute
                         golden images on the board
    generate.ipynb       the notebook (notebooks/generate.ipynb)

Copy the folder to the board (e.g. /home/xilinx/jupyter_notebooks/fsvae/) and open the
notebook there.  The writer never deletes or overwrites a folder it did not create: an
existing folder must hold its marker, or nothing but the Vivado flow's fsvae.bit/fsvae.hwh.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

from fsvae_fpga.codegen import boards
from fsvae_fpga.contract import golden, hwmodel

PACKAGE = Path(__file__).resolve().parents[1]
ROOT = PACKAGE.parents[1]
NOTEBOOK = ROOT / "notebooks" / "generate.ipynb"
LAUNCHER = ROOT / "sim" / "board_sim" / "launch.py"
MARKER = "fsvae-overlay.json"
VIVADO_FILES = ("fsvae.bit", "fsvae.hwh")
GOLDEN_MODULES = ("__init__.py", "contract/__init__.py", "contract/hwmodel.py", "contract/sampler.py",
                  "contract/golden.py")
BOARD_MODULES = ("__init__.py", "driver.py", "pynq_backend.py", "simulated.py", "wire.py", "show.py")
SELFTEST_SEEDS = ((1, 0), (2024, 3))          # (seed, first image): the second exercises image_base


class OverlayError(RuntimeError):
    pass


def foreign_entries(out_dir: Path) -> list[str]:
    """What in ``out_dir`` this tool did not write: nothing when the folder is new, holds the
    overlay marker, or holds only the Vivado flow's fsvae.bit/fsvae.hwh (the one rule for both
    this writer and ``fsvae-fpga bitstream``)."""
    if not out_dir.exists() or (out_dir / MARKER).is_file():
        return []
    return sorted(p.name for p in out_dir.iterdir() if p.name not in VIVADO_FILES)


def _claim(out_dir: Path) -> None:
    """Refuse a folder this module did not create."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OverlayError(f"{out_dir} exists and is not a folder")
    foreign = foreign_entries(out_dir)
    if foreign:
        raise OverlayError(f"{out_dir} was not written by write_overlay_files (no {MARKER}) and holds "
                           f"{', '.join(foreign[:8])}{' ...' if len(foreign) > 8 else ''}: refusing to write into it; "
                           "choose an empty or new folder")


def _replace_dir(src: Path, dst: Path, ignore=None) -> None:
    if dst.exists():
        shutil.rmtree(dst)                    # only ever called below a folder we claimed
    shutil.copytree(src, dst, ignore=ignore)


def _check_current(manifest: dict, hw: hwmodel.HwModel, board: dict, rtl_dir: Path) -> None:
    """The overlay's hwmodel/ and golden vectors must be the model the RTL was generated from,
    and interface.json is written from hw/interface.yaml now: refuse RTL generated from other
    sources (another model, register map or generator), whose registers it might not describe."""
    from fsvae_fpga.codegen import rtl
    got = manifest.get("hwmodel_identity")
    if got != hw.identity:
        raise OverlayError(f"{rtl_dir} was generated from hardware model {str(got)[:12]}, not {hw.identity[:12]} "
                           f"({hw.path}): regenerate the RTL (and the bitstream) from this model")
    if manifest.get("design_sha256") != rtl.design_sha256(hw, board):
        raise OverlayError(f"{rtl_dir} was generated from other sources than the current hw/interface.yaml, "
                           "board settings or generator (its design_sha256 differs): "
                           "regenerate the RTL (and the bitstream) so that the overlay describes it")


def selftest_vectors(hw: hwmodel.HwModel, n_selftest: int) -> list[tuple[int, int, np.ndarray]]:
    """(seed, first image, golden images) for each self-test seed; n_selftest images in all."""
    per = [n_selftest // len(SELFTEST_SEEDS) + (i < n_selftest % len(SELFTEST_SEEDS))
           for i in range(len(SELFTEST_SEEDS))]
    return [(seed, base, golden.generate(hw, n, seed, first_image=base))
            for (seed, base), n in zip(SELFTEST_SEEDS, per) if n]


def write_overlay_files(out_dir: Path, rtl_dir: Path, hwmodel_dir: Path, board: str, n_selftest: int = 4, *,
                        sim_build_dir: Path | None = None, board_overrides: dict | None = None) -> None:
    """Write the overlay folder (see the module docstring).  ``sim_build_dir``: the Verilator
    build the simulated board uses (default: <rtl_dir>/sim_build); ``board_overrides``: the
    overrides the RTL was generated with (write_rtl), for the identity check."""
    out_dir, rtl_dir, hwmodel_dir = Path(out_dir).resolve(), Path(rtl_dir).resolve(), Path(hwmodel_dir).resolve()
    manifest_path = rtl_dir / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: generate the RTL first (fsvae-fpga codegen rtl)")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("board") != board:
        raise OverlayError(f"{rtl_dir} was generated for board {manifest.get('board')!r}, not {board!r}")
    if n_selftest < 1:
        raise ValueError("n_selftest must be at least 1")
    hw = hwmodel.load(hwmodel_dir)
    _check_current(manifest, hw, {**boards.board(board), **(board_overrides or {})}, rtl_dir)
    _claim(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = {"format": "fsvae-overlay", "version": 1, "written_by": "fsvae_fpga.toolchain.overlay.write_overlay_files",
              "board": board, "identity": manifest.get("identity"),
              "hwmodel_identity": manifest.get("hwmodel_identity"), "design_sha256": manifest.get("design_sha256"),
              "simulation": {"rtl_dir": str(rtl_dir),
                             "build_dir": str(Path(sim_build_dir).resolve() if sim_build_dir else rtl_dir / "sim_build"),
                             "launcher": str(LAUNCHER), "python": sys.executable}}
    (out_dir / MARKER).write_text(json.dumps(marker, indent=1) + "\n")   # claim before writing

    (out_dir / "fsvae.json").write_text(json.dumps(manifest, indent=1) + "\n")
    # the register map the RTL was generated with (manifest), not today's hw/interface.yaml
    (out_dir / "interface.json").write_text(json.dumps(manifest.get("interface") or boards.interface(), indent=1) + "\n")
    files = ["fsvae.json", "interface.json"]
    load = manifest.get("weight_load")
    if load:
        blob = Path(load["blob"])
        blob = blob if blob.is_absolute() else rtl_dir / blob
        words = blob.stat().st_size // 4
        if words != int(load["words"]):
            raise OverlayError(f"{blob}: {words} words, the manifest's weight_load.words says {load['words']}")
        shutil.copy2(blob, out_dir / "weights.bin")
        files.append("weights.bin")
    elif (out_dir / "weights.bin").is_file():
        (out_dir / "weights.bin").unlink()    # ours, from an earlier design with run-time weights
    stream = manifest.get("weight_stream")
    if stream:
        image = Path(stream["image"])
        image = image if image.is_absolute() else rtl_dir / image
        if not image.is_file():
            raise OverlayError(f"{image} is missing: the design streams weights from DDR (manifest weight_stream)")
        if image.stat().st_size != int(stream["bytes"]):
            raise OverlayError(f"{image}: {image.stat().st_size} bytes, the manifest's weight_stream.bytes says "
                               f"{stream['bytes']}")
        shutil.copy2(image, out_dir / "ddr_weights.bin")
        files.append("ddr_weights.bin")
    elif (out_dir / "ddr_weights.bin").is_file():
        (out_dir / "ddr_weights.bin").unlink()    # ours, from an earlier design that streamed weights

    _replace_dir(hwmodel_dir, out_dir / "hwmodel", ignore=shutil.ignore_patterns("__pycache__"))
    files.append("hwmodel/")

    sel = out_dir / "selftest"
    if sel.exists():
        shutil.rmtree(sel)
    sel.mkdir()
    cases = []
    for seed, base, images in selftest_vectors(hw, n_selftest):
        name = f"seed_{seed}_from_{base}.npy"
        np.save(sel / name, images, allow_pickle=False)
        cases.append({"seed": seed, "image_base": base, "n": int(images.shape[0]), "file": name})
    (sel / "vectors.json").write_text(json.dumps({"cases": cases, "hwmodel_identity": hw.identity,
                                                  "image_shape": list(hw.image_shape),
                                                  "dtype": "uint8"}, indent=1) + "\n")
    files.append("selftest/")

    pkg = out_dir / "fsvae_fpga"
    if pkg.exists():
        shutil.rmtree(pkg)
    (pkg / "board").mkdir(parents=True)
    (pkg / "contract").mkdir()
    for name in GOLDEN_MODULES:
        shutil.copy2(PACKAGE / name, pkg / name)
    for name in BOARD_MODULES:
        shutil.copy2(PACKAGE / "board" / name, pkg / "board" / name)
    files.append("fsvae_fpga/")

    if NOTEBOOK.is_file():
        shutil.copy2(NOTEBOOK, out_dir / "generate.ipynb")
        files.append("generate.ipynb")
    marker["files"] = files + [f for f in VIVADO_FILES if (out_dir / f).is_file()]
    (out_dir / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
