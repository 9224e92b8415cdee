"""PCA-whitening of PWA descriptors, regularised for small training sets.

``y = l2( diag(lambda + shrink * mean(lambda))^(-1/2) . V^T . (x - mu) )`` for the top ``M`` principal
directions V.  Plain whitening (shrink = 0) divides by the square root of each eigenvalue; when the
training set is small, the last kept eigenvalues are tiny and noisy and whitening blows that noise up
(seen here: whitened to #frames-1 dims, a 10-video index lost a query that raw PWA found).  Shrinking
adds a fraction of the mean eigenvalue to every eigenvalue (a ridge on the covariance), and ``M`` is
capped by the rank the training set supports (``n_train - 1``, and never more than the input
dimension).

The solver is deterministic: an exact symmetric eigendecomposition (numpy ``eigh``) of the
covariance, or of the Gram matrix when there are fewer samples than dimensions; eigenvector signs
are fixed (largest-magnitude component positive) so the same data give the same model everywhere.
The fitted state is float32 arrays in an ``.npz`` plus JSON parameters; reloading is bit-exact.

``transform`` gives every row the same bits whatever else is in the batch: BLAS picks its kernel (and so
the order of its sums) by the shape of the product, and here a 1-row product (gemv) and a 999-row one
differed from a 64-row one by an ulp.  Rows are therefore projected in zero-padded blocks of exactly
``BLOCK`` rows, so a build gives the same vectors however Spark happens to batch them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

EPS = 1e-12
BLOCK = 64  # rows per projection product (see the module docstring)


def l2n(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


@dataclass(frozen=True)
class WhiteningConfig:
    dim: int = 128  # M: output dimension (capped by what the training set supports)
    shrink: float = 0.5  # eigenvalue regularisation, as a fraction of the mean kept eigenvalue
    whiten: bool = True  # False: PCA projection only (rotation + truncation)


class PCAWhitening:
    """Fit/transform PCA-whitening. ``fit`` takes l2-normalised PWA vectors (n, d)."""

    def __init__(self, config: WhiteningConfig = WhiteningConfig()):
        self.config = config
        self.mean: np.ndarray | None = None  # (d,)
        self.projection: np.ndarray | None = None  # (M, d): rows are scaled principal directions
        self.eigenvalues: np.ndarray | None = None  # (M,)
        self.n_train = 0

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
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"whitening needs a 2-d array (n, d), got shape {x.shape}")
        n, d = x.shape
        if n < 2:
            raise ValueError(f"whitening needs at least 2 training vectors, got {n}")
        mean = x.mean(axis=0)
        xc = x - mean
        if d <= n:
            cov = xc.T @ xc / (n - 1)
            lam, vec = np.linalg.eigh(cov)
        else:  # fewer samples than dimensions: eigenvectors of the covariance from the Gram matrix
            gram = xc @ xc.T / (n - 1)
            lam, u = np.linalg.eigh(gram)
            vec = xc.T @ u
            vec /= np.maximum(np.linalg.norm(vec, axis=0, keepdims=True), EPS)
        order = np.argsort(-lam, kind="stable")
        lam, vec = lam[order], vec[:, order]
        rank = int(np.sum(lam > max(lam[0], EPS) * 1e-9))
        m = max(1, min(self.config.dim, n - 1, d, rank))
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

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write ``path`` (.npz) and ``path`` with .json; both written to temporary names, then renamed."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, mean=self.mean, projection=self.projection, eigenvalues=self.eigenvalues)
        os.replace(tmp, path)
        meta = {"config": asdict(self.config), "n_train": self.n_train, "in_dim": self.in_dim, "out_dim": self.out_dim}
        jtmp = path.with_suffix(".json.tmp")
        jtmp.write_text(json.dumps(meta, indent=2))
        os.replace(jtmp, path.with_suffix(".json"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PCAWhitening":
        path = Path(path)
        meta = json.loads(path.with_suffix(".json").read_text())
        obj = cls(WhiteningConfig(**meta["config"]))
        with np.load(path) as z:
            obj.mean, obj.projection, obj.eigenvalues = z["mean"], z["projection"], z["eigenvalues"]
        obj.n_train = int(meta["n_train"])
        if obj.projection.shape != (meta["out_dim"], meta["in_dim"]):
            raise ValueError(f"{path}: projection shape {obj.projection.shape} does not match its JSON")
        return obj
