"""Argument types of the command line: every range is checked where the argument is read,
so a bad value ends in argparse's one-line ``fsvae-fpga <command>: error: ...`` (exit 2)
before any work starts.  The ranges come from the contract, not from here: seeds are the
hardware sampler's 32-bit seeds, image counts its images per run."""
from __future__ import annotations

import argparse

from fsvae_fpga.contract.sampler import MAX_IMAGES, SEED_MAX


def _integer(text: str, what: str) -> int:
    try:
        return int(str(text).strip(), 0)            # 0x10 and 16 both work
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None


def seed(text: str) -> int:
    """A sampler seed, 0 <= seed <= 2^32 - 1: the same images in torch, golden model and hardware."""
    value = _integer(text, "the seed")
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"the seed must be in [0, {SEED_MAX}] (the hardware sampler's "
                                         f"32-bit seed), got {value}")
    return value


def count(lo: int, hi: int, what: str):
    """An integer in [lo, hi]; ``what`` names it in the error."""
    def parse(text: str) -> int:
        value = _integer(text, what)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{what} must be in [{lo}, {hi}], got {value}")
        return value
    parse.__name__ = what                           # argparse names the type in some messages
    return parse


# images in one run: the sampler numbers images within a run with 16 bits
images = count(1, MAX_IMAGES, "the number of images")
epochs = count(1, 100000, "the number of epochs")
