from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]      # import paths: the root conftest.py
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def small_cfg():
    from fsvae_fpga.config import load_config
    return load_config(ROOT / "configs" / "small.yaml")


@pytest.fixture(scope="session")
def trained_small_model(small_cfg):
    """A small FSVAE trained for a few steps, BN folded and quantized (realistic activity)."""
    from fsvae_fpga.data import load_images
    from fsvae_fpga.model.fsvae import FSVAE
    from fsvae_fpga.model.latent import TorchIndexSource
    from fsvae_fpga.model.losses import fsvae_loss
    torch.manual_seed(0)
    model = FSVAE(small_cfg)
    x = load_images("mnist-embedded", "train", 32, limit=64).images
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    source = TorchIndexSource(0)
    for stage in ("float", "quant"):
        if stage == "quant":
            model.eval()
            model.to_fixed_point()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        model.train()
        for _ in range(3):
            out = model(x, source, 0.2, 2)
            loss = fsvae_loss(x, out["x_hat"], out["r_q"], out["r_p"])[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()
