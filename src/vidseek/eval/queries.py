"""Query generation from real videos: frames and excerpts at random times, with edits applied."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..video import VideoReader
from .edits import EDITS


@dataclass
class FrameQuery:
    video: str  # source video (absolute path)
    time: float  # seconds: where the frame was taken
    edit: str
    image: np.ndarray


def grab_frames(path: str | Path, times: list[float], max_side: int = 640) -> list[tuple[float, np.ndarray]]:
    """The decoded frames nearest each of ``times`` (one sequential decode)."""
    wanted = sorted(times)
    out: list[tuple[float, np.ndarray]] = []
    prev = None
    with VideoReader(path) as r:
        for f in r.frames():
            while wanted and f.time >= wanted[0]:
                pick = f if prev is None or abs(f.time - wanted[0]) <= abs(prev.time - wanted[0]) else prev
                out.append((pick.time, pick.rgb(max_side)))
                wanted.pop(0)
            prev = f
            if not wanted:
                break
        while wanted and prev is not None:
            out.append((prev.time, prev.rgb(max_side)))
            wanted.pop(0)
    return out


def video_duration(path: str | Path) -> float:
    last = 0.0
    with VideoReader(path) as r:
        for f in r.frames():
            last = f.time
    return last


def frame_queries(
    videos: list[Path], per_video: int, edits: list[str] | None = None, seed: int = 0, max_side: int = 640
) -> list[FrameQuery]:
    """``per_video`` random instants per video, each edited with every edit in ``edits``."""
    rng = np.random.default_rng(seed)
    edits = edits or list(EDITS)
    out = []
    for v in videos:
        dur = video_duration(v)
        times = sorted(float(t) for t in rng.uniform(0, max(dur, 1e-3), per_video))
        for t, img in grab_frames(v, times, max_side):
            for e in edits:
                out.append(FrameQuery(str(Path(v).resolve()), t, e, EDITS[e](img, rng)))
    return out
