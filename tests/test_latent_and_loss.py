"""One-of-k latent sampling statistics, and PSP / MMD on small known inputs."""
import math

import torch

from fsvae_fpga.model.latent import TorchIndexSource, bernoulli_probability, pick_one_of_k
from fsvae_fpga.model.losses import fsvae_loss, mmd_loss, psp


def test_pick_selects_the_indexed_spike_and_passes_gradient():
    spikes = torch.tensor([[[0., 1., 0.], [1., 1., 0.]]], requires_grad=True)
    index = torch.tensor([[1, 2]])
    z = pick_one_of_k(spikes, index)
    assert z.tolist() == [[1.0, 0.0]]
    z.sum().backward()
    assert spikes.grad.tolist() == [[[0., 1., 0.], [0., 0., 1.]]]


def test_indices_are_uniform_chi_square():
    k, n = 20, 200_000
    idx = TorchIndexSource(123).draw(0, n // 50, 50, k, "cpu").flatten()
    assert idx.min() >= 0 and idx.max() < k
    counts = torch.bincount(idx, minlength=k).double()
    expected = n / k
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    # 19 degrees of freedom: the 99.9 % quantile is 43.8
    assert chi2 < 43.8


def test_latent_bit_is_bernoulli_with_the_spike_rate():
    """With m of k spikes set, the picked bit is 1 with probability m/k."""
    k, m, n = 20, 7, 100_000
    spikes = torch.zeros(n, 1, k)
    spikes[:, 0, :m] = 1
    z = pick_one_of_k(spikes, TorchIndexSource(5).draw(0, n, 1, k, "cpu"))
    p = m / k
    assert abs(float(z.mean()) - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert torch.allclose(bernoulli_probability(spikes[:1]), torch.tensor([[p]]))


def test_sources_are_reproducible_and_seed_dependent():
    a = TorchIndexSource(7).draw(0, 4, 8, 20, "cpu")
    assert torch.equal(a, TorchIndexSource(7).draw(0, 4, 8, 20, "cpu"))
    assert not torch.equal(a, TorchIndexSource(8).draw(0, 4, 8, 20, "cpu"))


def test_psp_on_a_known_sequence():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0]).view(4, 1)
    # y[t] = y[t-1] + (r[t] - y[t-1]) / 2
    assert psp(r).view(-1).tolist() == [0.5, 0.25, 0.125, 0.5625]


def test_mmd_is_the_mean_squared_psp_difference():
    r_q = torch.tensor([1.0, 1.0]).view(2, 1, 1)
    r_p = torch.tensor([0.0, 1.0]).view(2, 1, 1)
    # psp(r_q) = [0.5, 0.75], psp(r_p) = [0, 0.5] -> differences 0.5, 0.25
    assert math.isclose(float(mmd_loss(r_q, r_p)), (0.25 + 0.0625) / 2)
    assert float(mmd_loss(r_q, r_q)) == 0.0


def test_mmd_weight_scales_only_the_mmd_term():
    """train.mmd_weight: loss = recon + weight x MMD; the reported recon and MMD do not move."""
    x, x_hat = torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 0.5)
    r_q = torch.tensor([1.0, 1.0]).view(2, 1, 1)
    r_p = torch.tensor([0.0, 1.0]).view(2, 1, 1)
    mmd = (0.25 + 0.0625) / 2
    for weight in (0.0, 1.0, 3.0):
        loss, recon, reg = fsvae_loss(x, x_hat, r_q, r_p, weight)
        assert math.isclose(float(recon), 0.25) and math.isclose(float(reg), mmd)
        assert math.isclose(float(loss), 0.25 + weight * mmd)


def test_mmd_gradient_pulls_prior_towards_posterior():
    r_q = torch.full((4, 2, 3), 0.8)
    r_p = torch.full((4, 2, 3), 0.2, requires_grad=True)
    mmd_loss(r_q, r_p).backward()
    assert (r_p.grad < 0).all()


