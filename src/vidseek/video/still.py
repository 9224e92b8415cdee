"""Still images as one-frame items (collections of photos or already-extracted frames)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError
from ..storage import is_uri, open_object
from .decode import _check_path, fit_size


def load_image(path: str | os.PathLike, max_side: int | None = None) -> np.ndarray:
    """Upright (EXIF orientation applied) uint8 RGB of an image file, longer side at most ``max_side``."""
    path = path if is_uri(path) else Path(path)
    _check_path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with (open_object(path) if is_uri(path) else open(path, "rb")) as f, Image.open(f) as img:
                img = ImageOps.exif_transpose(img)
                img.draft("RGB", (max_side, max_side) if max_side else img.size)  # fast JPEG downscale
                img = img.convert("RGB")
                if max_side:
                    w, h = fit_size(img.width, img.height, max_side)
                    if (w, h) != img.size:
                        img = img.resize((w, h), Image.Resampling.BILINEAR)
                arr = np.asarray(img)
    except UnidentifiedImageError:
        raise InputError(path, "not a readable image (unknown or corrupt format)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(path, f"not a readable image ({exc})") from None
    if arr.size == 0:
        raise InputError(path, "image has no pixels")
    return arr
