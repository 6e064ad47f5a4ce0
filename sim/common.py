"""Helpers shared by the cocotb benches (sim/<module>/test_<module>.py).

The $readmemh word format is the generator's (fsvae_fpga.codegen.rtl.pack_words), so the
benches and the generated designs cannot drift apart.
"""
from __future__ import annotations

import itertools

from fsvae_fpga.codegen.rtl import pack_words  # noqa: F401  (re-exported for the benches)


def cycle_pause():
    """A pause generator for cocotbext-axi: three cycles paused, one free, repeating."""
    return itertools.cycle([1, 1, 1, 0])


def to_signed(v: int, bits: int) -> int:
    """The two's-complement value of the low `bits` bits of v."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v