def test_recipe_switches_cut_exactly_the_gradient_paths_they_name(small_cfg):
    """train.detach_teacher: the prior's output no longer reaches the encoder; without it, it
    does.  network.latent_batch_norm=false: no batch norm in the stepped latent nets."""
    from fsvae_fpga.config import with_overrides
    from fsvae_fpga.data import load_images
    from fsvae_fpga.model.fsvae import FSVAE
    x = load_images("mnist-embedded", "train", 32, limit=8).images

    def encoder_grad(detach: bool) -> float:
        torch.manual_seed(0)
        model = FSVAE(small_cfg).train()
        out = model(x, TorchIndexSource(0), detach_teacher=detach)
        out["r_p"].sum().backward()
        return sum(float(p.grad.abs().sum()) for p in model.encoder.parameters() if p.grad is not None)
    assert encoder_grad(False) > 0 and encoder_grad(True) == 0

    plain = FSVAE(with_overrides(small_cfg, **{"network.latent_batch_norm": False}))
    assert all(syn.bn is None for net in (plain.prior, plain.posterior) for syn in net.layers)
    assert any(syn.bn is not None for syn in FSVAE(small_cfg).prior.layers)


def test_batch_norm_scale_is_folded_exactly(small_cfg):
    """network.bn_scale / latent_bn_scale multiply the batch-norm output; the fold into weight
    and bias keeps the synapse's output (eval mode, running statistics) the same."""
    from fsvae_fpga.config import with_overrides
    from fsvae_fpga.model.fsvae import FSVAE
    model = FSVAE(with_overrides(small_cfg, **{"network.bn_scale": 0.2, "network.latent_bn_scale": 0.4}))
    assert model.encoder[0].bn_scale == 0.2 and model.prior.layers[0].bn_scale == 0.4
    torch.manual_seed(1)
    for syn, x in ((model.decoder[0], torch.rand(3, model.decoder[0].in_features, 2, 2).round()),
                   (model.prior.layers[0], torch.rand(3, model.prior.layers[0].in_features).round())):
        syn.bn.running_mean.uniform_(-0.5, 0.5)
        syn.bn.running_var.uniform_(0.5, 2.0)
        syn.bn.weight.data.uniform_(0.5, 1.5)
        syn.bn.bias.data.uniform_(-0.2, 0.2)
        syn.eval()
        before = syn(x)
        syn.fold_batch_norm()
        assert syn.bn is None
        torch.testing.assert_close(syn(x), before, rtol=1e-5, atol=1e-6)
    plain = FSVAE(small_cfg)
    assert plain.encoder[0].bn_scale == 1.0 and plain.prior.layers[0].bn_scale == 1.0


def test_scheduled_sampling_modes_feed_the_prior_what_they_name(small_cfg):
    """p = 1: after step t the prior's next input is its own output when t >= from ("authors")
    or t >= from - 1 ("sample", this project); before that the teacher's z_t.  "authors"
    feeds the arg-max bit (mean over k > 0.5), "sample" the one-of-k sample; p = 0 is
    teacher forcing in both."""
    from fsvae_fpga.model.fsvae import FSVAE
    torch.manual_seed(0)
    model = FSVAE(small_cfg).eval()
    T, B, C = model.T, 3, model.C

    def teacher(ones_at):             # zeros, except all-ones at the steps given
        z = torch.zeros(T, B, C)
        z[list(ones_at)] = 1.0
        return z

    def prior(z, **kw):
        return model.prior_latents(TorchIndexSource(5), B, teacher=z,
                                   mix_generator=torch.Generator().manual_seed(1), **kw)[1]

    with torch.no_grad():
        # from = 2: "authors" still reads teacher z_1, "sample" no longer does
        for mode, reads_z1 in (("authors", True), ("sample", False)):
            a, b = (prior(teacher(ones), scheduled_p=1.0, scheduled_from=2, scheduled_mode=mode)
                    for ones in ((), (1,)))
            assert torch.equal(a[:2], b[:2]) and torch.equal(a, b) != reads_z1, mode
            later = prior(teacher(range(2, T)), scheduled_p=1.0, scheduled_from=2, scheduled_mode=mode)
            assert torch.equal(later, a), mode              # steps from 2 on: never the teacher
            forced = [prior(teacher(ones), scheduled_p=0.0, scheduled_mode=mode) for ones in ((), range(T))]
            assert not torch.equal(forced[0], forced[1]), mode
        # "sample" at p = 1 from step 1 is the free-running prior (same index draws)
        assert torch.equal(prior(teacher(range(T)), scheduled_p=1.0, scheduled_from=1),
                           model.prior_latents(TorchIndexSource(5), B)[1])
        # "authors" feeds the arg-max bit, not the sample
        own = prior(teacher(range(T)), scheduled_p=1.0, scheduled_from=0, scheduled_mode="authors")
        z_in, state = torch.zeros(B, C), None
        for t in range(T):
            p, state = model.prior.step(z_in, state, None, "prior.")
            assert torch.equal(p, own[t]), t
            z_in = (p.mean(-1) > 0.5).float()
