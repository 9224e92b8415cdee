"""A bounded sample of frames spread over a video, without decoding all of it.

The build chooses its PWA part channels on such a sample: a few frames per file, at evenly spaced
times, reached by seeking, so the cost does not grow with the length of the video.  Dark frames are
left out (they carry no parts).  Videos whose container gives no duration, or that cannot seek, fall
back to their first key frames (still bounded by the count asked for).
"""

from __future__ import annotations

import itertools
import os

import numpy as np

from .decode import VideoReader
from .detector import is_dark
from .keyframes import KeyframeConfig, KeyframeStream


def sample_times(duration: float, every: float, most: int) -> list[float]:
    """Evenly spaced times inside ``[0, duration)``: one per ``every`` seconds, at least 2, at most ``most``."""
    n = int(min(most, max(2, duration // every)))
    return [duration * (i + 0.5) / n for i in range(n)]


def sample_frames(
    path: str | os.PathLike, config: KeyframeConfig = KeyframeConfig(), every: float = 2.0, most: int = 64,
    threads: int = 1,
) -> list[np.ndarray]:
    """Up to ``most`` well-lit RGB frames (``config.analysis_size``) spread over ``path``, one per ``every`` s.

    Raises :class:`vidseek.errors.InputError` when the file cannot be decoded at all.
    """
    images: list[np.ndarray] = []
    with VideoReader(path, threads=threads) as reader:
        duration = reader.info.duration
        if duration and duration > 0:
            seen: set[float] = set()
            for f in reader.frames_at(sample_times(duration, every, most)):
                if f.time in seen:
                    continue
                seen.add(f.time)
                if not is_dark(f.thumb_rgb(config.detect_size), config.detector):
                    images.append(f.rgb(config.analysis_size))
    if images:
        return images
    with KeyframeStream(path, config, threads=threads) as stream:  # no duration, no seeking, or all dark
        return [kf.image for kf in itertools.islice(stream, most)]
