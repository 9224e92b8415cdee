"""Scores that mean the same for every query: similarity above the query's own background level.

A raw cosine similarity is not comparable across queries: a dark or low-texture query is close to many
unrelated dark frames (hubs), a busy one to nothing.  As the descriptor-track winners of VSC22 did, each query
vector is compared with a background set: a fixed random sample of the collection's key frames (at most
``sample`` of them).  Its background level ``mu`` is the mean similarity of its ``tail`` closest background key
frames, leaving out those of its ``skip_videos`` closest videos (which may be the source and its copies).  The
score of a key frame is ``(s - L) / (1 - L)`` with ``L`` the mean of ``mu`` and the key frame's own level (found
the same way, against the same background): 1 for an identical picture, 0 for one no closer than the nearest
unrelated frames of either side, negative below.  The key frame's side marks hubs down: a dark or empty frame
close to many others has a high level.  Each query variant (mirror image, content region) is
normalised by its own level, and a key frame keeps its best variant.

The background also holds the index's reference pictures (:mod:`vidseek.features.reference`, each a video of
its own): synthetic pages, windows, tables and charts.  A collection with one document in it has nothing else
to measure a document query against, and an unrelated page would score like a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the default minimum score of a shown result (chosen on bench/accuracy.py; see bench/README.md)
DEFAULT_MIN_SCORE = 0.55


@dataclass(frozen=True)
class ScoreConfig:
    normalise: bool = True
    sample: int = 4096  # background key frames (a seeded random sample of the collection)
    tail: int = 20  # closest background key frames averaged into the level
    skip_videos: int = 3  # the query's closest videos are left out of its background
    seed: int = 0


class Background:
    """The background sample of one collection: vectors and their video ids."""

    def __init__(self, vectors: np.ndarray, videos: np.ndarray, config: ScoreConfig = ScoreConfig(),
                 reference: np.ndarray | None = None):
        self.config = config
        n = len(vectors)
        rows = np.arange(n)
        if n > config.sample:
            rows = np.sort(np.random.default_rng(config.seed).choice(n, config.sample, replace=False))
        self.vectors = np.asarray(vectors[rows], dtype=np.float32)
        self.videos = np.asarray(videos[rows])
        if reference is not None and len(reference):  # each reference picture is a video of its own (ids < 0)
            self.vectors = np.concatenate([self.vectors, np.asarray(reference, np.float32)])
            self.videos = np.concatenate([self.videos, -2 - np.arange(len(reference), dtype=self.videos.dtype)])

    def levels(self, qvecs: np.ndarray) -> np.ndarray:
        """Background level of each query vector (rows of ``qvecs``): all of them in a few array operations over
        the closest few hundred background frames of each; a vector whose closest frames hold fewer than
        ``skip_videos`` videos or ``tail`` frames of others falls back to a full sort (:meth:`_level`)."""
        if not self.config.normalise or len(self.vectors) == 0:
            return np.zeros(len(qvecs), dtype=np.float32)
        sims = np.asarray(qvecs, dtype=np.float32) @ self.vectors.T  # (V, ns)
        out = np.zeros(len(sims), dtype=np.float32)
        head = min(sims.shape[1], 16 * (self.config.skip_videos + self.config.tail))
        done = np.zeros(len(sims), dtype=bool)
        if head < sims.shape[1]:
            done = self._head_levels(sims, head, out)
        for v in np.flatnonzero(~done):
            out[v] = self._level(sims[v])
        return np.minimum(out, 0.99)

    def _head_levels(self, sims: np.ndarray, head: int, out: np.ndarray) -> np.ndarray:
        """Levels from each row's ``head`` closest frames, into ``out``; which rows they were enough for.  The
        same frames in the same order as :meth:`_level_of` takes them, so the same values to the bit."""
        top = np.argpartition(-sims, head - 1, axis=1)[:, :head]
        vals = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        top, vals = np.take_along_axis(top, order, axis=1), np.take_along_axis(vals, order, axis=1)
        videos = self.videos[top]  # (V, head), closest first
        others = np.ones(videos.shape, dtype=bool)
        enough = np.ones(len(videos), dtype=bool)
        for _ in range(self.config.skip_videos):  # leave out the closest video still in, then the next
            first = np.argmax(others, axis=1)
            enough &= others[np.arange(len(videos)), first]
            others &= videos != videos[np.arange(len(videos)), first][:, None]
        kept = np.cumsum(others, axis=1) <= self.config.tail
        enough &= others.sum(axis=1) >= self.config.tail
        pick = others & kept
        for v in np.flatnonzero(enough):
            out[v] = float(vals[v][pick[v]].mean())
        return enough

    def _level(self, s: np.ndarray) -> float:
        # the closest few hundred are enough when they hold skip_videos videos and tail frames of others; a
        # full sort otherwise (same result: only the order of the top matters)
        head = min(len(s), 16 * (self.config.skip_videos + self.config.tail))
        if head < len(s):
            top = np.argpartition(-s, head - 1)[:head]
            level = self._level_of(s, top[np.argsort(-s[top], kind="stable")], complete=False)
            if level is not None:
                return level
        return self._level_of(s, np.argsort(-s, kind="stable"), complete=True)

    def _level_of(self, s: np.ndarray, order: np.ndarray, complete: bool) -> float | None:
        videos = self.videos[order]
        _, first = np.unique(videos, return_index=True)
        closest = videos[np.sort(first)][: self.config.skip_videos]
        rest = s[order][~np.isin(videos, closest)]
        if not complete and (len(closest) < self.config.skip_videos or len(rest) < self.config.tail):
            return None
        if len(rest) == 0:  # everything is in the closest videos (a tiny collection): no level to compare to
            rest = s[order][len(s) // 2 :]
        return float(rest[: self.config.tail].mean())


    def key_frame_levels(self, vectors: np.ndarray, videos: np.ndarray) -> np.ndarray:
        """The background level of indexed key frames: the mean similarity of their ``tail`` closest background
        frames of other videos, after the ``skip_videos`` closest frames (a hub, close to many frames, has a high
        level).  Found on demand for the candidates of a query and kept (see :class:`vidseek.search.Index`)."""
        if not self.config.normalise or len(self.vectors) == 0:
            return np.zeros(len(vectors), dtype=np.float32)
        sims = np.asarray(vectors, dtype=np.float32) @ self.vectors.T  # (n, ns)
        sims[videos[:, None] == self.videos[None, :]] = -np.inf
        k = min(self.config.skip_videos + self.config.tail, sims.shape[1])
        top = -np.sort(-np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:], axis=1)
        tail = top[:, self.config.skip_videos :] if k > self.config.skip_videos else top
        tail = np.where(np.isfinite(tail), tail, np.nan)
        out = np.nan_to_num(np.nanmean(tail, axis=1), nan=0.0) if tail.size else np.zeros(len(vectors))
        return np.minimum(out, 0.99).astype(np.float32)


def normalise(raw: np.ndarray, query_levels: np.ndarray, row_levels: np.ndarray | None = None) -> np.ndarray:
    """(rows, V) raw similarities -> each row's best normalised score.  The level a similarity is measured
    from is the query variant's (V levels) or, given ``row_levels``, the mean of the query's and the key
    frame's (the cross-domain similarity local scaling of Conneau et al. 2018: hubs are marked down too)."""
    lev = query_levels[None, :] if row_levels is None else (query_levels[None, :] + row_levels[:, None]) / 2
    return ((raw - lev) / (1.0 - lev)).max(axis=1)
