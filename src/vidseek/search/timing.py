"""Frame-exact times: a hit's moment refined by decoding its video around the matched key frame.

Key frames are sparse (a new one when the picture drifts far enough, at least one every few seconds), so a still
found through its best key frame is placed up to a key-frame interval away from where it really is, and in slow
footage the best key frame is often not even the nearest one.  After ranking, the best hits' videos are decoded
``span`` seconds either side of the hit's time, at ``fps`` frames a second, and each frame is compared with the
query by a tiny grey signature (:func:`signature`: 32x18, zero mean, unit norm: the normalised cross-correlation
of two pictures is the dot product of their signatures; blur, noise, JPEG, greyscale and brightness or contrast
changes leave it high).  The query's signatures are those of the picture, of its content region (bars or a
background cut off, :mod:`.regions`) and of their mirror images; a frame's similarity is the best of them.  The
most similar frame gives the time when it correlates at least ``min_match`` (of frames within ``tie`` of the best,
as in a still shot, the one nearest the key-frame estimate); otherwise (a heavy edit, a video that
cannot be read here, a video that cannot seek) the key frame's time stays.  A clip is placed by its first frame.

This only moves a time: which videos match and their scores are the ranking's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import VidseekError
from ..video.decode import DecodedFrame, VideoReader

log = logging.getLogger(__name__)

SIZE = (32, 18)  # signature width x height (16:9; other pictures are stretched alike on both sides)


@dataclass(frozen=True)
class TimeConfig:
    hits: int = 1  # best hits whose time is refined (each decodes a few seconds of its video; 0: none)
    span: float = 2.0  # seconds decoded either side of the key-frame time
    fps: float = 60.0  # frames a second compared within the span at most (decoding costs the same: every frame
    # up to 60 fps, so a fast shot is placed at its exact frame for the local-feature check)
    min_match: float = 0.5  # correlation a frame needs to move the time to it
    tie: float = 0.0002  # frames this close to the best count as equal (a still shot): the one nearest the estimate
    # wins (neighbouring frames of a slow pan can differ by 0.0001: the pick is then a frame or two off)
    max_decoded: int = 900  # frames decoded at most per hit (a long run of frames before the span's first key frame)


def signature(image: np.ndarray) -> np.ndarray:
    """A picture's signature (RGB, or grey as floats): grey, SIZE, zero mean, unit norm (zero for a flat picture)."""
    grey = np.asarray(image, np.float32)
    if grey.ndim == 3:
        grey = grey @ np.float32([0.299, 0.587, 0.114])
    small = np.asarray(Image.fromarray(np.ascontiguousarray(grey)).resize(SIZE, Image.Resampling.BOX), np.float32)
    g = small.ravel() - small.mean()
    norm = float(np.linalg.norm(g))
    return g / norm if norm > 1e-6 else np.zeros_like(g)


def query_signatures(image: np.ndarray, regions: list[np.ndarray] | None) -> np.ndarray:
    """(views, SIZE product) float32: the picture, its content regions (if any) and their mirror images."""
    views = [image, *(regions or [])]
    views += [np.ascontiguousarray(v[:, ::-1]) for v in views]
    return np.stack([signature(v) for v in views])


def best_time(path: str, around: float, signatures: np.ndarray, config: TimeConfig = TimeConfig(),
              duration: float | None = None) -> float | None:
    """The time (s) in ``path`` within ``config.span`` of ``around`` whose frame is most like the query, or None
    when no frame correlates ``config.min_match`` or the video cannot be read here."""
    found = best_frame(path, around, signatures, config, duration)
    return None if found is None else found[0]


def best_frame(path: str, around: float, signatures: np.ndarray, config: TimeConfig = TimeConfig(),
               duration: float | None = None) -> tuple[float, DecodedFrame | None] | None:
    """As :func:`best_time`, with the frame at that time: decoded once, it spares whoever looks at it next (the
    local-feature check) a seek.  The frames tied with the best so far are kept while decoding (``KEPT`` at most,
    those nearest ``around``); None in place of the frame when the one chosen was not among them."""
    lo = max(0.0, around - config.span)
    hi = around + config.span if not duration else min(duration, around + config.span)
    times, sims, kept = [], [], {}
    try:
        with VideoReader(path, rough=True) as reader:
            for f in reader.frames_between(lo, hi):
                if reader.frames_decoded > config.max_decoded:
                    break
                if not times or f.time >= times[-1] + 1.0 / config.fps - 1e-6:
                    times.append(f.time)
                    sims.append(float((signatures @ frame_signature(f)).max()))
                    _keep_ties(kept, f, len(times) - 1, times, sims, config.tie, around)
    except (VidseekError, OSError) as exc:  # moved, deleted, unreadable here: the key frame's time stays
        log.debug("time of a hit in %s not refined: %s", path, exc)
        return None
    if not sims:
        return None
    sim = np.asarray(sims)
    if sim.max() < config.min_match:
        return None
    near = np.flatnonzero(sim >= sim.max() - config.tie)
    best = int(near[np.argmin(np.abs(np.asarray(times)[near] - around))])
    return times[best], kept.get(best)


KEPT = 4  # frames tied with the best kept while decoding (:func:`best_frame`)


def _keep_ties(kept: dict, frame: DecodedFrame, i: int, times: list[float], sims: list[float], tie: float,
               around: float) -> None:
    """Frame ``i`` kept if it ties with the best so far; those that no longer tie let go, and the farthest from
    ``around`` beyond ``KEPT``."""
    top = max(sims)
    if sims[i] < top - tie:
        return
    kept[i] = frame
    for j in [j for j in kept if sims[j] < top - tie]:
        del kept[j]
    while len(kept) > KEPT:
        del kept[max(kept, key=lambda j: abs(times[j] - around))]


def frame_signature(frame: DecodedFrame) -> np.ndarray:
    """A decoded frame's signature, from its luma sampled off the plane (no full-size conversion), turned
    upright and stretched to SIZE like the query."""
    small = frame.luma(4 * SIZE[0])
    if frame.rotation:
        small = np.ascontiguousarray(np.rot90(small, k=frame.rotation // 90))
    return signature(small)
