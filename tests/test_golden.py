"""The golden model (numpy) equals the torch model in eval mode, bit for bit.

Same sampler draws (LfsrIndexSource), then `==` on every layer's spike trains at every
time step and on the output pixels: on a trained small model, on random configurations
(hypothesis), on adversarial weights that push the bounds, and on the shipped model.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsvae_fpga.contract import golden, hwmodel
from fsvae_fpga.training.checkpoint import SHIPPED_MODEL, load_model
from fsvae_fpga.config import with_overrides
from fsvae_fpga.data import load_images
from fsvae_fpga.contract.export import export
from fsvae_fpga.model.fsvae import FSVAE
from fsvae_fpga.model.latent import LfsrIndexSource


def torch_traces(model, images, seed, mode):
    """Torch spike trains per layer, channel-last like the golden model's."""
    source = LfsrIndexSource(seed)
    with torch.no_grad(), model.tracing() as trace, model.frozen_weights():
        if mode == "generate":
            z, _ = model.prior_latents(source, images.shape[0])
        else:
            z, _ = model.posterior_latents(model.encode(images), source)
        pixels = model.output_pixels(model.decode_currents(z))
    spikes = {}
    for name, (_, _, s) in trace.items():
        if s is None:
            continue
        s = s.to(torch.uint8).numpy()
        spikes[name] = s.transpose(0, 1, 3, 4, 2) if s.ndim == 5 else s
    spikes["latent"] = z.to(torch.uint8).numpy()
    return pixels.numpy(), spikes


def assert_golden_equals_torch(model, hw, images, seed):
    x_int8 = golden.quantize_images(images.numpy(), hw.desc["input"]["frac_bits"])
    for mode in ("generate", "reconstruct"):
        trace = {}
        if mode == "generate":
            g = golden.generate(hw, images.shape[0], seed, trace=trace)
        else:
            g = golden.reconstruct(hw, x_int8, seed, trace=trace)
        t, t_spikes = torch_traces(model, images, seed, mode)
        for name, s in t_spikes.items():
            gs = trace[name]["spikes"]
            assert gs.shape == s.shape, (mode, name)
            if not (gs == s).all():
                step = int(np.argmax((gs != s).reshape(gs.shape[0], -1).any(1)))
                pytest.fail(f"{mode}: layer {name} differs first at time step {step}")
        assert g.dtype == np.uint8 and (g == t).all(), f"{mode}: output pixels differ"
        for name, info in trace.items():   # the bound analysis holds on real traffic
            if info.get("membrane_min") is not None:
                lo, hi = hw.layer(name)["membrane_range"]
                assert lo <= info["membrane_min"] and info["membrane_max"] <= hi, name
    return trace


@pytest.fixture(scope="module")
def small_hw(trained_small_model, tmp_path_factory):
    return hwmodel.load(export(trained_small_model, tmp_path_factory.mktemp("hw") / "small"))


@pytest.mark.parametrize("seed", [0, 1, 2 ** 32 - 1, 123456789])
def test_trained_small_model(trained_small_model, small_hw, seed):
    images = load_images("mnist-embedded", "test", 32, limit=12).images
    trace = assert_golden_equals_torch(trained_small_model, small_hw, images, seed)
    rates = [v["spike_rate"] for v in trace.values() if v.get("spike_rate") is not None]
    assert sum(0.01 < r < 0.99 for r in rates) >= len(rates) - 2      # real activity


def random_model(cfg, seed, weight_bits, adversarial=None):
    torch.manual_seed(seed)
    model = FSVAE(with_overrides(cfg, **{"quant.weight_bits": weight_bits}))
    with torch.no_grad():
        for _, syn in model.synapses():
            if syn.bn is not None:      # random batch-norm statistics to fold
                syn.bn.running_mean.uniform_(-0.5, 0.5)
                syn.bn.running_var.uniform_(0.2, 2.0)
                syn.bn.weight.uniform_(0.5, 1.5)
                syn.bn.bias.uniform_(-0.2, 0.3)
        model.eval().to_fixed_point()
        for _, syn in model.synapses():
            w = syn.layer.weight
            if adversarial == "max":        # every weight at the positive maximum
                w.fill_(0.5)
                syn.bias.fill_(0.3)
            elif adversarial == "sign":     # +-max: largest currents of both signs
                w.copy_(torch.where(torch.rand_like(w) < 0.5, -0.5, 0.5))
    return model


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(T=st.integers(2, 5), C=st.integers(2, 12), k=st.integers(1, 6),
       ch=st.lists(st.integers(2, 8), min_size=4, max_size=4), bits=st.sampled_from([4, 8]),
       seed=st.integers(0, 2 ** 32 - 1))
def test_random_configurations(small_cfg, tmp_path, T, C, k, ch, bits, seed):
    cfg = with_overrides(small_cfg, **{"network.time_steps": T, "network.latent_dim": C, "network.k": k,
                                       "network.encoder_channels": ch, "train.scheduled_from_step": 1})
    model = random_model(cfg, seed % 1000, bits)
    hw = hwmodel.load(export(model, tmp_path / f"hw{seed}"))
    images = load_images("mnist-embedded", "test", 32, limit=3).images
    assert_golden_equals_torch(model, hw, images, seed)


