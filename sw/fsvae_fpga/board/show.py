"""Image grids for the notebook: uint8 (N, C, H, W) -> a PIL image (PIL comes with PYNQ images;
imported only when called, so the driver does not need it)."""
from __future__ import annotations

import numpy as np


def grid_array(images: np.ndarray, cols: int = 8, pad: int = 2, scale: int = 3) -> np.ndarray:
    """uint8 (N, C, H, W) -> one uint8 (rows*H', cols*W'[, 3]) array, `pad` pixels between
    images, each pixel repeated `scale` times."""
    images = np.asarray(images, dtype=np.uint8)
    n, c, h, w = images.shape
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    hs, ws = h * scale, w * scale
    canvas = np.full((rows * (hs + pad) + pad, cols * (ws + pad) + pad, c), 64, dtype=np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        big = img.transpose(1, 2, 0).repeat(scale, axis=0).repeat(scale, axis=1)
        y, x = pad + r * (hs + pad), pad + k * (ws + pad)
        canvas[y:y + hs, x:x + ws] = big
    return canvas[..., 0] if c == 1 else canvas


def grid(images: np.ndarray, cols: int = 8, pad: int = 2, scale: int = 3):
    """A PIL image of the grid (display() in a notebook shows it as image/png)."""
    from PIL import Image
    return Image.fromarray(grid_array(images, cols, pad, scale))


def side_by_side(left: np.ndarray, right: np.ndarray, cols: int = 8, scale: int = 3, gap: int = 12):
    """Two grids next to each other (e.g. board and golden images), with a gap between them."""
    from PIL import Image
    a, b = grid_array(left, cols, 2, scale), grid_array(right, cols, 2, scale)
    height = max(a.shape[0], b.shape[0])
    canvas = np.full((height, a.shape[1] + gap + b.shape[1], *a.shape[2:]), 255, dtype=np.uint8)
    canvas[:a.shape[0], :a.shape[1]] = a
    canvas[:b.shape[0], a.shape[1] + gap:] = b
    return Image.fromarray(canvas)
