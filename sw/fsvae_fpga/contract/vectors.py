"""Test vectors for the HLS and RTL testbenches: raw little-endian arrays plus a JSON index.

Directory layout (format ``fsvae-fpga-vectors``, version 2)::

    vectors.json          {"format", "version", "hwmodel_identity", "seed", "n", "image_shape",
                           "time_steps", "files": {name: {"file", "dtype", "shape"}}}
    gen_expected.bin      uint8 (n, C, H, W): generate(hw, n, seed)
    rec_inputs.bin        int8  (n, C, H, W): held-out images in input fixed point
    rec_expected.bin      uint8 (n, C, H, W): reconstruct(hw, rec_inputs, seed)
    gen_trace_<layer>.bin uint8 0/1 spikes (T, n, ...) per spiking layer   (with --traces)
    rec_trace_<layer>.bin                                                   (with --traces)

Each ``.bin`` is the array's bytes in C order with no header, so C++ reads it with one
``fread`` and Python with ``numpy.fromfile``.  Convolution traces are channel-last
(T, n, H, W, C), the order the hardware streams them; linear ones (T, n, F).  Image arrays
are (n, C, H, W).  Sampler image numbers: generation is one run of images 0..n-1 with
``seed``, reconstruction another run of images 0..n-1 with the same seed (rec_inputs[i]
is image i); the trace of layer "latent" holds the picked latent bits z (T, n, C).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fsvae_fpga.contract import golden
from fsvae_fpga.contract.hwmodel import HwModel
from fsvae_fpga.outputs import output_dir

FORMAT = "fsvae-fpga-vectors"
VERSION = 2              # 2: hwmodel_identity (the model's identity) replaces hwmodel_sha256


def hwmodel_digest(hw: HwModel) -> str:
    """The hardware model these vectors follow: its identity (JSON and arrays, hwmodel.py)."""
    return hw.identity


def check_model(index: dict, hw: HwModel, directory: str | Path) -> None:
    """Refuse vectors made from another hardware model (or an edited one)."""
    got = index.get("hwmodel_identity")
    if got != hw.identity:
        raise ValueError(f"{directory}: test vectors were made from hardware model {str(got)[:12]}, not "
                         f"{hw.identity[:12]} ({hw.path}); regenerate them with `fsvae-fpga vectors`")


def write_vectors(hw: HwModel, images_int8: np.ndarray, n: int, seed: int, out_dir: str | Path,
                  traces: bool = False) -> Path:
    out_dir = Path(out_dir)
    with output_dir(out_dir, "vectors") as tmp:
        _write(hw, images_int8, n, seed, tmp, traces)
    return out_dir


def _write(hw: HwModel, images_int8: np.ndarray, n: int, seed: int, tmp: Path, traces: bool) -> None:
    if not 1 <= n <= images_int8.shape[0]:
        raise ValueError(f"{n} images asked for, {images_int8.shape[0]} input images given")
    files = {}

    def put(name, arr):
        arr = np.ascontiguousarray(arr)
        (tmp / f"{name}.bin").write_bytes(arr.tobytes())
        files[name] = {"file": f"{name}.bin", "dtype": str(arr.dtype), "shape": list(arr.shape)}

    gen_trace = {} if traces else None
    put("gen_expected", golden.generate(hw, n, seed, trace=gen_trace))
    put("rec_inputs", images_int8[:n])
    rec_trace = {} if traces else None
    put("rec_expected", golden.reconstruct(hw, images_int8[:n], seed, trace=rec_trace))
    for prefix, trace in (("gen", gen_trace), ("rec", rec_trace)):
        for layer, info in (trace or {}).items():
            if info.get("spikes") is not None:
                put(f"{prefix}_trace_{layer}", info["spikes"].astype(np.uint8))
    index = {"format": FORMAT, "version": VERSION, "hwmodel_identity": hwmodel_digest(hw), "seed": seed,
             "n": n, "image_shape": list(hw.image_shape), "time_steps": hw.T, "files": files}
    (tmp / "vectors.json").write_text(json.dumps(index, indent=1))


def read_vectors(directory: str | Path, hw: HwModel | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """The index and arrays; with ``hw``, vectors of any other hardware model are refused."""
    directory = Path(directory)
    index = json.loads((directory / "vectors.json").read_text())
    if index.get("format") != FORMAT or index.get("version") != VERSION:
        raise ValueError(f"{directory}: not {FORMAT} version {VERSION}")
    if hw is not None:
        check_model(index, hw, directory)
    arrays = {}
    for name, spec in index["files"].items():
        arr = np.fromfile(directory / spec["file"], dtype=np.dtype(spec["dtype"]))
        if arr.size != int(np.prod(spec["shape"])):
            raise ValueError(f"{directory / spec['file']}: {arr.size} values, expected shape {spec['shape']}")
        arrays[name] = arr.reshape(spec["shape"])
    return index, arrays
