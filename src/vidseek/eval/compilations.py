"""Videos made of edited excerpts of other videos at known offsets, for evaluating `vidseek dups`.

A compilation is a lead (an excerpt of one video) followed by a body (an excerpt of another), each with its own
edits (vidseek.eval.edits, the same edit on every frame), fitted into the compilation's 384x216 frame as a video
editor does (its aspect kept, black bars on the sides or above and below) and re-encoded at 10 frames/s.  Its
truth: which part of the compilation is which part of which source.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .edits import EDITS
from .queries import grab_frames, write_clip

FPS = 10


@dataclass(frozen=True)
class Shared:
    """One truth segment: ``start``..``start + length`` s of the compilation is ``source_start``.. of ``source``."""

    compilation: str
    source: str
    start: float
    source_start: float
    length: float
    edits: tuple[str, ...]


def duration(path: Path) -> float:
    from ..video import VideoReader

    with VideoReader(path) as r:
        return float(r.info.duration or 0.0)


def excerpt(path: Path, start: float, length: float, edits: tuple[str, ...], rng: np.random.Generator,
            size: tuple[int, int]) -> list[np.ndarray]:
    frames = [img for _, img in grab_frames(path, [start + i / FPS for i in range(int(length * FPS))], max_side=400)]
    seeds = rng.integers(0, 2**31, len(edits))
    out = []
    for img in frames:
        for name, seed in zip(edits, seeds):  # the same random choices on every frame of the excerpt
            img = EDITS[name](img, np.random.default_rng(int(seed)))
        out.append(fit(img, size))
    return out


def fit(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``img`` scaled to fit a black ``size`` (width, height) frame, its aspect kept, centred."""
    w, h = size
    scale = min(w / img.shape[1], h / img.shape[0])
    iw, ih = max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))
    frame = np.zeros((h, w, 3), np.uint8)
    y, x = (h - ih) // 2, (w - iw) // 2
    frame[y : y + ih, x : x + iw] = np.asarray(Image.fromarray(np.ascontiguousarray(img)).convert("RGB").resize((iw, ih)))
    return frame


def make_compilations(sources: list[Path], out: Path, count: int, seed: int = 0) -> list[Shared]:
    """``count`` compilations in ``out`` from ``sources`` (each at least 12 s long); returns their truth."""
    rng = np.random.default_rng(seed)
    lengths = {p: duration(p) for p in sources}
    usable = [p for p in sources if lengths[p] >= 12]
    truth: list[Shared] = []
    out.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        lead_src, body_src = (usable[j] for j in rng.choice(len(usable), 2, replace=False))
        lead_len, body_len = round(float(rng.uniform(3, 6)), 1), round(float(rng.uniform(4, 8)), 1)
        parts = []
        name = out / f"compilation-{i:02d}.mp4"
        t = 0.0
        for src, length in ((lead_src, lead_len), (body_src, body_len)):
            start = float(rng.uniform(0.5, lengths[src] - length - 0.5))
            edits = tuple(rng.choice(list(EDITS), int(rng.integers(1, 3)), replace=False).tolist())
            parts += excerpt(src, start, length, edits, rng, (384, 216))
            truth.append(Shared(str(name), str(src), t, start, length, edits))
            t += length
        write_clip(parts, FPS, name)
    return truth
