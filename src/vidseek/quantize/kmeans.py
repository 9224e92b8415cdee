"""Seeded, reproducible k-means for one PQ sub-space (FAISS), and nearest-centroid assignment."""

from __future__ import annotations

import numpy as np


def kmeans(x: np.ndarray, k: int, niter: int = 25, seed: int = 1234, threads: int | None = None) -> np.ndarray:
    """(n, d) float32 -> (k, d) float32 centroids, whatever the order of the rows of ``x`` (k-means starts from
    seeded picks among them: they are first put in an order of their own values, so a sample read in another
    order, e.g. the key frames of videos that live in another folder, gives the same centroids).

    With fewer distinct points than ``k`` (a small collection), every point becomes a centroid and the
    rest are copies: codes stay valid, and the reconstruction of the training points is exact.
    ``threads``: FAISS OpenMP threads (1 inside Spark tasks, so results do not depend on the machine).
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    if n == 0:
        raise ValueError("k-means needs at least one training vector")
    uniq = np.unique(x, axis=0)
    if len(uniq) <= k:
        reps = np.resize(np.arange(len(uniq)), k)
        return np.ascontiguousarray(uniq[reps], dtype=np.float32)
    import faiss

    x = x[np.lexsort(x.T[::-1])]  # rows in lexicographic order (exact: no arithmetic, equal rows interchangeable)
    if threads is not None:
        faiss.omp_set_num_threads(threads)
    # min_points_per_centroid=1: FAISS would print its own warning for small samples; the build says it once
    km = faiss.Kmeans(d, k, niter=niter, seed=seed, verbose=False, max_points_per_centroid=1 << 30,
                      min_points_per_centroid=1)
    km.train(x)
    return np.ascontiguousarray(km.centroids, dtype=np.float32)


def assign_nearest(x: np.ndarray, c: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Index of the nearest centroid (squared l2) for each row of ``x``."""
    cn = (c * c).sum(axis=1)
    out = np.empty(len(x), dtype=np.int64)
    for s in range(0, len(x), chunk):
        xs = x[s : s + chunk]
        out[s : s + chunk] = np.argmin(cn[None, :] - 2.0 * xs @ c.T, axis=1)
    return out
