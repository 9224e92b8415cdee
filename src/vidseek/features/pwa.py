"""Part-based weighted aggregation (PWA) of convolutional feature maps.

Xu, Wang, Li, Lu (2018), "Unsupervised part-based weighting aggregation of deep convolutional
features for image retrieval".  For a feature map f (C, H, W):

- fit: over training frames, the variance of each channel's sum-pooled response; the N channels
  with the largest variance are the "part detectors";
- transform: each selected channel v_n gives a spatial weight map
  ``w_n = (v_n / (sum_xy v_n^alpha)^(1/alpha))^(1/beta)``, the part descriptor is
  ``psi_n = sum_xy w_n(x, y) f(x, y)`` (a C-vector); ``psi_1..psi_N`` are concatenated (N*C) and
  l2-normalised.

Defaults N=25, alpha=2, beta=2 are those of the original PWA code.
"""

from __future__ import annotations

import numpy as np
import torch

from .config import PWAConfig

EPS = 1e-12




def sum_pool(maps: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) -> (B, C) float64 sums: the statistics channel selection is fitted on."""
    return maps.sum(dim=(2, 3)).double().cpu().numpy()


def select_parts(sum_pooled: np.ndarray, n_parts: int) -> np.ndarray:
    """Indices of the ``n_parts`` channels with the largest variance of sum-pooled response.

    Ties are broken by channel index (stable), so the choice is deterministic.
    """
    x = np.asarray(sum_pooled, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need sum-pooled responses of at least 2 frames as (n, C), got shape {x.shape}")
    n_parts = min(n_parts, x.shape[1])
    var = x.var(axis=0)
    order = np.lexsort((np.arange(var.size), -var))  # largest variance first, then lowest index
    return np.sort(order[:n_parts]).astype(np.int64)


def pwa_aggregate(maps: torch.Tensor, channels: np.ndarray, config: PWAConfig = PWAConfig()) -> torch.Tensor:
    """(B, C, H, W) feature maps -> (B, N*C) l2-normalised PWA descriptors (float32)."""
    maps = maps.float()
    b, c, h, w = maps.shape
    sel = torch.as_tensor(channels, device=maps.device, dtype=torch.long)
    v = maps.index_select(1, sel).clamp_min(0)  # (B, N, H, W); ReLU'd maps are already >= 0
    norm = v.pow(config.alpha).sum(dim=(2, 3), keepdim=True).pow(1.0 / config.alpha)
    weights = (v / norm.clamp_min(EPS)).pow(1.0 / config.beta)  # (B, N, H, W)
    psi = torch.bmm(weights.reshape(b, -1, h * w), maps.reshape(b, c, h * w).transpose(1, 2))  # (B, N, C)
    psi = psi.reshape(b, -1)
    return psi / psi.norm(dim=1, keepdim=True).clamp_min(EPS)


def pwa_numpy_reference(fmap: np.ndarray, channels: np.ndarray, config: PWAConfig = PWAConfig()) -> np.ndarray:
    """A direct, loop-based transcription of the formulas for one (C, H, W) map (tests only)."""
    parts = []
    for n in channels:
        v = np.maximum(fmap[n], 0.0)
        denom = np.sum(v**config.alpha) ** (1.0 / config.alpha)
        w = (v / max(denom, EPS)) ** (1.0 / config.beta)
        psi = np.zeros(fmap.shape[0])
        for y in range(fmap.shape[1]):
            for x in range(fmap.shape[2]):
                psi += w[y, x] * fmap[:, y, x]
        parts.append(psi)
    out = np.concatenate(parts)
    return out / max(np.linalg.norm(out), EPS)