@pytest.mark.parametrize("kind", ["max", "sign"])
def test_adversarial_weights_and_all_ones_inputs(small_cfg, tmp_path, kind):
    model = random_model(small_cfg, 0, 8, adversarial=kind)
    hw = hwmodel.load(export(model, tmp_path / kind))
    for layer in hw.desc["layers"]:
        assert np.abs(hw.weights[layer["name"]]).max() == 127          # at the 8-bit limit
    images = torch.ones(4, 1, 32, 32)                                   # all-white: extreme pixels
    trace = assert_golden_equals_torch(model, hw, images, seed=7)
    if kind == "max":   # positive weights everywhere: spike trains saturate to all ones
        assert trace["decoder.3"]["spikes"].mean() > 0.3


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason="shipped model not trained yet")
@pytest.mark.parametrize("seed", [0, 42, 2 ** 31 + 5])
def test_shipped_model(tmp_path_factory, seed):
    model, _ = load_model(None)
    hw = hwmodel.load(export(model, tmp_path_factory.mktemp("shipped") / "hw"))
    images = load_images("mnist-embedded", "test", 32, limit=4).images
    assert_golden_equals_torch(model, hw, images, seed)


def test_golden_module_does_not_import_torch():
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch'] = None; "
            "import fsvae_fpga.contract.golden, fsvae_fpga.contract.hwmodel, fsvae_fpga.contract.sampler; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(__import__("conftest").ROOT / "sw")})
    assert out.stdout.strip() == "ok", out.stderr


def test_vectors_round_trip(small_hw, tmp_path):
    from fsvae_fpga.contract.vectors import read_vectors, write_vectors
    x = golden.quantize_images(load_images("mnist-embedded", "test", 32, limit=3).images.numpy())
    write_vectors(small_hw, x, 3, 9, tmp_path / "v", traces=True)
    index, arrays = read_vectors(tmp_path / "v")
    assert index["n"] == 3 and index["seed"] == 9
    assert (arrays["gen_expected"] == golden.generate(small_hw, 3, 9)).all()
    assert (arrays["rec_expected"] == golden.reconstruct(small_hw, x, 9)).all()
    assert (arrays["rec_inputs"] == x).all() and arrays["rec_inputs"].dtype == np.int8
    assert arrays["gen_trace_decoder.3"].shape[:2] == (small_hw.T, 3)


def test_stats_are_consistent(small_hw):
    from fsvae_fpga.contract.stats import layer_stats
    x = golden.quantize_images(load_images("mnist-embedded", "test", 32, limit=4).images.numpy())
    for mode in ("generate", "reconstruct"):
        rows = layer_stats(small_hw, mode, 4, 0, x)
        for r in rows:
            assert 0 <= r["event_accumulates"] <= r["dense_ops"], r
            if r["kind"] == "linear":
                assert r["event_accumulates"] == pytest.approx(r["input_events"] * small_hw.layer(r["layer"])["out_shape"][0])
            if r["input_events"] is not None:      # ceil(E_t / 2) summed over the steps
                E, T = r["input_events"], small_hw.T
                assert E / 2 <= r["input_pairs"] <= min(E, (E + T) / 2), r


def _output_sum_in_time_order(hw, spikes):
    """m = sum_t coef[t] * (W * s_t + b), step by step: the spec's first form."""
    T, n = spikes.shape[:2]
    cur = golden.synapse(hw, "output", spikes.reshape(T * n, *spikes.shape[2:])).reshape(T, n, -1)
    coef = np.asarray(hw.desc["output"]["decay_coefficients"], dtype=np.int64)
    return np.tensordot(coef, cur, axes=(0, 0))


@pytest.mark.parametrize("kind", ["trained", "max", "sign"])
def test_output_sum_reordered_equals_the_time_ordered_sum(small_cfg, small_hw, tmp_path, kind):
    """m = W * S + b sum(coef) equals sum_t coef[t] (W s_t + b) with == on every pixel, on real
    spike trains, random ones and all ones; S and every bias-first partial sum stay inside
    the bounds the spec states."""
    hw = small_hw if kind == "trained" else hwmodel.load(export(random_model(small_cfg, 1, 8, adversarial=kind),
                                                               tmp_path / kind))
    trace = {}
    pixels = golden.generate(hw, 6, 3, trace=trace)
    last = hw.names("decoder")[-1]
    real = trace[last]["spikes"]
    rng = np.random.default_rng(0)
    out = hw.desc["output"]
    coef_sum = sum(out["decay_coefficients"])
    lo, hi = out["sum_range"]
    w, b = hw.weights["output"].astype(np.int64), hw.biases["output"].astype(np.int64)
    for spikes in (real, (rng.random(real.shape) < 0.5).astype(np.uint8), np.ones_like(real)):
        m = golden.output_sum_reordered(hw, spikes)
        assert m.dtype == np.int64 and (m.reshape(m.shape[0], -1) == _output_sum_in_time_order(hw, spikes)).all()
        S = golden.spike_weights(hw, spikes)
        assert S.min() >= 0 and S.max() <= coef_sum
        # bias first, then one (input channel, tap) term after the other: every partial sum in range
        layer = hw.layer("output")
        st, pad, K = layer["stride"], layer["padding"], w.shape[2]
        n, h, wd, _ = S.shape
        acc = np.broadcast_to(b * coef_sum, m.shape).copy()
        for c in range(w.shape[0]):
            for kh in range(K):
                for kw in range(K):
                    canvas = np.zeros((n, (h - 1) * st + K + layer["output_padding"],
                                       (wd - 1) * st + K + layer["output_padding"], w.shape[1]), dtype=np.int64)
                    canvas[:, kh:kh + st * (h - 1) + 1:st, kw:kw + st * (wd - 1) + 1:st] = S[..., c:c + 1] * w[c, :, kh, kw]
                    acc += canvas[:, pad:pad + m.shape[1], pad:pad + m.shape[2]]
                    assert lo <= acc.min() and acc.max() <= hi
        assert (acc == m).all()
    thr = np.asarray(out["pixel_thresholds"], dtype=np.int64)
    again = np.searchsorted(thr, golden.output_sum_reordered(hw, real), side="right").astype(np.uint8)
    assert (again.transpose(0, 3, 1, 2) == pixels).all()
