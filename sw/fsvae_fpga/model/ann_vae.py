"""The ANN VAE of the same shape, the paper's comparison.

Same encoder/decoder shapes as the FSVAE (conv 3x3 stride 2 + BN, channels from the
config, linear to the latent, transposed convs back, tanh output) with LeakyReLU instead
of LIF neurons and a Gaussian latent of the same width.  Loss: MSE + beta * KL with
beta = 0.00025, the weight commonly used for this architecture (PyTorch-VAE's
vanilla VAE); reconstruction decodes the posterior mean.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fsvae_fpga.evaluation.images import to_pixels

KLD_WEIGHT = 0.00025


class AnnVAE(nn.Module):
    stage = "float"
    quantized = False

    def __init__(self, cfg: dict):
        super().__init__()
        from fsvae_fpga.data import image_shape
        net = cfg["network"]
        self.cfg = cfg
        self.C = net["latent_dim"]
        self.image_shape = image_shape(cfg["data"]["dataset"], cfg["data"]["image_size"])
        img_c, size, _ = self.image_shape
        chans = list(net["encoder_channels"])
        self.hw = size // 2 ** len(chans)
        enc, c_in = [], img_c
        for c in chans:
            enc += [nn.Conv2d(c_in, c, 3, 2, 1), nn.BatchNorm2d(c), nn.LeakyReLU()]
            c_in = c
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        flat = chans[-1] * self.hw * self.hw
        self.fc_mu, self.fc_logvar = nn.Linear(flat, self.C), nn.Linear(flat, self.C)
        self.decoder_fc = nn.Linear(self.C, flat)
        dec_ch = list(reversed(chans)) + [chans[0]]
        dec = []
        for i in range(len(chans)):
            dec += [nn.ConvTranspose2d(dec_ch[i], dec_ch[i + 1], 3, 2, 1, output_padding=1),
                    nn.BatchNorm2d(dec_ch[i + 1]), nn.LeakyReLU()]
        self.decoder = nn.Sequential(*dec, nn.ConvTranspose2d(chans[0], img_c, 3, 1, 1), nn.Tanh())
        self.chans = chans

    def decode(self, z):
        h = self.decoder_fc(z).view(z.shape[0], self.chans[-1], self.hw, self.hw)
        return self.decoder(h)

    def forward(self, x, generator=None):
        h = self.encoder(x)
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        eps = torch.randn(mu.shape, generator=generator).to(mu.device)
        z = mu + eps * torch.exp(0.5 * logvar)
        return {"x_hat": self.decode(z), "mu": mu, "logvar": logvar}

    @staticmethod
    def loss(x, out):
        recon = F.mse_loss(out["x_hat"], x)
        kld = torch.mean(-0.5 * torch.sum(1 + out["logvar"] - out["mu"] ** 2 - out["logvar"].exp(), dim=1))
        return recon + KLD_WEIGHT * kld, recon, kld

    @torch.no_grad()
    def generate(self, n: int, generator=None) -> torch.Tensor:
        z = torch.randn(n, self.C, generator=generator).to(next(self.parameters()).device)
        return to_pixels(self.decode(z))

    @torch.no_grad()
    def reconstruct(self, x, generator=None) -> torch.Tensor:
        return to_pixels(self.decode(self.fc_mu(self.encoder(x))))
