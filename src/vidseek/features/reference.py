"""Reference pictures for score calibration: synthetic look-alikes that are nobody's copy.

A global descriptor finds two unrelated pages of text, two spreadsheets or two application windows alike: they
share layout and texture, not content.  When a collection holds one such picture and nothing else like it, a
query of another document has nothing in the collection's background sample to be measured against, and its
look-alike scores like a copy (on bench/accuracy.py every negative answered was a screen recording of a PDF
page matched to a scanned page of text).  The build embeds these pictures with the index's model and stores
them beside it (``reference.npz``); the search adds them to the background sample (:mod:`vidseek.search.scoring`),
so a document query's level is the level of documents.  An index built without them (before this file existed,
or with ``BuildConfig.reference = 0``) is searched as before; ``vidseek add`` keeps the index's model and so its
reference pictures.

Kinds: pages of text (dark on light, in one or two columns, several type sizes), terminals (light on dark),
application windows (title bar, side panel, text), tables of numbers, line charts and slides.  Seeded: every
build makes the same pictures.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

REFERENCE_COUNT = 96  # pictures (16 of each kind): about 5 s of a 2-core CPU build; 200 measured no better
_WORDS = ("the of and to in is that for it as with was on be by this are from or at an which have not data video "
          "model time frame index result table value figure section system method page user file open save").split()
Picture = np.ndarray


def _colour(rng: np.random.Generator, low: int, high: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(low, high, 3))


def _text_block(rng, size: tuple[int, int], ink, paper, columns: int) -> Image.Image:
    """Lines of words in the bitmap font, drawn small and scaled up (type sizes 12-36 px per line)."""
    w, h = size
    scale = int(rng.integers(1, 4))
    small = Image.new("RGB", (max(8, w // scale), max(8, h // scale)), paper)
    draw = ImageDraw.Draw(small)
    margin = int(rng.integers(2, 30))
    col_w = max(8, (small.width - 2 * margin) // columns)
    y = int(rng.integers(2, 16))
    while y < small.height - 12:
        for c in range(columns):
            draw.text((margin + c * col_w, y), " ".join(rng.choice(_WORDS, int(rng.integers(2, 10)))), fill=ink)
        y += 12 + int(rng.integers(0, 6))
    return small.resize((w, h), Image.Resampling.NEAREST)


def page(rng, w: int, h: int) -> Picture:
    return np.asarray(_text_block(rng, (w, h), _colour(rng, 0, 90), _colour(rng, 210, 256), int(rng.integers(1, 3))))


def terminal(rng, w: int, h: int) -> Picture:
    return np.asarray(_text_block(rng, (w, h), _colour(rng, 150, 256), _colour(rng, 0, 40), 1))


def window(rng, w: int, h: int) -> Picture:
    img = _text_block(rng, (w, h), _colour(rng, 0, 90), _colour(rng, 220, 256), 1)
    draw = ImageDraw.Draw(img)
    bar, panel = _colour(rng, 30, 200), _colour(rng, 180, 245)
    top, side = int(rng.integers(16, 48)), int(rng.integers(w // 10, w // 3))
    draw.rectangle([0, 0, w, top], fill=bar)
    draw.rectangle([0, top, side, h], fill=panel)
    for y in range(top + 8, h - 16, int(rng.integers(18, 32))):  # the panel's entries
        draw.rectangle([8, y, side - 8, y + 8], fill=_colour(rng, 90, 170))
    return np.asarray(img)


def table(rng, w: int, h: int) -> Picture:
    img = Image.new("RGB", (w, h), _colour(rng, 235, 256))
    draw = ImageDraw.Draw(img)
    rows, cols = int(rng.integers(8, 30)), int(rng.integers(3, 10))
    grid = _colour(rng, 120, 200)
    for r in range(rows + 1):
        draw.line([(0, r * h // rows), (w, r * h // rows)], fill=grid)
    for c in range(cols + 1):
        draw.line([(c * w // cols, 0), (c * w // cols, h)], fill=grid)
    for r in range(rows):
        for c in range(cols):
            draw.text((c * w // cols + 4, r * h // rows + 2), str(int(rng.integers(0, 99999))), fill=(0, 0, 0))
    return np.asarray(img)


def chart(rng, w: int, h: int) -> Picture:
    img = Image.new("RGB", (w, h), _colour(rng, 230, 256))
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = w // 10, h // 10, w - w // 20, h - h // 8
    draw.line([(x0, y0), (x0, y1), (x1, y1)], fill=(0, 0, 0), width=2)
    for _ in range(int(rng.integers(1, 4))):
        ys = np.cumsum(rng.normal(0, 1, 20))
        ys = y0 + (y1 - y0) * (ys - ys.min()) / max(1e-6, np.ptp(ys))
        pts = [(x0 + i * (x1 - x0) // 19, int(y)) for i, y in enumerate(ys)]
        draw.line(pts, fill=_colour(rng, 0, 200), width=int(rng.integers(1, 4)))
    for i in range(6):
        draw.text((2, y0 + i * (y1 - y0) // 5), str(int(rng.integers(0, 1000))), fill=(0, 0, 0))
    return np.asarray(img)


def slide(rng, w: int, h: int) -> Picture:
    img = Image.new("RGB", (w, h), _colour(rng, 0, 256))
    title = _text_block(rng, (w - w // 5, h // 8), _colour(rng, 0, 256), _colour(rng, 0, 256), 1)
    body = _text_block(rng, (w - w // 4, h // 2), _colour(rng, 0, 256), _colour(rng, 0, 256), 1)
    img.paste(title, (w // 10, h // 12))
    img.paste(body, (w // 8, h // 3))
    return np.asarray(img)


KINDS: tuple[Callable[[np.random.Generator, int, int], Picture], ...] = (page, terminal, window, table, chart, slide)


def reference_pictures(n: int = REFERENCE_COUNT, seed: int = 0) -> list[Picture]:
    """``n`` seeded pictures, the kinds in turn, 4:3, 16:9 and portrait pages."""
    rng = np.random.default_rng(seed)
    shapes = ((640, 480), (640, 360), (480, 640))
    return [KINDS[i % len(KINDS)](rng, *shapes[(i // len(KINDS)) % len(shapes)]) for i in range(n)]
