"""Key frame -> compact descriptor: backbone feature maps, PWA, PCA-whitening.

The fitted state (PWA part channels, whitening) lives in a model folder:

    model/features.json      backbone name + weights sha256, image size, PWA parameters and channels, versions
    model/whitening.npz|json PCA-whitening (see :mod:`vidseek.features.whitening`)

Fitting happens in two steps because PWA needs its channels before any descriptor exists:
``fit_parts`` on a (small) sample of frames, then ``pwa`` over everything, then ``fit_whitening`` on a
sample of PWA vectors.  ``embed`` runs the whole chain for queries.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..errors import ModelError
from .backbones import DEFAULT_BACKBONE, DEFAULT_IMAGE_SIZE, Backbone
from .pwa import PWAConfig, pwa_aggregate, select_parts, sum_pool
from .whitening import PCAWhitening, WhiteningConfig

FEATURES_FILE = "features.json"
WHITENING_FILE = "whitening.npz"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FeatureConfig:
    backbone: str = DEFAULT_BACKBONE
    weights: str | None = None  # path; None = the backbone's standard source
    device: str = "auto"
    image_size: int = DEFAULT_IMAGE_SIZE
    batch_size: int = 8
    pwa: PWAConfig = field(default_factory=PWAConfig)
    whitening: WhiteningConfig = field(default_factory=WhiteningConfig)


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

    # -- persistence -----------------------------------------------------------------------
    def describe(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "backbone": self.backbone.describe(),
            "pwa": {**asdict(self.config.pwa), "channels": None if self.channels is None else self.channels.tolist()},
            "whitening": None if self.whitening is None else {
                **asdict(self.whitening.config), "in_dim": self.whitening.in_dim, "out_dim": self.whitening.out_dim,
                "n_train": self.whitening.n_train,
            },
            "versions": {
                "vidseek": __version__, "torch": torch.__version__, "numpy": np.__version__,
                "python": platform.python_version(),
            },
        }

    def save(self, folder: str | os.PathLike) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.whitening is not None:
            self.whitening.save(folder / WHITENING_FILE)
        tmp = folder / (FEATURES_FILE + ".tmp")
        tmp.write_text(json.dumps(self.describe(), indent=2))
        os.replace(tmp, folder / FEATURES_FILE)

    @classmethod
    def load(cls, folder: str | os.PathLike, weights: str | None = None, device: str = "auto",
             backbone_cache=None) -> "FeatureModel":
        """Load a saved model; the backbone weights must be the ones it was fitted with (checked by hash).

        ``backbone_cache(name, weights, device, image_size) -> Backbone`` lets a caller that loads several
        models of one backbone (a Spark worker: stage 0, then extraction) load the network once.
        """
        folder = Path(folder)
        path = folder / FEATURES_FILE
        try:
            meta = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelError(path, "model file missing") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelError(path, f"model file is corrupt ({exc})") from None
        if meta.get("format_version") != FORMAT_VERSION:
            raise ModelError(path, f"model format {meta.get('format_version')} is not supported "
                                   f"(this vidseek reads format {FORMAT_VERSION})")
        b = meta["backbone"]
        pwa = meta["pwa"]
        wcfg = meta.get("whitening")
        config = FeatureConfig(
            backbone=b["name"],
            weights=weights,
            device=device,
            image_size=int(b["image_size"]),
            pwa=PWAConfig(n_parts=int(pwa["n_parts"]), alpha=float(pwa["alpha"]), beta=float(pwa["beta"])),
            whitening=WhiteningConfig(dim=int(wcfg["dim"]), shrink=float(wcfg["shrink"]), whiten=bool(wcfg["whiten"]))
            if wcfg else WhiteningConfig(),
        )
        backbone = None
        if backbone_cache is not None:
            backbone = backbone_cache(config.backbone, weights, device, config.image_size)
        model = cls(config, backbone=backbone)
        if model.backbone.weights_sha256 != b["weights_sha256"]:
            raise ModelError(
                model.backbone.weights_path,
                f"backbone weights differ from the ones this model was fitted with "
                f"(sha256 {model.backbone.weights_sha256[:12]} != {b['weights_sha256'][:12]})",
            )
        if pwa.get("channels") is not None:
            model.channels = np.asarray(pwa["channels"], dtype=np.int64)
        if wcfg:
            wpath = folder / WHITENING_FILE
            try:
                model.whitening = PCAWhitening.load(wpath)
            except (FileNotFoundError, ValueError, KeyError, OSError) as exc:
                raise ModelError(wpath, f"whitening file missing or corrupt ({exc})") from None
        return model
