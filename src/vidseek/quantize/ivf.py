"""The coarse quantiser of an inverted-file index (IVF-ADC, Jegou et al. 2011): k-means centroids, one
inverted list per centroid.  A key frame's list is its nearest centroid; a query scans ``nprobe`` lists, those of
the centroids nearest to it.  A key frame's PQ code is of its residual, the vector minus its list's centroid,
with codebooks trained on residuals (:attr:`CoarseQuantizer.residual`; ``bench/residual.py``: more of the exact
neighbours among the ADC candidates than codes of the vectors, at 1M and 10M key frames).  Inverted files built
before residual codes hold codes of the vectors themselves (the flat index's codebooks); they open and
search as they were.

When an index is IVF: ``mode="auto"`` switches at :data:`IVF_AUTO_MIN` key frames (below it one exhaustive
scan of the codes takes under a millisecond or so, and every list would be tiny); ``nlist`` defaults to
:func:`default_nlist`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kmeans import kmeans

#: ``--ivf auto`` builds an inverted file from this many key frames on
IVF_AUTO_MIN = 200_000
#: lists searched per query by default (a share of nlist, at least this many)
DEFAULT_NPROBE = 32


@dataclass(frozen=True)
class IVFConfig:
    mode: str = "auto"  # "auto" | "on" | "off"
    nlist: int = 0  # 0: default_nlist(n)
    niter: int = 20
    seed: int = 4321

    def enabled(self, n: int) -> bool:
        if self.mode not in ("auto", "on", "off"):
            raise ValueError(f"ivf must be auto, on or off, got {self.mode!r}")
        return self.mode == "on" or (self.mode == "auto" and n >= IVF_AUTO_MIN)

    def lists_for(self, n: int) -> int:
        if self.nlist < 0:
            raise ValueError(f"nlist must be 1 or more (0: the default), got {self.nlist}")
        return max(1, min(self.nlist or default_nlist(n), n))


def default_nlist(n: int) -> int:
    """About 4 * sqrt(n), a power of two (1M key frames: 4096; 10M: 16384), at least 1."""
    if n <= 1:
        return 1
    return int(2 ** round(np.log2(4 * np.sqrt(n))))


def train_coarse(x: np.ndarray, nlist: int, niter: int = 20, seed: int = 4321, threads: int | None = None) -> np.ndarray:
    """(nlist, d) float32 centroids from a training sample (seeded: the same sample gives the same lists)."""
    return kmeans(x, nlist, niter, seed, threads)


class CoarseQuantizer:
    def __init__(self, centroids: np.ndarray, residual: bool = False):
        """``residual``: the index's PQ codes are of the residuals (vector minus its list's centroid)."""
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self.residual = bool(residual)
        self._index = None

    @property
    def nlist(self) -> int:
        return len(self.centroids)

    @property
    def d(self) -> int:
        return self.centroids.shape[1]

    def flat_index(self):
        """A faiss.IndexFlatL2 over the centroids (what faiss.IndexIVFPQ uses as its quantiser)."""
        if self._index is None:
            import faiss

            index = faiss.IndexFlatL2(self.d)
            index.add(self.centroids)
            self._index = index
        return self._index

    def assign(self, x: np.ndarray) -> np.ndarray:
        """(n, d) -> (n,) int32 list numbers: the nearest centroid in squared l2 (ties: the lower number)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) == 0:
            return np.zeros(0, np.int32)
        _, lists = self.flat_index().search(x, 1)
        return lists[:, 0].astype(np.int32)

    def residuals(self, x: np.ndarray, lists: np.ndarray | None = None) -> np.ndarray:
        """Rows ``x`` minus the centroids of ``lists`` (their lists; assigned here when None)."""
        x = np.asarray(x, dtype=np.float32)
        return x - self.centroids[self.assign(x) if lists is None else np.asarray(lists)]

    def encoded(self, pq, x: np.ndarray, lists: np.ndarray | None = None) -> np.ndarray:
        """The PQ codes ``pq`` gives rows ``x`` in this inverted file: of their :meth:`residuals`, or of the
        vectors themselves in an index built before residual codes."""
        return pq.encode(self.residuals(x, lists) if self.residual else np.asarray(x, dtype=np.float32))
