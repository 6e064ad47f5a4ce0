"""Random cases of the convolution engines (lif_conv_transpose.h, conv_encoder.h) and their
golden results (golden.conv_transpose2d / golden.conv2d + golden.LIFState), shared by
test_lif_conv_transpose.py and test_conv_encoder.py.  The case format is the header comment of
hls/tb/tb_conv.h.

Every case of every configuration is drawn from one generator in one order (seed 20240229),
so each test file draws them all and runs those of its own kinds: the cases are the same
whichever files run."""
from __future__ import annotations

import functools
from collections import namedtuple

import numpy as np

from fsvae_fpga.contract import golden
from fsvae_fpga.contract.hwmodel import current_range, membrane_range, signed_bits

from .tb import assert_equal

KIND_CONVT, KIND_CONVT_CURRENTS, KIND_CONV_EVENTS, KIND_CONV_IMAGE = 1, 2, 3, 4
KIND_NAMES = {1: "convT", 2: "convT-currents", 3: "conv-events", 4: "conv-image"}

Config = namedtuple("Config", "kind cin cout ih iw k s pad outpad p accb memb")

# Must match the instances compiled in tb_lif_conv_transpose.cpp and tb_conv_encoder.cpp.
CONFIGS = [
    Config(1, 3, 4, 4, 4, 3, 2, 1, 1, 1, 16, 17),
    Config(1, 3, 4, 4, 4, 3, 2, 1, 1, 2, 16, 17),
    Config(1, 3, 4, 4, 4, 3, 2, 1, 1, 4, 16, 17),
    Config(1, 2, 4, 3, 5, 3, 2, 1, 1, 2, 24, 25),     # non-square
    Config(1, 2, 2, 3, 2, 4, 2, 1, 0, 2, 16, 17),     # even kernel
    Config(2, 4, 1, 8, 8, 3, 1, 1, 0, 1, 16, 17),     # the output layer's shape: K3 S1 P1
    Config(2, 3, 2, 5, 4, 3, 1, 1, 0, 2, 16, 17),
    Config(3, 8, 4, 8, 8, 3, 2, 1, 0, 1, 18, 19),
    Config(3, 8, 4, 8, 8, 3, 2, 1, 0, 2, 18, 19),
    Config(3, 8, 4, 8, 8, 3, 2, 1, 0, 4, 18, 19),
    Config(3, 3, 4, 7, 6, 3, 2, 1, 0, 2, 16, 17),     # odd, non-square
    Config(4, 1, 4, 8, 8, 3, 2, 1, 0, 1, 19, 20),
    Config(4, 1, 4, 8, 8, 3, 2, 1, 0, 2, 19, 20),
    Config(4, 1, 4, 8, 8, 3, 2, 1, 0, 4, 19, 20),
    Config(4, 3, 4, 7, 6, 3, 2, 1, 0, 2, 21, 22),
]
VARIANTS = ("random", "extreme", "saturated")
T_STEPS = 5
DENSITIES = (0.0, 0.1, 0.5, 1.0)


def config_id(c: Config) -> str:
    geo = f"{c.cin}x{c.ih}x{c.iw}-{c.cout}_k{c.k}s{c.s}p{c.pad}" + (f"op{c.outpad}" if c.kind <= 2 else "")
    return f"{KIND_NAMES[c.kind]}_{geo}_P{c.p}"


def configs(*kinds: int) -> list[Config]:
    return [c for c in CONFIGS if c.kind in kinds]


