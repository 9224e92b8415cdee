"""Shot-boundary detection on frame content: HSV difference with an adaptive threshold.

The score of frame *i* is the mean absolute difference of the H, S and V planes between frame
*i-1* and frame *i* (the ``content_val`` of PySceneDetect's ContentDetector, on small frames).
A cut is declared at *i* when the score stands out from its neighbourhood — its ratio to the
mean score of the ``window`` frames on either side is at least ``adaptive_threshold`` — and is
at least ``min_content`` in absolute terms (the AdaptiveDetector rule).  A steady fade, a pan or
a counter ticking on a still background gives a flat run of scores, so it is never a cut.

Dark frames do not take part: a difference with a (near-)black frame is no evidence of a cut,
and fades to black are handled by :mod:`vidseek.video.keyframes`, which places the boundary
inside the black run.

The detector is streaming: :meth:`AdaptiveCutDetector.push` returns the decision for the frame
``window`` frames back, so only a few frames are held at any time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) to float32 HSV with OpenCV's ranges (H in [0, 180), S and V in [0, 255])."""
    x = rgb.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    delta = v - mn
    s = np.where(v > 0, delta * 255.0 / np.maximum(v, 1e-6), 0.0)
    safe = np.maximum(delta, 1e-6)
    h = np.where(
        v == r,
        (g - b) / safe,
        np.where(v == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe),
    )
    h = np.where(delta > 0, (h * 30.0) % 180.0, 0.0)
    return np.stack([h, s, v], axis=-1).astype(np.float32)


def content_score(prev_hsv: np.ndarray, hsv: np.ndarray) -> float:
    """Mean over pixels and the three HSV planes of the absolute difference."""
    return float(np.abs(hsv - prev_hsv).mean())


@dataclass(frozen=True)
class DetectorConfig:
    adaptive_threshold: float = 3.0  # score / mean(neighbour scores)
    min_content: float = 15.0  # absolute floor of the score for a cut
    window: int = 2  # neighbours on each side
    dark_level: float = 12.0  # mean RGB below this (0..255) is a black frame ...
    dark_contrast: float = 16.0  # ... unless its grey levels spread this much (std): a night shot, credits
    dark_highlights: float = 30.0  # ... or its brightest 0.5% stand this far above its median: small text, a light


def is_dark(small: np.ndarray, config: DetectorConfig) -> bool:
    """A black frame (a fade, a blank between shots): dim on average and without structure.  Dim frames with
    content (a night shot, white text on black, stars) spread their grey levels far more than a fade does
    (standard deviation over 20 on the shared videos' night shot and credits, at most 12 in their fades), or,
    when the content is small (a line of text, a dot), have highlights (the brightest 0.5% of the pixels 70-144
    grey levels above the median in the shared videos' title and copyright cards, at most 14 in their fades)."""
    if float(small.mean()) >= config.dark_level:
        return False
    grey = small.mean(axis=2) if small.ndim == 3 else small
    if float(grey.std()) >= config.dark_contrast:
        return False
    median, top = np.percentile(grey, [50, 99.5])
    return float(top - median) < config.dark_highlights


class AdaptiveCutDetector:
    """Streaming adaptive-threshold cut detector over per-frame content scores.

    ``push(score, usable)`` takes the score of the newest frame (``None`` for the first frame or
    when either frame of the pair is dark) and returns ``(index, is_cut)`` for the frame
    ``window`` frames back, or ``None`` while the window fills.  ``flush()`` decides the rest.
    """

    def __init__(self, config: DetectorConfig = DetectorConfig()):
        self.config = config
        self._scores: deque[float | None] = deque()
        self._next = 0  # index of the next frame to decide
        self._pushed = 0

    def push(self, score: float | None) -> tuple[int, bool] | None:
        self._scores.append(score)
        self._pushed += 1
        w = self.config.window
        if self._pushed - self._next > w:
            return self._decide(future=w)
        return None

    def flush(self) -> list[tuple[int, bool]]:
        out = []
        while self._next < self._pushed:
            out.append(self._decide(future=self._pushed - self._next - 1))
        return out

    def _decide(self, future: int) -> tuple[int, bool]:
        """Decide the frame at position len(past) in the buffer."""
        w = self.config.window
        scores = list(self._scores)
        pos = len(scores) - 1 - future
        score = scores[pos]
        is_cut = False
        if score is not None and score >= self.config.min_content:
            neighbours = [s for s in scores[max(0, pos - w) : pos] + scores[pos + 1 : pos + 1 + w] if s is not None]
            mean = float(np.mean(neighbours)) if neighbours else 0.0
            ratio = score / mean if mean > 1e-6 else float("inf")
            is_cut = ratio >= self.config.adaptive_threshold
        decided = (self._next, is_cut)
        self._next += 1
        while len(self._scores) > 2 * w + 1:
            self._scores.popleft()
        return decided
