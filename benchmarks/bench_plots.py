"""x-y plots as PNG for the bench (PIL only: the project has no matplotlib, and its other
pictures, evaluation/images.py, are PIL too).

One function, ``xy_plot``: numeric axes with round tick values, one colour per series, points
joined by a line or not, a legend, written atomically like the project's other PNGs.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi]."""
    if hi <= lo:
        lo, hi = (lo - 1, hi + 1) if lo == 0 else (lo * 0.9, hi * 1.1) if lo > 0 else (lo * 1.1, hi * 0.9)
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(t, 12))
    return ticks


def _label(v: float) -> str:
    if v != 0 and (abs(v) >= 1e9 or abs(v) < 1e-3):
        return f"{v:.3g}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:g}"


def xy_plot(path: str | Path, series: list[dict], xlabel: str, ylabel: str, title: str,
            log2_x: bool = False, size: tuple[int, int] = (760, 460), y_from_zero: bool = True) -> Path:
    """series: [{"label": str, "x": [...], "y": [...], "line": bool}]; log2_x puts x on a
    base-2 scale with a tick at every value that occurs (lanes)."""
    w, h = size
    font = ImageFont.load_default(size=13)
    small = ImageFont.load_default(size=11)
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 88, w - 20, 36 + 16 * len(series), h - 58
    d.text((left, 12), title, fill="black", font=font)
    for i, s in enumerate(series):         # the legend, above the plot area
        colour = COLOURS[i % len(COLOURS)]
        d.text((right, 12 + 16 * i), s["label"], fill=colour, font=font, anchor="ra")
        x = right - d.textlength(s["label"], font=font) - 10
        d.ellipse([x - 3.5, 19 + 16 * i - 3.5, x + 3.5, 19 + 16 * i + 3.5], fill=colour)
    xs = [x for s in series for x in s["x"]]
    ys = [y for s in series for y in s["y"]]
    if not xs:
        d.text((left, top + 20), "no data", fill="black", font=font)
        return _save(img, path)
    fx = (lambda v: math.log2(v)) if log2_x else (lambda v: v)
    if log2_x:
        xticks = sorted(set(xs))
        x_lo, x_hi = fx(xticks[0]) - 0.3, fx(xticks[-1]) + 0.3
    else:
        xticks = nice_ticks(min(xs), max(xs))
        x_lo, x_hi = xticks[0], xticks[-1]
    yticks = nice_ticks(0.0 if y_from_zero and min(ys) >= 0 else min(ys), max(ys))
    y_lo, y_hi = yticks[0], yticks[-1]
    x_hi = x_hi if x_hi > x_lo else x_lo + 1
    y_hi = y_hi if y_hi > y_lo else y_lo + 1

    def px(x, y):
        return (left + (right - left) * (fx(x) - x_lo) / (x_hi - x_lo),
                bottom - (bottom - top) * (y - y_lo) / (y_hi - y_lo))

    for t in yticks:
        _, y = px(xticks[0], t)
        d.line([left, y, right, y], fill="#e6e6e6")
        d.text((left - 6, y), _label(t), fill="black", font=small, anchor="rm")
    for t in xticks:
        x, _ = px(t, y_lo)
        d.line([x, top, x, bottom], fill="#e6e6e6")
        d.text((x, bottom + 6), _label(t), fill="black", font=small, anchor="mt")
    d.rectangle([left, top, right, bottom], outline="black")
    d.text(((left + right) / 2, h - 22), xlabel, fill="black", font=font, anchor="mm")
    label_img = Image.new("RGBA", (bottom - top, 18), (255, 255, 255, 0))
    ImageDraw.Draw(label_img).text(((bottom - top) / 2, 9), ylabel, fill="black", font=font, anchor="mm")
    label_img = label_img.rotate(90, expand=True)
    img.paste(label_img, (8, top), label_img)
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        pts = [px(x, y) for x, y in sorted(zip(s["x"], s["y"]))] if s.get("line") else \
              [px(x, y) for x, y in zip(s["x"], s["y"])]
        if s.get("line") and len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        for p in pts:
            d.ellipse([p[0] - 3.5, p[1] - 3.5, p[0] + 3.5, p[1] + 3.5], fill=colour)
    return _save(img, path)


def _save(img: Image.Image, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    img.save(tmp, format="PNG")
    os.replace(tmp, path)
    return path
