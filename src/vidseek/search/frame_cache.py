"""The local features of the video frames checked lately, kept for the next searches (a small LRU).

Unrelated queries keep running into the same frames: hubs (dark, flat or low-texture key frames) are among the
best hits of many of them, and every doubtful answer is checked (:mod:`.verify`) by decoding its hits' frames (a
seek, then a run of frames) and computing their SIFT points.  On ``bench/accuracy.py``'s 200 stills of one seed,
searched one after the other, 315 frames were decoded for checks, 147 of them distinct.  The features of a frame
are kept here by (video file, its size and modification time, time in the video, picture side, key points), so a
frame is decoded and described once while it stays among the ``size`` last used; a video file replaced on disk
is read again.  The features kept are those the check would compute (SIFT on the same decoded pixels), so
results are the same with or without the cache.  Descriptors are kept as bytes: OpenCV's SIFT values are whole
numbers from 0 to 255 (128 KB for 1,000 key points).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from ..storage import is_uri
from .verify import LocalFeatures, VerifyConfig

#: frames kept at most (about 16 MB at 1,000 key points each)
SIZE = 128


class FrameFeatureCache:
    """A bounded, thread-safe LRU of :class:`~.verify.LocalFeatures` by video frame."""

    def __init__(self, size: int = SIZE):
        self.size = size
        self._items: OrderedDict[tuple, tuple[np.ndarray, np.ndarray, tuple]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def get(self, path: str, t: float, config: VerifyConfig,
            compute: Callable[[], LocalFeatures | None]) -> LocalFeatures | None:
        """The features of ``path``'s frame at ``t`` s: kept ones, or ``compute()``'s (kept unless None: a video
        that cannot be read now may be readable later)."""
        key = _key(path, t, config)
        with self._lock:
            kept = self._items.get(key) if key is not None else None
            if kept is not None:
                self._items.move_to_end(key)
                self.hits += 1
        if kept is not None:
            return _unpacked(*kept)
        found = compute()
        with self._lock:
            self.misses += 1
            if found is not None and key is not None and self.size > 0:
                self._items[key] = _packed(found)
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return found


def _key(path: str, t: float, config: VerifyConfig) -> tuple | None:
    """The cache key of a frame; None (not kept) for a local file that cannot be looked at."""
    stamp = None
    if not is_uri(path):
        try:
            st = os.stat(path)
        except OSError:
            return None
        stamp = (st.st_size, st.st_mtime_ns)
    return (str(path), stamp, round(float(t), 4), config.side, config.features)


def _packed(f: LocalFeatures) -> tuple[np.ndarray, np.ndarray, tuple]:
    if f.desc is None:
        return f.points.copy(), np.zeros((0, 128), np.uint8), f.shape
    small = np.asarray(f.desc).astype(np.uint8)
    exact = np.array_equal(small, f.desc)  # whole numbers 0-255 (OpenCV's SIFT): kept as bytes, else as they are
    return f.points.copy(), small if exact else np.array(f.desc, copy=True), f.shape


def _unpacked(points: np.ndarray, desc: np.ndarray, shape: tuple) -> LocalFeatures:
    out = LocalFeatures.__new__(LocalFeatures)
    out.points, out.shape = points, shape
    out.desc = desc.astype(np.float32) if len(desc) else None
    return out
