"""Pictures people look at: image grids and loss curves as PNG (PIL only)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 pixels (same rounding as the model's output layer)."""
    return torch.clamp(torch.round((x.double() + 1.0) * 127.5), 0, 255).to(torch.uint8)


def grid(pixels: torch.Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, C, H, W) uint8 -> one (H', W', C) uint8 mosaic with a dark border."""
    n, c, h, w = pixels.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), 40, dtype=np.uint8)
    arr = pixels.cpu().numpy().transpose(0, 2, 3, 1)
    for i in range(n):
        r, col = divmod(i, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = arr[i]
    return out


def _atomic_write_png(img: Image.Image, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    img.save(tmp, format="PNG")
    os.replace(tmp, path)


def save_grid(pixels: torch.Tensor, path, nrow: int | None = None, scale: int = 2) -> None:
    mosaic = grid(pixels, nrow)
    img = Image.fromarray(mosaic[..., 0] if mosaic.shape[2] == 1 else mosaic)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    _atomic_write_png(img, path)


def save_pairs(inputs: torch.Tensor, outputs: torch.Tensor, path, per_row: int = 8) -> None:
    """Rows of inputs, each followed by a row of their reconstructions."""
    n = inputs.shape[0]
    chunks = []
    for start in range(0, n, per_row):
        a, b = inputs[start:start + per_row], outputs[start:start + per_row]
        if a.shape[0] < per_row:  # pad the last row so the mosaic stays rectangular
            fill = torch.zeros(per_row - a.shape[0], *a.shape[1:], dtype=a.dtype)
            a, b = torch.cat([a, fill]), torch.cat([b, fill])
        chunks += [a, b]
    save_grid(torch.cat(chunks), path, nrow=per_row)


def save_curves(history: list[dict], keys: list[str], path, size=(640, 360)) -> None:
    """A simple line plot of per-epoch metrics (no matplotlib needed)."""
    w, h = size
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 50, w - 10, 10, h - 30
    d.rectangle([left, top, right, bottom], outline="black")
    series = {k: [e[k] for e in history if k in e and e[k] is not None] for k in keys}
    values = [v for s in series.values() for v in s]
    if not values:
        _atomic_write_png(img, path)
        return
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1e-9
    n = max(len(s) for s in series.values())
    colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"]
    for i, (k, s) in enumerate(series.items()):
        pts = [(left + (right - left) * (j / max(1, n - 1)), bottom - (bottom - top) * (v - lo) / (hi - lo))
               for j, v in enumerate(s)]
        if len(pts) > 1:
            d.line(pts, fill=colors[i % len(colors)], width=2)
        for p in pts:
            d.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], fill=colors[i % len(colors)])
        d.text((left + 8, top + 6 + 14 * i), k, fill=colors[i % len(colors)])
    d.text((4, top), f"{hi:.4g}", fill="black")
    d.text((4, bottom - 10), f"{lo:.4g}", fill="black")
    d.text(((left + right) // 2 - 20, bottom + 8), f"epoch (1..{n})", fill="black")
    _atomic_write_png(img, path)
