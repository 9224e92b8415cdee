"""Settings of the feature stage, without torch: the command line and the build's settings import these, so
``vidseek --help``, ``info``, ``remove`` and the like start without loading the network library."""

from __future__ import annotations

from dataclasses import dataclass, field

from .whitening import WhiteningConfig

DEFAULT_BACKBONE = "effnet-lite0"
DEFAULT_IMAGE_SIZE = 384
#: the backbones :data:`vidseek.features.backbones.BACKBONES` implements (a test keeps the two the same)
BACKBONE_NAMES = ("vgg16", "effnet-lite0", "effnet-lite1", "effnet-lite2")


@dataclass(frozen=True)
class PWAConfig:
    n_parts: int = 25
    alpha: float = 2.0
    beta: float = 2.0


@dataclass(frozen=True)
class FeatureConfig:
    backbone: str = DEFAULT_BACKBONE
    weights: str | None = None  # path; None = the backbone's standard source
    device: str = "auto"
    image_size: int = DEFAULT_IMAGE_SIZE
    batch_size: int = 8
    pwa: PWAConfig = field(default_factory=PWAConfig)
    whitening: WhiteningConfig = field(default_factory=WhiteningConfig)
