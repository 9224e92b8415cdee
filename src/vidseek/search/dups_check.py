"""Doubtful segments of a video pair checked with local features, as doubtful search answers are (:mod:`.verify`).

A segment's score is its best key-frame match's, a global-descriptor similarity: a blurred, greyscale or
letterboxed copy can score under the "no match" threshold while two unrelated videos with alike pictures (dark
scenes, screens, open sky, two recordings of one place) score as high.  A segment scoring from
``DupsConfig.check_from`` up to ``DupsConfig.sure`` is checked: the two frames of its best match are decoded and
compared with SIFT key points under one similarity transform (:func:`.verify.inliers`; the second picture also
mirrored; an affine transform for a copy squeezed to another aspect), and if that fails, the first frame with
the second video's frame at the moment the segment's start aligns it with, and, for a pair with no segment at the
threshold whose videos last about as long, at the same place in the second video's timeline (a whole-video copy
whose key frames all matched look-alike shots: :func:`moments`).  With
``min_inliers`` or more, the segment is a verified copy and scores at least :func:`.verify.verified_score`;
otherwise it keeps its score (and :func:`.dups.pair_segments` discounts it if it was at the threshold or above).
Checks are remembered, so a server asking again with another threshold decodes
nothing twice.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

import numpy as np

from .dups import Segment
from .verify import LocalFeatures, VerifyConfig, frame_picture, inliers, verified_score

log = logging.getLogger(__name__)


#: how segments are checked: as search answers are, and a copy squeezed or stretched to another aspect (a portrait or
#: 4:3 video filled into a 16:9 frame) verifies too, under an affine transform whose scales differ by up to 4x
CHECK_CONFIG = VerifyConfig(max_stretch=4.0)


class PairChecker:
    """``checker(a, b, segment, whole)``: the segment's score after checking its best match (videos ``a`` and
    ``b`` are ids of ``paths``; ``whole``: also at the same place in both timelines, for videos of about the same
    ``durations``)."""

    #: frames' key points kept (a frame often stands in several pairs' segments: one excerpt, several look-alikes)
    KEPT_FRAMES = 256

    def __init__(self, paths: dict[int, str], config: VerifyConfig = CHECK_CONFIG,
                 durations: dict[int, float] | None = None):
        self.paths, self.config, self.durations = paths, config, durations or {}
        self._done: dict[tuple, int] = {}
        self._frames: OrderedDict[tuple, dict] = OrderedDict()  # (path, t) -> its grey picture, key points
        self._lock = threading.Lock()

    def __call__(self, a: int, b: int, seg: Segment, whole: bool = True) -> float:
        """The segment's score after the check: at least :func:`.verify.verified_score` if confirmed."""
        confirmed = self.confirm(a, b, seg, whole)
        return seg.score if confirmed is None else max(seg.score, confirmed)

    def confirm(self, a: int, b: int, seg: Segment, whole: bool = True) -> float | None:
        """The score the segment's best match earns as a verified copy, None if the check does not confirm it."""
        if seg.a_time < 0 or seg.b_time < 0 or a not in self.paths or b not in self.paths:
            return None
        n, t_b = 0, seg.b_time
        durations = (self.durations.get(a, 0.0), self.durations.get(b, 0.0)) if whole else (0.0, 0.0)
        for t_b in moments(seg, *durations):
            n = self.checked(a, seg.a_time, b, t_b)
            if n >= self.config.min_inliers:
                break
        if n < self.config.min_inliers:
            return None
        log.debug("segment %s %.2f s = %s %.2f s verified: %d inliers", self.paths[a], seg.a_time, self.paths[b],
                  t_b, n)
        return verified_score(n, self.config)

    def checked(self, a: int, t_a: float, b: int, t_b: float) -> int:
        """:meth:`inliers` of videos ``a`` and ``b``, remembered."""
        key = (a, b, round(t_a, 3), round(t_b, 3))
        with self._lock:
            n = self._done.get(key)
        if n is None:
            n = self.inliers(self.paths[a], t_a, self.paths[b], t_b)
            with self._lock:
                self._done[key] = n
        return n

    def inliers(self, path_a: str, t_a: float, path_b: str, t_b: float) -> int:
        """Inliers between the frame of ``path_a`` at ``t_a`` and that of ``path_b`` at ``t_b`` or its mirror
        image (0 if either cannot be read)."""
        first = self.features(path_a, t_a, mirror=False)
        second = self.features(path_b, t_b, mirror=False)
        if first is None or second is None:
            return 0
        n = inliers(first, second, self.config)
        if n < self.config.min_inliers:
            n = max(n, inliers(first, self.features(path_b, t_b, mirror=True), self.config))
        return n

    def features(self, path: str, t: float, mirror: bool) -> LocalFeatures | None:
        """The key points of the frame of ``path`` at ``t`` (its mirror image's), None if it cannot be read."""
        key = (path, round(t, 3))
        with self._lock:
            kept = self._frames.get(key)
            if kept is not None:
                self._frames.move_to_end(key)
        if kept is None:
            grey = frame_picture(path, t, self.config.side)
            kept = {"grey": grey, False: None if grey is None else LocalFeatures(grey, self.config)}
        if kept["grey"] is not None and mirror not in kept:
            kept[mirror] = LocalFeatures(np.ascontiguousarray(kept["grey"][:, ::-1]), self.config)
        with self._lock:
            self._frames[key] = kept
            while len(self._frames) > self.KEPT_FRAMES:
                self._frames.popitem(last=False)
        return kept.get(mirror)


#: videos whose durations differ by at most this factor may be whole copies of each other (at another speed, or
#: with a few seconds cut), so the same place in both timelines is checked too
WHOLE_COPY_RATIO = 1.3


def moments(seg: Segment, a_duration: float = 0.0, b_duration: float = 0.0) -> list[float]:
    """Where in the second video the first video's best-matching frame is looked for: the moment it matched,
    then the moment the segment's start places it at (a key frame often matches a similar shot of the same
    scene a second or more away: a talking head, a slow pan), then, for videos of about the same duration, the
    same place in the second video's timeline (a heavily degraded whole copy can match only look-alike shots,
    and its segments then start at the wrong moments)."""
    candidates = [seg.b_time, max(0.0, seg.a_time + seg.b_start - seg.a_start)]
    short, long = sorted((a_duration, b_duration))
    if 0 < short and long <= WHOLE_COPY_RATIO * short:
        candidates.append(seg.a_time * b_duration / a_duration)
    found: list[float] = []
    for t in candidates:  # in this order, each at least 0.2 s from those before
        if all(abs(t - u) >= 0.2 for u in found):
            found.append(t)
    return found
