"""PCA-whitening of PWA descriptors, regularised for small training sets.

``y = l2( diag(lambda + shrink * mean(lambda))^(-1/2) . V^T . (x - mu) )`` for the top ``M`` principal
directions V.  Plain whitening (shrink = 0) divides by the square root of each eigenvalue; when the
training set is small, the last kept eigenvalues are tiny and noisy and whitening blows that noise up
(seen here: whitened to #frames-1 dims, a 10-video index lost a query that raw PWA found).  Shrinking
adds a fraction of the mean eigenvalue to every eigenvalue (a ridge on the covariance), and ``M`` is
capped by the rank the training set supports (``n_train - 1``, and never more than the input
dimension).

The solver streams the training rows in fixed-size blocks, so its memory does not depend on how many
rows there are (PWA vectors are wide: 25 x 1280 = 32,000 dims for EfficientNet-Lite0): a randomised
subspace iteration (Halko, Martinsson, Tropp 2011) finds the span of the top ``k = min(n, d, 2M)``
principal directions, then an exact eigendecomposition of the covariance restricted to that span
gives the directions and eigenvalues.  With no more rows than ``k`` (small collections) the span is the
whole row space and the result is exact PCA; with more, ``POWER_ITERS`` iterations make the top ``M``
directions accurate.  It is deterministic: a seeded start, blocks of fixed shape (zero rows pad the
last), sums in row order, eigenvector signs fixed (largest-magnitude component positive), and BLAS/LAPACK
held to one thread (LAPACK's QR gave other bits with 1 and 2 OpenBLAS threads).
With pairs of a row and an edited copy of it (crop, bars, noise, JPEG..., see :mod:`.augment`), the whitening
is learned instead (:meth:`PCAWhitening._fit_learned`): the directions edits move a descriptor along are damped
before the top ``M`` are kept, which makes edited copies closer to their source (bench/accuracy.py).
The fitted state is float32 arrays (saved by :mod:`vidseek.store.model_files`; reloading is bit-exact).

``transform`` gives every row the same bits whatever else is in the batch: BLAS picks its kernel (and so
the order of its sums) by the shape of the product, and here a 1-row product (gemv) and a 999-row one
differed from a 64-row one by an ulp.  Rows are therefore projected in zero-padded blocks of exactly
``BLOCK`` rows, so a build gives the same vectors however Spark happens to batch them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

EPS = 1e-12
BLOCK = 64  # rows per projection product (see the module docstring)
FIT_BLOCK = 128  # rows per block while fitting
POWER_ITERS = 3
SEED = 20240531

#: a re-iterable source of training rows: each call yields ``(block, valid)`` with ``block`` a float32
#: (FIT_BLOCK, d) array whose first ``valid`` rows are data and the rest zeros, always in the same order
RowBlocks = Callable[[], Iterator[tuple[np.ndarray, int]]]


def array_blocks(x: np.ndarray) -> RowBlocks:
    """:data:`RowBlocks` over an in-memory (n, d) array."""

    def blocks() -> Iterator[tuple[np.ndarray, int]]:
        buf = np.zeros((FIT_BLOCK, x.shape[1]), dtype=np.float32)
        for s in range(0, len(x), FIT_BLOCK):
            k = min(FIT_BLOCK, len(x) - s)
            buf[:k] = x[s : s + k]
            buf[k:] = 0.0
            yield buf, k

    return blocks


def l2n(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


@dataclass(frozen=True)
class WhiteningConfig:
    dim: int = 128  # M: output dimension (capped by what the training set supports)
    shrink: float = 0.5  # eigenvalue regularisation, as a fraction of the mean kept eigenvalue
    whiten: bool = True  # False: PCA projection only (rotation + truncation)
    pair_ridge: float = 1.0  # learned whitening: ridge on the edit covariance, a fraction of its mean eigenvalue


class PCAWhitening:
    """Fit/transform PCA-whitening. ``fit`` takes l2-normalised PWA vectors (n, d)."""

    def __init__(self, config: WhiteningConfig = WhiteningConfig()):
        self.config = config
        self.mean: np.ndarray | None = None  # (d,)
        self.projection: np.ndarray | None = None  # (M, d): rows are scaled principal directions
        self.eigenvalues: np.ndarray | None = None  # (M,)
        self.n_train = 0
        self.n_pairs = 0  # edited pairs the whitening was learned from (0: plain PCA-whitening)

    @property
    def fitted(self) -> bool:
        return self.projection is not None

    @property
    def out_dim(self) -> int:
        return 0 if self.projection is None else int(self.projection.shape[0])

    @property
    def in_dim(self) -> int:
        return 0 if self.projection is None else int(self.projection.shape[1])

    def fit(self, x: np.ndarray) -> "PCAWhitening":
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"whitening needs a 2-d array (n, d), got shape {x.shape}")
        return self.fit_blocks(array_blocks(x), *x.shape)

    def fit_blocks(self, blocks: RowBlocks, n: int, d: int, pairs: RowBlocks | None = None) -> "PCAWhitening":
        """Fit on ``n`` rows of dimension ``d`` streamed by ``blocks`` (see the module docstring); with ``pairs``
        (the same rows' edited copies, in the same order) the whitening is learned from them."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit_blocks(blocks, n, d, pairs)

    def _fit_blocks(self, blocks: RowBlocks, n: int, d: int, pairs: RowBlocks | None = None) -> "PCAWhitening":
        if n < 2:
            raise ValueError(f"whitening needs at least 2 training vectors, got {n}")
        mean = np.zeros(d)
        for xb, _ in blocks():
            mean += xb.sum(axis=0, dtype=np.float64)
        mean /= n

        def centred() -> Iterator[np.ndarray]:
            for xb, valid in blocks():
                xc = xb.astype(np.float64)
                xc[:valid] -= mean
                yield xc

        k = min(n, d, 2 * self.config.dim)
        q = np.random.default_rng(SEED).standard_normal((d, k))
        for _ in range(POWER_ITERS):
            z = np.zeros((d, k))
            for xc in centred():
                z += xc.T @ (xc @ q)
            q, _ = np.linalg.qr(z)
        s = np.zeros((k, k))
        for xc in centred():
            p = xc @ q
            s += p.T @ p
        lam, u = np.linalg.eigh(s / (n - 1))
        order = np.argsort(-lam, kind="stable")
        lam, vec = lam[order], q @ u[:, order]
        rank = int(np.sum(lam > max(lam[0], EPS) * 1e-9))
        m = max(1, min(self.config.dim, n - 1, d, rank))
        self.n_pairs = 0
        if pairs is not None and self.config.whiten:
            return self._fit_learned(blocks, pairs, n, mean, np.maximum(lam, 0.0), vec, max(m, min(rank, k)), m)
        lam, vec = np.maximum(lam[:m], 0.0), vec[:, :m]
        # deterministic signs: largest-magnitude component of each direction is positive
        idx = np.argmax(np.abs(vec), axis=0)
        vec *= np.sign(vec[idx, np.arange(m)])
        if self.config.whiten:
            scale = 1.0 / np.sqrt(lam + self.config.shrink * lam.mean() + EPS)
        else:
            scale = np.ones(m)
        self.mean = mean.astype(np.float32)
        self.projection = (vec * scale).T.astype(np.float32)
        self.eigenvalues = lam.astype(np.float32)
        self.n_train = n
        return self

    def _fit_learned(self, blocks: RowBlocks, pairs: RowBlocks, n: int, mean: np.ndarray, lam: np.ndarray,
                     vec: np.ndarray, span: int, m: int) -> "PCAWhitening":
        """Learned whitening (Radenovic, Tolias, Chum 2016) from pairs (a row, an edited copy of it), in the span
        of the top ``span`` principal directions: whiten by the covariance of the pairs' differences (what edits
        change), then keep the top ``m`` directions of the data in that whitened space (what tells frames apart)."""
        p0 = vec[:, :span]
        cs = np.zeros((span, span))
        copies = 1
        for (xb, valid), (eb, _) in zip(blocks(), pairs()):
            copies = eb.shape[1] // xb.shape[1]  # each row's edited copies, one after the other
            for c in range(copies):
                diff = (eb[:valid, c * xb.shape[1] : (c + 1) * xb.shape[1]].astype(np.float64) - xb[:valid]) @ p0
                cs += diff.T @ diff
        cs /= n * copies
        cs += self.config.pair_ridge * max(np.trace(cs) / span, EPS) * np.eye(span)
        ev, e = np.linalg.eigh(cs)
        p1 = (e / np.sqrt(ev)) @ e.T  # C_S^(-1/2)
        lam2, e2 = np.linalg.eigh(p1 @ np.diag(lam[:span]) @ p1.T)  # data covariance after it
        order = np.argsort(-lam2, kind="stable")[:m]
        proj = p0 @ p1 @ e2[:, order]  # (d, m)
        idx = np.argmax(np.abs(proj), axis=0)
        proj *= np.sign(proj[idx, np.arange(m)])
        self.mean = mean.astype(np.float32)
        self.projection = proj.T.astype(np.float32)
        self.eigenvalues = np.maximum(lam2[order], 0.0).astype(np.float32)
        self.n_train = n
        self.n_pairs = n * copies
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(n, d) -> (n, M) float32, l2-normalised."""
        if not self.fitted:
            raise RuntimeError("PCAWhitening is not fitted")
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.shape[1] != self.in_dim:
            raise ValueError(f"expected vectors of dimension {self.in_dim}, got {x.shape[1]}")
        return l2n(self._project(x))

    def _project(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) @ projection.T``, computed in fixed-shape blocks so a row's result never depends on
        its neighbours."""
        out = np.empty((len(x), self.out_dim), dtype=np.float32)
        block = np.zeros((BLOCK, self.in_dim), dtype=np.float32)
        proj_t = self.projection.T
        for s in range(0, len(x), BLOCK):
            k = min(BLOCK, len(x) - s)
            np.subtract(x[s : s + k], self.mean, out=block[:k])
            block[k:] = 0.0
            out[s : s + k] = (block @ proj_t)[:k]
        return out
