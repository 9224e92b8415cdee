"""Put PQ in the search path: distractor key frames added to a loaded index, and other code sizes.

A small test collection has fewer key frames than the re-ranking depth, so its search is exact. Distractors
are added in memory only (the index on disk is not touched), encoded with the index's codebooks and grouped
into fake videos (``distractor://N``):

- :func:`picture_vectors`: real pictures (still images that are in no indexed video) seen as a camera would
  film them: random crops (30-100% of a side), zoom, mirror, brightness; each picture is one fake video, its
  views its key frames.  Real, specific vectors: the case a large collection is made of.
- :func:`synthetic_vectors`: blends of 2-3 of the index's own vectors plus noise.  They sit near the centre
  of the data and are close to many queries at once (hubs by construction), a harsher case than real frames;
  ``bench/accuracy.py --synthetic N`` adds them to show what they do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from ..quantize.pq import PQConfig, ProductQuantizer
from ..search.engines import FlatEngine


def picture_views(path: str | Path, n: int, rng: np.random.Generator, side: int = 384) -> list[np.ndarray]:
    """``n`` camera-like views of one picture: crop, zoom, mirror and brightness drawn at random."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    out = []
    for _ in range(n):
        f = rng.uniform(0.3, 1.0)
        cw, ch = max(16, int(w * f)), max(16, int(h * min(1.0, f * rng.uniform(0.6, 1.2))))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        view = img.crop((x, y, x + cw, y + ch))
        view.thumbnail((side, side), Image.Resampling.BILINEAR)
        view = ImageEnhance.Brightness(view).enhance(rng.uniform(0.7, 1.3))
        a = np.asarray(view)
        out.append(np.ascontiguousarray(a[:, ::-1]) if rng.random() < 0.5 else a)
    return out


def picture_vectors(index, pictures: list[Path], per_picture: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """(vectors, per_picture): ``per_picture`` views of every picture, embedded with the index's model."""
    rng = np.random.default_rng(seed)
    views = [v for p in pictures for v in picture_views(p, per_picture, rng)]
    return index.model.embed(views), per_picture


def synthetic_vectors(real: np.ndarray, n: int, seed: int = 0, noise: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    real = np.asarray(real, dtype=np.float32)
    d = real.shape[1]
    parts = rng.integers(0, len(real), (n, 3))
    weights = rng.dirichlet([1.0, 1.0, 1.0], n).astype(np.float32)
    x = np.einsum("nk,nkd->nd", weights, real[parts])
    x += noise * rng.standard_normal((n, d), dtype=np.float32) / np.sqrt(d)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def add_distractors(index, vectors: np.ndarray, per_video: int = 20) -> None:
    """Append ``vectors`` to ``index`` (a :class:`vidseek.search.Index`) as key frames of fake videos."""
    n = len(vectors)
    first_vid = int(max(index.video_paths, default=0)) + 1
    vids = first_vid + np.arange(n) // per_video
    for v in np.unique(vids).tolist():
        index.table.add_video(v, f"distractor://{v}", float(per_video), 1.0)
    index.add_rows(vectors, vids, (np.arange(n) % per_video).astype(np.float64), np.arange(n) % per_video)


def requantise(index, m: int, train_rows: int | None = None, seed: int = 1234) -> None:
    """Retrain the index's PQ with ``m`` sub-vectors on its real key frames and re-encode every code (an index
    searched exhaustively: the codes replace the engine's)."""
    rows = index.table.live_rows()
    vectors = index.table.vectors(rows).astype(np.float32)
    real = vectors[: train_rows or len(vectors)]
    pq = ProductQuantizer(index.pq.d, PQConfig(m=m, seed=seed)).train(real, threads=1)
    index.pq = pq
    index.engine = FlatEngine(pq, [(rows, None, pq.encode(vectors))])
