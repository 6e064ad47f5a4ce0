"""The Fully Spiking VAE (Kamata et al., AAAI 2022) with fixed-point, hardware-exact eval mode.

Tensors are time-major, (T, B, ...): folding time into the batch turns every synapse into
one big conv/linear call, and the LIF then loops over T on contiguous slices.

Modules (paper shapes for the MNIST configuration, C = 128, k = 20, T = 16):

* encoder: 4 x (conv 3x3 stride 2 + BN + LIF), 32-64-128-256 channels, then linear to C
  + BN + LIF.  The image is the same at every step, so the first conv runs once.
* posterior q(z_t | x_<=t, z_<t): linear LIF layers 2C -> 2C -> 4C -> kC on [x_t, z_{t-1}].
* prior p(z_t | z_<t): linear LIF layers C -> 2C -> 4C -> kC on z_{t-1}.
  Both are stepped once per time step with carried membranes (O(T)).  Batch norm in these
  stepped networks normalises over the batch of the current step during training (running
  statistics average over steps); it is folded into weights and bias before quantization,
  so the fixed-point model and the hardware have no batch norm at all.
* latent: one of the k spikes per channel, chosen by an index source (see latent.py).
* decoder: linear C -> 256x2x2 + BN + LIF, 4 transposed convs (stride 2, output padding 1)
  + BN + LIF, then a transposed conv to the image channels whose currents are not spiked
  but summed over time with decay 0.8 (membrane output) and passed through tanh.

Fixed point (stage ``quant``): see quant.py and lif.py.  The membrane output sums integer
currents with integer coefficients ``round(0.8^(T-1-t) * 2^D)`` and maps the sum to 8-bit
pixels with a threshold table (``pixel = #{p : m >= t_p}``), so output pixels are exact.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn

from fsvae_fpga.model.latent import IndexSource, bernoulli_probability, pick_one_of_k
from fsvae_fpga.model.lif import lif_sequence, lif_step
from fsvae_fpga.model.quant import Synapse, quantize_input_image

OUTPUT_DECAY = 0.8
STAGES = ("float", "quant")


class LatentNet(nn.Module):
    """Three stepped linear LIF layers producing k spikes per latent channel (posterior/prior)."""

    def __init__(self, in_features: int, latent_dim: int, k: int, synapse_args: dict, batch_norm: bool = True):
        super().__init__()
        self.latent_dim, self.k = latent_dim, k
        widths = [in_features, 2 * latent_dim, 4 * latent_dim, k * latent_dim]
        self.layers = nn.ModuleList(
            Synapse("linear", widths[i], widths[i + 1], batch_norm=batch_norm and i < 2, **synapse_args)
            for i in range(3))
        self.hidden_spikes: list = [None, None]

    def step(self, inputs: torch.Tensor, state, trace=None, prefix=""):
        """One time step: inputs (B, F) -> spikes (B, C, k), new state."""
        new_state, h = [], inputs
        for i, syn in enumerate(self.layers):
            u_prev, o_prev = state[i] if state is not None else (None, None)
            current = syn(h)
            h, u = lif_step(current, u_prev, o_prev, syn.membrane_scale(), syn.threshold_rule, syn.surrogate_centre)
            new_state.append((u, h))
            if i < 2:       # the hidden layers' spikes: the next layer's events in hardware
                self.hidden_spikes[i] = h
            if trace is not None:
                trace.setdefault(f"{prefix}{i}", []).append((inputs if i == 0 else new_state[i - 1][1], current, u, h))
        return h.view(h.shape[0], self.latent_dim, self.k), new_state


class FSVAE(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        from fsvae_fpga.data import image_shape
        net, q = cfg["network"], cfg["quant"]
        self.cfg = cfg
        self.T, self.C, self.k = net["time_steps"], net["latent_dim"], net["k"]
        self.image_shape = image_shape(cfg["data"]["dataset"], cfg["data"]["image_size"])
        img_c, size, _ = self.image_shape
        chans = list(net["encoder_channels"])
        self.hw = size // 2 ** len(chans)
        self.input_bits, self.decay_bits = q["input_bits"], q["output_decay_bits"]
        sargs = dict(weight_bits=q["weight_bits"], bias_bits=q["bias_bits"], threshold_rule=q["threshold"],
                     surrogate_centre=0.0 if net.get("surrogate_centre", "threshold") == "zero" else None)
        lsargs = {**sargs, "bn_scale": net.get("latent_bn_scale", 1.0)}        # the stepped latent nets
        sargs["bn_scale"] = net.get("bn_scale", 1.0)
        conv = dict(kernel_size=3, stride=2, padding=1)

        self.encoder = nn.ModuleList()
        c_in = img_c
        for i, c in enumerate(chans):
            input_scale = 2.0 ** -(self.input_bits - 1) if i == 0 else 1.0
            self.encoder.append(Synapse("conv", c_in, c, batch_norm=True, input_scale=input_scale, **conv, **sargs))
            c_in = c
        self.encoder_fc = Synapse("linear", chans[-1] * self.hw * self.hw, self.C, batch_norm=True, **sargs)
        latent_bn = net.get("latent_batch_norm", True)
        self.posterior = LatentNet(2 * self.C, self.C, self.k, lsargs, batch_norm=latent_bn)
        self.prior = LatentNet(self.C, self.C, self.k, lsargs, batch_norm=latent_bn)
        self.decoder_fc = Synapse("linear", self.C, chans[-1] * self.hw * self.hw, batch_norm=True, **sargs)
        dec = list(reversed(chans)) + [chans[0]]
        self.decoder = nn.ModuleList(
            Synapse("convT", dec[i], dec[i + 1], batch_norm=True, output_padding=1, **conv, **sargs)
            for i in range(len(chans)))
        self.output = Synapse("convT", chans[0], img_c, batch_norm=False, kernel_size=3, stride=1,
                              padding=1, **sargs)
        self.stage = "float"
        self._trace = None
        # the decoder layers' mean spike rates of the last decode_currents, differentiable
        # (training's spike-rate penalty: fewer spikes, fewer events for the hardware)
        self.spike_rates: dict[str, torch.Tensor] = {}

    # --- stages ----------------------------------------------------------------------
    def synapses(self) -> list[tuple[str, Synapse]]:
        return [(n, m) for n, m in self.named_modules() if isinstance(m, Synapse)]

    def to_fixed_point(self) -> "FSVAE":
        """Fold every batch norm into its synapse and quantize (float -> quant stage)."""
        for _, syn in self.synapses():
            syn.fold_batch_norm()
            syn.set_quantized(True)
        self.stage = "quant"
        return self

    def set_stage(self, stage: str) -> "FSVAE":
        """Rebuild the structure of a stage (used before loading a checkpoint of that stage)."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        if stage == "quant" and self.stage == "float":
            for _, syn in self.synapses():
                syn.bn = None
                syn.set_quantized(True)
            self.stage = "quant"
        elif stage == "float" and self.stage == "quant":
            raise ValueError("a fixed-point model cannot go back to float stage")
        return self

    @property
    def quantized(self) -> bool:
        return self.stage == "quant"

    # --- output layer constants ------------------------------------------------------
    def decay_coefficients(self) -> torch.Tensor:
        """Membrane-output weights per step: 0.8^(T-1-t), rounded to D bits when quantized."""
        c = OUTPUT_DECAY ** torch.arange(self.T - 1, -1, -1, dtype=torch.float64)
        if self.quantized:
            c = torch.round(c * 2 ** self.decay_bits) / 2 ** self.decay_bits
        return c

    def decay_coefficients_int(self) -> np.ndarray:
        c = OUTPUT_DECAY ** np.arange(self.T - 1, -1, -1, dtype=np.float64)
        return np.round(c * 2 ** self.decay_bits).astype(np.int64)

    def pixel_thresholds(self) -> np.ndarray:
        """t_p (p = 1..255): pixel = #{p : m >= t_p} for the integer membrane sum m.

        Defined as the integer form of round((tanh(m * s * 2^-D) + 1) * 127.5): the smallest
        m whose value reaches p - 0.5.  Computed in float64 once; it IS the pixel table.
        """
        unit = self.output.membrane_scale() * 2.0 ** -self.decay_bits
        p = np.arange(1, 256, dtype=np.float64)
        v = np.arctanh((p - 0.5) / 127.5 - 1.0)
        return np.ceil(v / unit).astype(np.int64)

    # --- building blocks -------------------------------------------------------------
    def _spiking(self, name: str, syn: Synapse, x: torch.Tensor) -> torch.Tensor:
        T, B = x.shape[:2]
        current = syn(x.reshape(T * B, *x.shape[2:]))
        current = current.view(T, B, *current.shape[1:])
        spikes = lif_sequence(current, syn.membrane_scale(), syn.threshold_rule, syn.surrogate_centre)
        self._record(name, x, current, spikes)
        return spikes

    def _record(self, name, x, current, spikes):
        if self._trace is not None:
            self._trace[name] = (x.detach(), current.detach(), None if spikes is None else spikes.detach())

    @contextlib.contextmanager
    def frozen_weights(self):
        """Quantize every synapse once for a whole pass (see Synapse.freeze)."""
        for _, syn in self.synapses():
            syn.freeze()
        try:
            yield
        finally:
            for _, syn in self.synapses():
                syn.unfreeze()

    @contextlib.contextmanager
    def tracing(self):
        """Collect per-layer (input, current, spikes) tensors while the block runs."""
        self._trace = {}
        try:
            yield self._trace
        finally:
            self._trace = None

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [-1, 1] -> encoder spikes (T, B, latent)."""
        if self.quantized:
            x = quantize_input_image(x, self.input_bits)
        first = self.encoder[0]
        current = first(x)           # the image does not change over time: compute once
        current = current.unsqueeze(0).expand(self.T, *current.shape)
        h = lif_sequence(current, first.membrane_scale(), first.threshold_rule, first.surrogate_centre)
        self._record("encoder.0", x.unsqueeze(0), current, h)
        for i, syn in enumerate(self.encoder[1:], start=1):
            h = self._spiking(f"encoder.{i}", syn, h)
        return self._spiking("encoder_fc", self.encoder_fc, h.flatten(2))

    def decode_currents(self, z: torch.Tensor) -> torch.Tensor:
        """Latent spikes (T, B, C) -> output-layer currents (T, B, img_c, H, W)."""
        T, B = z.shape[:2]
        h = self._spiking("decoder_fc", self.decoder_fc, z)
        self.spike_rates = {"decoder_fc": h.mean()}
        h = h.view(T, B, -1, self.hw, self.hw)
        for i, syn in enumerate(self.decoder):
            h = self._spiking(f"decoder.{i}", syn, h)
            self.spike_rates[f"decoder.{i}"] = h.mean()
        current = self.output(h.reshape(T * B, *h.shape[2:]))
        current = current.view(T, B, *current.shape[1:])
        self._record("output", h, current, None)
        return current

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent spikes (T, B, C) -> images in [-1, 1] (differentiable; the training loss's
        x_hat; pixels come from ``output_pixels``)."""
        return self.membrane_output(self.decode_currents(z))

    def membrane_output(self, current: torch.Tensor) -> torch.Tensor:
        """Decayed sum over time, then tanh: images in [-1, 1] (differentiable)."""
        c = self.decay_coefficients().to(current.dtype).to(current.device)
        m = torch.einsum("t,t...->...", c, current)
        return torch.tanh(m)

    @torch.no_grad()
    def output_pixels(self, current: torch.Tensor) -> torch.Tensor:
        """uint8 pixels (B, C, H, W); exact integer arithmetic in the fixed-point stage."""
        if not self.quantized:
            y = self.membrane_output(current.double())
            return torch.clamp(torch.round((y + 1.0) * 127.5), 0, 255).to(torch.uint8)
        s = self.output.membrane_scale()
        current_int = torch.round(current.double() / s).to(torch.int64)
        coef = torch.from_numpy(self.decay_coefficients_int()).to(current.device)
        m = torch.einsum("t,t...->...", coef, current_int)
        thresholds = torch.from_numpy(self.pixel_thresholds()).to(current.device)
        return torch.bucketize(m, thresholds, right=True).to(torch.uint8)

    # --- the stepped latent networks --------------------------------------------------
    def posterior_latents(self, enc: torch.Tensor, source: IndexSource, detach_history: bool = False):
        """Stepped posterior: encoder spikes (T, B, C) -> (z (T, B, C), q spikes (T, B, C, k));
        ``detach_history``: no gradient through the fed-back z_{t-1}."""
        T, B, C = enc.shape
        z_prev = enc.new_zeros(B, C)
        state, zs, qs = None, [], []
        trace = {} if self._trace is not None else None
        for t in range(T):
            history = z_prev.detach() if detach_history else z_prev
            q, state = self.posterior.step(torch.cat([enc[t], history], dim=1), state, trace, "posterior.")
            z_prev = pick_one_of_k(q, source.draw(t, B, C, self.k, q.device))
            zs.append(z_prev)
            qs.append(q)
        self._record_stepped(trace)
        return torch.stack(zs), torch.stack(qs)

    def prior_latents(self, source: IndexSource, batch: int, teacher: torch.Tensor | None = None,
                      scheduled_p: float = 0.0, scheduled_from: int = 0, mix_generator=None,
                      scheduled_mode: str = "sample"):
        """Stepped prior.  Generation: feeds its own samples back.  Training: teacher forcing
        with the posterior's z (T, B, C), replaced with probability ``scheduled_p`` by the
        prior's own output (scheduled sampling).  ``scheduled_mode`` "sample" (this project):
        one coin per image, the prior's one-of-k sample with its gradient, from step
        ``scheduled_from`` - 1 on; "authors" (their code, recipe ablation H): one coin per
        step for the whole batch, the prior's arg-max bit (mean over k > 0.5) without
        gradient, from step ``scheduled_from`` on."""
        device = next(self.parameters()).device
        z_in = torch.zeros(batch, self.C, device=device)
        state, zs, ps, rate_sums = None, [], [], [0.0, 0.0]
        trace = {} if self._trace is not None else None
        for t in range(self.T):
            p, state = self.prior.step(z_in, state, trace, "prior.")
            rate_sums = [r + h.mean() for r, h in zip(rate_sums, self.prior.hidden_spikes)]
            z = pick_one_of_k(p, source.draw(t, batch, self.C, self.k, p.device))
            zs.append(z)
            ps.append(p)
            if teacher is None:
                z_in = z
            elif scheduled_mode == "authors" and scheduled_p > 0 and t >= scheduled_from:
                own = bool(torch.rand(1, generator=mix_generator) < scheduled_p)
                z_in = (p.detach().mean(-1) > 0.5).to(p.dtype) if own else teacher[t]
            elif scheduled_mode == "sample" and scheduled_p > 0 and t + 1 >= scheduled_from:
                own = torch.rand(batch, 1, generator=mix_generator).to(device) < scheduled_p
                z_in = torch.where(own, z, teacher[t])
            else:
                z_in = teacher[t]
        self._record_stepped(trace)
        # mean spike rates of prior.0 and prior.1 over this pass (with their gradient): the
        # events of prior.1 and prior.2, the latent loop's work in hardware
        self.prior_hidden_rates = {f"prior.{i}": r / self.T for i, r in enumerate(rate_sums)}
        return torch.stack(zs), torch.stack(ps)

    def _record_stepped(self, trace):
        if trace is None:
            return
        for name, steps in trace.items():
            x, cur, u, o = (torch.stack([s[j] for s in steps]).detach() for j in range(4))
            self._trace[name] = (x, cur, o)

    # --- whole passes -------------------------------------------------------------------
    def forward(self, x: torch.Tensor, source: IndexSource, scheduled_p: float = 0.0,
                scheduled_from: int = 0, mix_generator=None, detach_teacher: bool = False,
                detach_history: bool = False, scheduled_mode: str = "sample") -> dict:
        """Training pass: reconstruction plus posterior/prior Bernoulli probabilities.
        ``detach_teacher``: the prior is taught with the posterior's z without a gradient
        into the posterior (as the authors' code does); ``detach_history``: see posterior_latents."""
        with self.frozen_weights():
            return self._forward(x, source, scheduled_p, scheduled_from, mix_generator, detach_teacher,
                                 detach_history, scheduled_mode)

    def _forward(self, x, source, scheduled_p, scheduled_from, mix_generator, detach_teacher, detach_history,
                 scheduled_mode="sample"):
        enc = self.encode(x)
        z, q = self.posterior_latents(enc, source, detach_history)
        teacher = z.detach() if detach_teacher else z
        _, p = self.prior_latents(source, x.shape[0], teacher=teacher, scheduled_p=scheduled_p,
                                  scheduled_from=scheduled_from, mix_generator=mix_generator,
                                  scheduled_mode=scheduled_mode)
        x_hat = self.decode(z)
        return {"x_hat": x_hat, "r_q": bernoulli_probability(q), "r_p": bernoulli_probability(p), "z": z,
                "spike_rates": self.spike_rates}

    def decoder_modules(self) -> list[nn.Module]:
        """What the decoder stage of training trains (the rest stays frozen)."""
        return [self.decoder_fc, self.decoder, self.output]

    @torch.no_grad()
    def generate(self, n: int, source: IndexSource) -> torch.Tensor:
        """n images sampled from the prior, as uint8 pixels (n, C, H, W)."""
        with self.frozen_weights():
            z, _ = self.prior_latents(source, n)
            return self.output_pixels(self.decode_currents(z))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, source: IndexSource) -> torch.Tensor:
        """Images in [-1, 1] -> reconstructions as uint8 pixels."""
        with self.frozen_weights():
            z, _ = self.posterior_latents(self.encode(x), source)
            return self.output_pixels(self.decode_currents(z))


def pixels_to_unit(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> [-1, 1], the inverse of the output mapping."""
    return pixels.float() / 127.5 - 1.0


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def weight_bytes(model: FSVAE) -> int:
    return sum(math.ceil(m.layer.weight.numel() * m.weight_bits / 8) for _, m in model.synapses())
