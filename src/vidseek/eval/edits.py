"""The edits people make to copied videos, for robustness tests and benchmarks.

Each edit maps an upright uint8 RGB image (H, W, 3) to another; ``rng`` makes random choices
reproducible.  ``EDITS`` names them; clip edits apply the same edit to every frame.
"""

from __future__ import annotations

import io
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

Edit = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _pil(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(a))


def crop20(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep 80% of each side at a random position."""
    h, w = a.shape[:2]
    ch, cw = max(1, int(h * 0.8)), max(1, int(w * 0.8))
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    return a[y : y + ch, x : x + cw].copy()


def downscale_reencode(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half size, then JPEG at quality 30 (a cheap re-encode)."""
    h, w = a.shape[:2]
    img = _pil(a).resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=30)
    return np.asarray(Image.open(buf).convert("RGB"))


def brightness_contrast(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img = ImageEnhance.Brightness(_pil(a)).enhance(rng.choice([0.7, 1.3]))
    return np.asarray(ImageEnhance.Contrast(img).enhance(rng.choice([0.7, 1.4])))


def blur(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    radius = max(1.0, max(a.shape[:2]) / 200)
    return np.asarray(_pil(a).filter(ImageFilter.GaussianBlur(radius)))


def greyscale(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(_pil(a).convert("L").convert("RGB"))


def hflip(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return a[:, ::-1].copy()


def letterbox(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Black bars above and below (a 4:3 or square frame around the picture)."""
    h, w = a.shape[:2]
    bar = max(1, int(h * 0.2))
    out = np.zeros((h + 2 * bar, w, 3), dtype=np.uint8)
    out[bar : bar + h] = a
    return out


def overlay_box(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A solid coloured box over about 8% of the picture (a logo, a caption)."""
    h, w = a.shape[:2]
    img = _pil(a).copy()
    bw, bh = max(1, int(w * 0.3)), max(1, int(h * 0.25))
    x, y = rng.integers(0, w - bw + 1), rng.integers(0, h - bh + 1)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    ImageDraw.Draw(img).rectangle([x, y, x + bw, y + bh], fill=colour)
    return np.asarray(img)


EDITS: dict[str, Edit] = {
    "crop20": crop20,
    "reencode": downscale_reencode,
    "brightness": brightness_contrast,
    "blur": blur,
    "grey": greyscale,
    "hflip": hflip,
    "letterbox": letterbox,
    "overlay": overlay_box,
}
