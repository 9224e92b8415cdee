"""Synthetic videos for scale benchmarks: key-frame vectors drawn like real ones, many times over.

A large collection is made of videos unrelated to the query, each a run of key frames that resemble each other.
:class:`VideoModel` is fitted on the real key frames of an index (whitened PWA vectors, l2-normalised, and the
video of each): a Gaussian whose covariance is split into a between-video part (where a video's key frames are
centred) and a within-video part (how they spread around that centre).  A synthetic video draws its centre from
the first and walks through the second along its key frames (an AR(1) process, so neighbouring key frames are as
alike as real neighbouring key frames are, and far-apart ones less).  Unlike blends of real vectors
(:func:`vidseek.eval.distractors.synthetic_vectors`), no synthetic key frame is a near-copy of a real one: a real
query's nearest synthetic neighbours are about as far as key frames of other real videos are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class VideoModel:
    mean: np.ndarray  # (d,)
    between: np.ndarray  # (d, d) factor: centre = mean + between @ z
    within: np.ndarray  # (d, d) factor: key frame = centre + within @ e
    rho: float  # correlation of the within-video walk from one key frame to the next

    @property
    def d(self) -> int:
        return len(self.mean)

    @classmethod
    def fit(cls, vectors: np.ndarray, video: np.ndarray, order: np.ndarray | None = None) -> "VideoModel":
        """Fit on real key frames: ``vectors`` (n, d), the ``video`` of each, and ``order`` (e.g. time) within a
        video; ``rho`` is chosen so that consecutive synthetic key frames have the real median cosine."""
        x = np.asarray(vectors, dtype=np.float64)
        video = np.asarray(video)
        order = np.arange(len(x)) if order is None else np.asarray(order)
        vids, inv = np.unique(video, return_inverse=True)
        if len(vids) < 2 or len(x) <= x.shape[1]:
            raise ValueError(f"VideoModel.fit: needs key frames of 2+ videos and more key frames than dimensions "
                             f"({len(x)} key frames of {len(vids)} videos, d={x.shape[1]})")
        centres = np.stack([x[inv == i].mean(0) for i in range(len(vids))])
        resid = x - centres[inv]
        total = np.cov(x.T)
        within = np.cov(resid.T)
        model = cls(x.mean(0), _factor(total - within), _factor(within), 0.0)
        model.rho = model._match_neighbours(_neighbour_cosine(x, video, order))
        return model

    def sample(self, videos: int, per_video: int, seed: int = 0) -> np.ndarray:
        """(videos * per_video, d) float32, l2-normalised; video i is rows i*per_video .. (i+1)*per_video-1."""
        rng = np.random.default_rng(seed)
        d = self.d
        centres = self.mean + rng.standard_normal((videos, d)) @ self.between.T
        out = np.empty((videos, per_video, d), np.float32)
        e = rng.standard_normal((videos, d))
        for t in range(per_video):
            if t:
                e = self.rho * e + np.sqrt(1 - self.rho**2) * rng.standard_normal((videos, d))
            y = centres + e @ self.within.T
            out[:, t] = y / np.linalg.norm(y, axis=1, keepdims=True)
        return out.reshape(videos * per_video, d)

    def _match_neighbours(self, target: float) -> float:
        """The walk's correlation whose consecutive key frames have median cosine ``target`` (bisection)."""
        lo, hi = 0.0, 0.999
        for _ in range(12):
            self.rho = (lo + hi) / 2
            y = self.sample(200, 2, seed=7)
            cos = float(np.median(np.sum(y[0::2] * y[1::2], axis=1)))
            lo, hi = (self.rho, hi) if cos < target else (lo, self.rho)
        return (lo + hi) / 2


def _factor(cov: np.ndarray) -> np.ndarray:
    """A matrix F with F F^T = cov (its negative eigenvalues, estimation noise, clipped to 0)."""
    w, v = np.linalg.eigh((cov + cov.T) / 2)
    return v * np.sqrt(np.clip(w, 0, None))


def _neighbour_cosine(x: np.ndarray, video: np.ndarray, order: np.ndarray) -> float:
    """Median cosine of consecutive key frames of the same video."""
    s = np.lexsort((order, video))
    xs = x[s] / np.linalg.norm(x[s], axis=1, keepdims=True)
    same = video[s][1:] == video[s][:-1]
    if not same.any():
        raise ValueError("VideoModel.fit: no video has two key frames")
    return float(np.median(np.sum(xs[1:] * xs[:-1], axis=1)[same]))
