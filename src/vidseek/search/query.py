"""Reading a query: an image or a clip, from a path, a PIL image, an array or encoded bytes, as RGB frames.

A clip is summarised into key frames (one per second at most, at most CLIP_MAX_FRAMES) with their times.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

from ..errors import InputError
from ..inputs import is_image_path

#: what a search accepts: a file path (image or clip), a PIL image, an RGB/grey uint8 array, or the bytes of an
#: image or clip file
Query = Union[str, os.PathLike, Image.Image, np.ndarray, bytes, bytearray, memoryview]

CLIP_MAX_FRAMES = 32


def read_query(query: Query) -> tuple[list[np.ndarray], list[float], str]:
    """Decode a query: (images, their times in the query, 'image' | 'clip')."""
    from ..video.still import load_image

    if isinstance(query, np.ndarray):
        return [_as_rgb(query)], [0.0], "image"
    if isinstance(query, Image.Image):
        return [np.asarray(query.convert("RGB"))], [0.0], "image"
    if isinstance(query, (bytes, bytearray, memoryview)):
        return _query_bytes(bytes(query))
    if not isinstance(query, (str, os.PathLike)):
        raise TypeError(f"a query is a path, a PIL image, a uint8 array or bytes, not {type(query).__name__}")
    path = Path(query)
    image_error = None
    if is_image_path(path):
        try:
            return [load_image(path, 1024)], [0.0], "image"
        except InputError as exc:
            image_error = exc  # maybe a video with an image name: the decoder decides
    try:
        return _clip_frames(path)
    except InputError:
        if image_error is not None:
            raise image_error from None
        raise

def _query_bytes(data: bytes) -> tuple[list[np.ndarray], list[float], str]:
    """An encoded image, or else a clip (decoded from a temporary file)."""
    from PIL import UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return [np.asarray(img.convert("RGB"))], [0.0], "image"
    except (UnidentifiedImageError, OSError, ValueError):
        pass
    with tempfile.NamedTemporaryFile(suffix=".query") as fh:
        fh.write(data)
        fh.flush()
        try:
            return _clip_frames(Path(fh.name))
        except InputError as exc:
            raise InputError("query bytes", exc.cause) from None

def _clip_frames(path: Path) -> tuple[list[np.ndarray], list[float], str]:
    from ..video import KeyframeConfig, summarise

    s = summarise(path, KeyframeConfig(max_gap=1.0, dedupe_threshold=1.0))
    kfs = s.keyframes
    if not kfs:
        raise InputError(path, "no usable frame in the query")
    if len(kfs) > CLIP_MAX_FRAMES:
        kfs = [kfs[i] for i in np.linspace(0, len(kfs) - 1, CLIP_MAX_FRAMES).round().astype(int)]
    if s.frames == 1:
        return [kfs[0].image], [0.0], "image"
    return [k.image for k in kfs], [k.time for k in kfs], "clip"


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"an array query must be uint8 pixels (H, W[, 3]), got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise TypeError(f"an array query must be (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}")
    return np.ascontiguousarray(image[:, :, :3])
