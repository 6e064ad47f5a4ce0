"""Board descriptions (hw/boards.yaml) and the port contract (hw/interface.yaml).

Both files are the single source of these facts; the code generators, the testbenches and
the driver read them through this module.
"""
from __future__ import annotations

from pathlib import Path

import yaml

HW_DIR = Path(__file__).resolve().parents[3] / "hw"
BRAM36_BITS = 36 * 1024
URAM_BITS = 288 * 1024


class BoardError(ValueError):
    pass


def _read(name: str) -> dict:
    return yaml.safe_load((HW_DIR / name).read_text())


def boards() -> dict:
    return _read("boards.yaml")["boards"]


def vivado_release() -> str:
    return _read("boards.yaml")["vivado_release"]


def board(name: str) -> dict:
    all_boards = boards()
    if name not in all_boards:
        raise BoardError(f"unknown board {name!r}; known boards: {sorted(all_boards)}")
    b = dict(all_boards[name])
    b["name"] = name
    return b


def onchip_bits(b: dict) -> int:
    r = b["resources"]
    return r["bram36"] * BRAM36_BITS + r["uram"] * URAM_BITS


def interface() -> dict:
    return _read("interface.yaml")


def register_offsets() -> dict[str, int]:
    return {r["name"]: r["offset"] for r in interface()["control"]["registers"]}


def register_map_bytes() -> int:
    """Bytes the s_axi_control register map spans: the last register's slot (Vitis layout:
    4 bytes for the control words, 8 per input scalar, 16 per output scalar, 12 per 64-bit
    pointer)."""
    def slot(r: dict) -> int:
        if r["offset"] < 0x10:
            return 4
        if r.get("width", 32) == 64:
            return 12
        return 16 if r.get("access") == "r" else 8
    return max(r["offset"] + slot(r) for r in interface()["control"]["registers"])


def mode_value(mode: str) -> int:
    regs = {r["name"]: r for r in interface()["control"]["registers"]}
    return regs["mode"]["values"][mode]