def out_hw(c: Config) -> tuple[int, int]:
    if c.kind <= 2:
        return tuple((n - 1) * c.s - 2 * c.pad + c.k + c.outpad for n in (c.ih, c.iw))
    return tuple((n + 2 * c.pad - c.k) // c.s + 1 for n in (c.ih, c.iw))


def make_case(c: Config, variant: str, rng: np.random.Generator) -> dict:
    torch_kind = "convT" if c.kind <= 2 else "conv"
    wshape = (c.cin, c.cout, c.k, c.k) if torch_kind == "convT" else (c.cout, c.cin, c.k, c.k)
    if variant == "random":
        w = rng.integers(-128, 128, size=wshape)
    elif variant == "extreme":
        w = rng.choice([-127, 127], size=wshape)
    else:   # saturated: one sign per output channel
        sign = rng.choice([-1, 1], size=c.cout)
        w = 127 * (sign[None, :, None, None] if torch_kind == "convT" else sign[:, None, None, None]) \
            * np.ones(wshape, dtype=np.int64)
    w = w.astype(np.int64)
    in_lo, in_hi = (-128, 127) if c.kind == KIND_CONV_IMAGE else (0, 1)

    # the largest biases the accumulator width allows: bias + every tap's extreme fits ACC bits
    wo = (w.transpose(1, 0, 2, 3) if torch_kind == "convT" else w).reshape(c.cout, -1)
    hi_c = np.where(wo > 0, wo * in_hi, wo * in_lo).sum(1)
    lo_c = np.where(wo > 0, wo * in_lo, wo * in_hi).sum(1)
    amax, amin = (1 << (c.accb - 1)) - 1, -(1 << (c.accb - 1))
    b_hi, b_lo = amax - hi_c, amin - lo_c
    assert (b_lo <= b_hi).all(), "accumulator too narrow for the test weights"
    if variant == "random":
        bias = rng.integers(b_lo // 8, b_hi // 8 + 1)
    else:   # at the edge of the range, or small
        pick = rng.integers(0, 3, size=c.cout)
        bias = np.where(pick == 0, b_hi, np.where(pick == 1, b_lo, rng.integers(-64, 65, size=c.cout)))
    bias = bias.astype(np.int64)
    lo, hi = current_range(torch_kind, w, bias, in_lo, in_hi)
    assert signed_bits(lo, hi) <= c.accb

    oh, ow = out_hw(c)
    inputs = {"geometry": list(c), "steps": T_STEPS, "bias": bias,
              "weight": (w.transpose(0, 2, 3, 1) if torch_kind == "convT" else w.transpose(1, 2, 3, 0))
              .reshape(-1, c.cout)}
    expected = {}
    if c.kind == KIND_CONV_IMAGE:
        img = rng.integers(-128, 128, size=(c.ih, c.iw, c.cin))
        img[rng.random(img.shape) < 0.2] = rng.choice([-128, 127])
        cur1 = golden.conv2d(img[None].astype(np.int64), w, bias, c.s, c.pad)[0]
        currents = np.broadcast_to(cur1, (T_STEPS, oh, ow, c.cout))
        inputs["image"] = img.reshape(-1, c.cin)
        expected["current"] = cur1.reshape(-1, c.cout)
    else:
        dens = list(rng.permutation(DENSITIES)) + [float(rng.choice([0.1, 0.5]))]
        x = np.stack([(rng.random((c.ih, c.iw, c.cin)) < d) for d in dens]).astype(np.int64)
        if torch_kind == "convT":
            currents = golden.conv_transpose2d(x, w, bias, c.s, c.pad, c.outpad)
        else:
            currents = golden.conv2d(x, w, bias, c.s, c.pad)
        events = [np.flatnonzero(x[t]) for t in range(T_STEPS)]     # (ih*IW + iw)*CIN + c, ascending
        inputs["count"] = [len(ev) for ev in events]
        inputs["events"] = np.concatenate(events)
    assert currents.shape == (T_STEPS, oh, ow, c.cout)
    assert lo <= currents.min() and currents.max() <= hi

    # threshold: a random quantile of the currents, so that neurons both spike and carry
    threshold = int(np.quantile(currents, rng.uniform(0.2, 0.8)))
    if variant == "saturated" and rng.random() < 0.5:
        threshold = -int(rng.integers(1, 100))
    mlo, mhi = membrane_range(lo, hi, threshold, T_STEPS)
    assert signed_bits(mlo, mhi) <= c.memb
    inputs["threshold"] = threshold

    if c.kind == KIND_CONVT_CURRENTS:
        expected["currents"] = currents.reshape(T_STEPS, -1, c.cout)
    else:
        state, steps = golden.LIFState(threshold), []
        for t in range(T_STEPS):
            o = state.step(currents[t])
            steps.append((o.reshape(-1, c.cout), state.u.reshape(-1, c.cout), np.flatnonzero(o)))
        assert signed_bits(min(state.u_min, 0), max(state.u_max, 0)) <= c.memb
        expected.update(spikes=np.stack([s[0] for s in steps]), membrane=np.stack([s[1] for s in steps]),
                        count=[len(s[2]) for s in steps], events=np.concatenate([s[2] for s in steps]))
    return {"config": c, "variant": variant, "inputs": inputs, "expected": expected}


@functools.lru_cache(maxsize=None)
def all_cases() -> tuple[dict, ...]:
    rng = np.random.default_rng(20240229)
    return tuple(make_case(c, v, rng) for c in CONFIGS for v in VARIANTS)


def run_cases(tb, work, kinds) -> dict[str, list[tuple[dict, dict]]]:
    """Run every case of the given kinds: {config id: [(case, results), one per variant]}."""
    cases = [case for case in all_cases() if case["config"].kind in kinds]
    results = tb.run(work, {"conv": [case["inputs"] for case in cases]})["conv"]
    assert len(results) == len(cases)
    return {config_id(c): [(case, got) for case, got in zip(cases, results) if case["config"] == c]
            for c in configs(*kinds)}


def check_equals_golden(runs) -> None:
    assert len(runs) == len(VARIANTS)
    for case, got in runs:
        assert_equal(got, case["expected"], f"{config_id(case['config'])} {case['variant']} case")


def check_activity(results) -> None:
    """The random cases are not degenerate: spikes, silence and carried membranes all occur."""
    for cid, runs in results.items():
        if cid.startswith("convT-currents"):
            continue
        spikes = np.concatenate([case["expected"]["spikes"].reshape(-1) for case, _ in runs])
        assert 0 < spikes.mean() < 1, cid

