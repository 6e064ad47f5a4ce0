"""LIF integer semantics against hand-computed sequences, and the surrogate-gradient BPTT."""
import pytest
import torch

from fsvae_fpga.model.lif import (lif_sequence, lif_sequence_with_membranes, lif_step, quantized_threshold,
                                  threshold_int)

S = 1 / 16           # membrane unit; threshold floor(0.2 * 16) = 3 units


def run_int(currents):
    """Spikes and membranes of the fixed-point LIF, for currents given in integer units."""
    cur = torch.tensor(currents, dtype=torch.float32).view(-1, 1) * S
    spikes, mem = lif_sequence_with_membranes(cur, S)
    return spikes.view(-1).int().tolist(), (mem.view(-1) / S).tolist()


def test_threshold_fires_exactly_when_the_real_membrane_is_above_0_2():
    """theta = floor(0.2 / s): u > theta  <=>  u * s > 0.2, for every integer u (the paper's
    rule on the grid; round(0.2 / s) fired at u >= 27 = 0.211 for s = 2^-7)."""
    from fractions import Fraction
    assert threshold_int(S) == 3
    assert quantized_threshold(S) == 3 * S
    assert threshold_int(2 ** -8) == 51          # 0.2 * 256 = 51.2
    assert threshold_int(2 ** -7) == 25          # 0.2 * 128 = 25.6: fires at u >= 26 = 0.203
    assert quantized_threshold(None) == 0.2
    assert threshold_int(2 ** -7, "round") == 26  # the rule of checkpoints from before quant.threshold
    for f in range(0, 31):
        s = 2.0 ** -f
        theta = threshold_int(s)
        for u in range(theta - 3, theta + 4):
            assert (u > theta) == (Fraction(u) * Fraction(s) > Fraction(1, 5)), (f, u)


@pytest.mark.parametrize("currents, spikes, membranes", [
    # u = (u >> 2) * (1 - o) + I, spike when u > 3 (strictly)
    ([5, 1, -7, 2, 4, 0, -3], [1, 0, 0, 0, 1, 0, 0], [5, 1, -7, 0, 4, 0, -3]),
    ([3, 4], [0, 1], [3, 4]),                                  # 3 is not above 3; 3 >> 2 = 0
    ([-5, 0, 0, 0], [0, 0, 0, 0], [-5, -2, -1, -1]),           # floor: -5/4 -> -2, -2/4 -> -1, -1/4 -> -1
    ([-1, 0, 2], [0, 0, 0], [-1, -1, 1]),                      # -1 >> 2 stays -1
    ([16, 0, 0], [1, 0, 0], [16, 0, 0]),                       # hard reset: no leak after a spike
    ([2, 2, 2, 2], [0, 0, 0, 0], [2, 2, 2, 2]),                # 2 >> 2 = 0: never accumulates
])
def test_integer_sequences(currents, spikes, membranes):
    got_spikes, got_mem = run_int(currents)
    # recompute the expectation literally with Python integers (>> floors negatives)
    u, o, exp_s, exp_m = 0, 0, [], []
    for i in currents:
        u = (u >> 2) * (1 - o) + i
        o = int(u > 3)
        exp_s.append(o)
        exp_m.append(u)
    assert got_spikes == exp_s
    assert got_mem == exp_m
    assert got_spikes == spikes
    assert got_mem == membranes


def test_hand_values_of_the_worked_example():
    spikes, mem = run_int([5, 1, -7, 2, 4, 0, -3])
    assert spikes == [1, 0, 0, 0, 1, 0, 0]
    assert mem == [5.0, 1.0, -7.0, 0.0, 4.0, 0.0, -3.0]


def test_three_units_never_fire():
    spikes, mem = run_int([3, 3, 3])
    assert spikes == [0, 0, 0] and mem == [3.0, 3.0, 3.0]


def test_float_stage_uses_plain_leak():
    cur = torch.tensor([[0.15], [0.1], [0.0]])
    spikes, mem = lif_sequence_with_membranes(cur, None)
    assert torch.allclose(mem.view(-1), torch.tensor([0.15, 0.1375, 0.034375]))
    assert spikes.sum() == 0


@pytest.mark.parametrize("scale", [None, 2 ** -6])
def test_sequence_equals_stepped(scale):
    torch.manual_seed(1)
    cur = torch.randn(12, 5, 7) * 0.4
    if scale:
        cur = torch.round(cur / scale) * scale
    seq = lif_sequence(cur, scale)
    u = o = None
    for t in range(cur.shape[0]):
        o, u = lif_step(cur[t], u, o, scale)
        assert torch.equal(o, seq[t])


@pytest.mark.parametrize("scale", [None, 2 ** -6])
def test_hand_written_bptt_matches_autograd(scale):
    torch.manual_seed(2)
    cur = (torch.randn(10, 4, 6, dtype=torch.float64) * 0.4)
    if scale:
        cur = torch.round(cur / scale) * scale
    weights = torch.randn(10, 4, 6, dtype=torch.float64)
    a = cur.clone().requires_grad_(True)
    (lif_sequence(a, scale) * weights).sum().backward()
    b = cur.clone().requires_grad_(True)
    u = o = None
    outs = []
    for t in range(b.shape[0]):
        o, u = lif_step(b[t], u, o, scale)
        outs.append(o)
    (torch.stack(outs) * weights).sum().backward()
    assert a.grad.abs().sum() > 0
    assert torch.allclose(a.grad, b.grad, atol=1e-12)


def test_surrogate_window_sits_at_the_threshold_or_at_zero():
    """d spike / d u is 1 inside |u - centre| < 0.5: centre = theta by default, 0 for the
    authors' variant (network.surrogate_centre: zero); the same in the whole-sequence BPTT."""
    from fsvae_fpga.model.lif import lif_sequence, spike
    u = torch.tensor([-0.4, 0.1, 0.6, 0.65], requires_grad=True)
    spike(u, 0.2).sum().backward()
    assert u.grad.tolist() == [0.0, 1.0, 1.0, 1.0]         # |u - 0.2| < 0.5
    u.grad = None
    spike(u, 0.2, 0.0).sum().backward()
    assert u.grad.tolist() == [1.0, 1.0, 0.0, 0.0]         # |u| < 0.5
    cur = torch.tensor([[-0.4, 0.1, 0.6, 0.65]], requires_grad=True)   # one step: u = current
    lif_sequence(cur, None, "floor", 0.0).sum().backward()
    assert cur.grad.tolist() == [[1.0, 1.0, 0.0, 0.0]]
