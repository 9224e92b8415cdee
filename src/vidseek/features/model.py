"""Key frame -> compact descriptor: backbone feature maps, PWA, PCA-whitening.

The fitted state (PWA part channels, whitening) is saved in a model folder by
:mod:`vidseek.store.model_files` (``features.json``, ``whitening.npz|json``).

Fitting happens in two steps because PWA needs its channels before any descriptor exists:
``fit_parts`` on a (small) sample of frames, then ``pwa`` over everything, then ``fit_whitening`` on a
sample of PWA vectors.  ``embed`` runs the whole chain for queries.
"""

from __future__ import annotations


import numpy as np
import torch

from ..errors import ModelError
from .backbones import Backbone
from .config import FeatureConfig
from .pwa import pwa_aggregate, select_parts, sum_pool
from .whitening import PCAWhitening

class FeatureModel:
    """A backbone plus its fitted PWA channels and whitening."""

    def __init__(self, config: FeatureConfig = FeatureConfig(), backbone: Backbone | None = None):
        self.config = config
        self.backbone = backbone or Backbone(
            config.backbone, weights=config.weights, device=config.device, image_size=config.image_size
        )
        self.channels: np.ndarray | None = None
        self.whitening: PCAWhitening | None = None

    # -- dimensions ------------------------------------------------------------------------
    @property
    def pwa_dim(self) -> int:
        return 0 if self.channels is None else len(self.channels) * self.backbone.channels

    @property
    def dim(self) -> int:
        return self.whitening.out_dim if self.whitening is not None else self.pwa_dim

    # -- fitting ---------------------------------------------------------------------------
    def sum_pooled(self, images: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(images), self.backbone.channels), dtype=np.float64)
        for idx, maps in self.backbone.feature_maps(images, self.config.batch_size):
            out[idx] = sum_pool(maps)
        return out

    def fit_parts(self, images_or_sums: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """Choose the PWA part channels from frames (images) or their sum-pooled responses (n, C)."""
        sums = images_or_sums
        if isinstance(images_or_sums, list):
            sums = self.sum_pooled(images_or_sums)
        self.channels = select_parts(np.asarray(sums), self.config.pwa.n_parts)
        return self.channels

    def pwa(self, images: list[np.ndarray]) -> np.ndarray:
        """(n, N*C) float32 l2-normalised PWA descriptors (before whitening)."""
        if self.channels is None:
            raise ModelError(None, "PWA channels are not fitted (fit_parts first)")
        out = np.zeros((len(images), self.pwa_dim), dtype=np.float32)
        for idx, maps in self.backbone.feature_maps(images, self.config.batch_size):
            out[idx] = pwa_aggregate(maps, self.channels, self.config.pwa).cpu().numpy()
        return out

    def fit_whitening(self, pwa_vectors: np.ndarray) -> PCAWhitening:
        self.whitening = PCAWhitening(self.config.whitening).fit(pwa_vectors)
        return self.whitening

    def whiten(self, pwa_vectors: np.ndarray) -> np.ndarray:
        if self.whitening is None:
            raise ModelError(None, "whitening is not fitted")
        return self.whitening.transform(pwa_vectors)

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        """Images -> (n, M) final descriptors; PWA and whitening run on the backbone's device."""
        if self.channels is None or self.whitening is None:
            raise ModelError(None, "the feature model is not fitted (PWA channels and whitening)")
        w = self._device_whitening()
        out = np.zeros((len(images), self.dim), dtype=np.float32)
        pending = None  # on a GPU, batch i is copied back only after batch i+1 is queued (overlap)
        for idx, maps in self.backbone.feature_maps(images, self.config.batch_size):
            with torch.inference_mode():
                y = (pwa_aggregate(maps, self.channels, self.config.pwa) - w[0]) @ w[1]
                y = y / y.norm(dim=1, keepdim=True).clamp_min(1e-12)
            if pending is not None:
                out[pending[0]] = pending[1].cpu().numpy()
            pending = (idx, y)
        if pending is not None:
            out[pending[0]] = pending[1].cpu().numpy()
        return out

    def _device_whitening(self) -> tuple[torch.Tensor, torch.Tensor]:
        key = id(self.whitening)
        if getattr(self, "_w_cache", (None,))[0] != key:
            dev = self.backbone.device
            self._w_cache = (key, torch.from_numpy(self.whitening.mean).to(dev),
                             torch.from_numpy(np.ascontiguousarray(self.whitening.projection.T)).to(dev))
        return self._w_cache[1], self._w_cache[2]
