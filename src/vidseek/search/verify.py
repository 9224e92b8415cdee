"""Geometric verification: a doubtful answer checked against its video with local features.

A global descriptor is one vector per picture: a small picture-in-picture inset, strong noise, a crop or JPEG
blocks move it far enough that a true copy scores under the "no match" threshold, while an unrelated look-alike
can score as high.  Local features decide such cases the way copy detection has long done (Douze et al. 2009):
SIFT key points of the query and of the matched frame, matched one to one (Lowe's ratio test), then a similarity
transform (turn, scale, shift) fitted by RANSAC.  A copy shares many points under one transform; unrelated
pictures share a handful at most (on ``bench/accuracy.py``, at most 4 over 1,229 unrelated pairs on both seeds,
against 6 or more for 83-85% of true pairs).  A transform that shrinks everything into one spot, or inliers
bunched in a sliver of the frame, count as no match.  The query is compared as it is, then as its mirror image,
then, when it has a content region (:mod:`.regions`), as that region cut out: a picture keeps its strongest key
points, and on a picture-in-picture over a busy ground most of them are the ground's.

Only doubtful answers pay for it: when the best hit scores under ``sure``, the ``hits`` best hits whose video can
be read are checked (the frame at the hit's time, the best placed first; for a clip, its frame that matched the
hit's best key frame, against the video's frame at that moment of the clip: the key frame itself is often a
similar shot seconds away), in parallel threads.  A hit with at least ``min_inliers`` inliers is a verified
copy: its score is raised to at least :func:`verified_score` (``floor`` at ``min_inliers``, towards 1 with
more), so it passes the default threshold and outranks unverified look-alikes.  A hit that fails keeps its
score: verification only ever adds evidence.  The right video is often found at the wrong moment (a similar
shot of the same scene), so an image's best hit also carries its video's next best key frame at another moment
(``moments``); when the hit's own frame fails and that one verifies, the hit moves there.  A clip's best hit
whose matched frame fails is checked again with the clip's first (or last) frame, at its aligned moment
(``clip_frames``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..errors import VidseekError
from ..video.decode import DecodedFrame, VideoReader
from .hits import Hit

if TYPE_CHECKING:
    from .frame_cache import FrameFeatureCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyConfig:
    hits: int = 3  # best hits checked (0: no verification)
    sure: float = 0.7  # a best hit scoring this much is not checked
    side: int = 360  # longer side of the pictures compared (px)
    features: int = 1000  # SIFT key points per picture at most
    ratio: float = 0.8  # Lowe's ratio test
    reprojection: float = 3.0  # RANSAC inlier distance (px, at ``side``)
    min_inliers: int = 6  # inliers that make a copy
    min_spread: float = 0.1  # inliers span at least this share of the frame's width and height
    floor: float = 0.6  # the score of a copy verified with ``min_inliers``
    moments: int = 1  # an image's best hit failing: its video's next best key frames at other moments tried
    moment_gap: float = 1.0  # seconds between the moments tried
    clip_check: str = "aligned"  # a clip's frame is checked against the video's frame at the same moment of the
    # clip ("aligned": the hit's start plus the frame's time in the clip) or against the key frame it matched
    clip_frames: int = 2  # a clip's best hit failing: its first query frame (its last, if that one matched) tried
    regions: bool = True  # a query frame's content region (cut out) is compared too when the frame and its mirror fail
    max_stretch: float = 1.0  # above 1: when no similarity transform fits, an affine one whose two scales differ by
    # up to this factor is tried (a copy squeezed or stretched to another aspect); 1: similarity transforms only


def small_grey(image: np.ndarray, side: int) -> np.ndarray:
    """A grey uint8 copy with its longer side at most ``side``."""
    pil = Image.fromarray(np.ascontiguousarray(image)).convert("L")
    scale = side / max(pil.size)
    if scale < 1:
        pil = pil.resize((max(1, round(pil.width * scale)), max(1, round(pil.height * scale))), Image.Resampling.BOX)
    return np.asarray(pil)


class LocalFeatures:
    """SIFT key points (positions) and descriptors of one grey picture."""

    def __init__(self, grey: np.ndarray, config: VerifyConfig):
        import cv2

        points, desc = cv2.SIFT_create(nfeatures=config.features).detectAndCompute(grey, None)
        self.points = np.float32([p.pt for p in points]).reshape(-1, 2)
        self.desc = desc
        self.shape = grey.shape

    def __len__(self) -> int:
        return 0 if self.desc is None else len(self.desc)


def inliers(query: LocalFeatures, frame: LocalFeatures, config: VerifyConfig) -> int:
    """Key points of ``query`` that one similarity transform carries onto their matches in ``frame`` (0 when
    the transform is degenerate or its inliers cover too little of the frame)."""
    import cv2

    if len(query) < 3 or len(frame) < 3:
        return 0
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(query.desc, frame.desc, k=2)
    best: dict[int, cv2.DMatch] = {}  # one to one: each frame point keeps its closest query point
    for pair in pairs:
        if len(pair) == 2 and pair[0].distance < config.ratio * pair[1].distance:
            m = pair[0]
            if m.trainIdx not in best or m.distance < best[m.trainIdx].distance:
                best[m.trainIdx] = m
    if len(best) < config.min_inliers:  # cannot reach the bar
        return 0
    return _fitted(query, frame, list(best.values()), config)


def _fitted(query: LocalFeatures, frame: LocalFeatures, matches: list, config: VerifyConfig) -> int:
    import cv2

    src = query.points[[m.queryIdx for m in matches]]
    dst = frame.points[[m.trainIdx for m in matches]]
    transform, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                                  ransacReprojThreshold=config.reprojection)
    n = _kept(transform, mask, dst, frame.shape, config)
    if n < config.min_inliers and config.max_stretch > 1:  # squeezed or stretched: two scales
        transform, mask = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=config.reprojection)
        if _stretch(transform, config.max_stretch):
            n = max(n, _kept(transform, mask, dst, frame.shape, config))
    return n


def _stretch(transform, max_stretch: float, skew: float = 0.1) -> bool:
    """Whether an affine transform scales x and y by its own factor each, up to ``max_stretch`` apart, and does
    little else (no flip; rotation and shear terms under ``skew`` of the scales): the geometry of a picture
    squeezed to another aspect.  Unrelated look-alikes (one skyline filmed twice) fit wild affine transforms."""
    if transform is None:
        return False
    (sx, kx), (ky, sy) = transform[0, :2], transform[1, :2]
    return bool(sx > 0 and sy > 0 and max(sx, sy) <= max_stretch * min(sx, sy)
                and abs(kx) <= skew * sy and abs(ky) <= skew * sx)


def _kept(transform, mask, dst: np.ndarray, shape: tuple, config: VerifyConfig) -> int:
    """The inliers of a fitted transform, 0 when it is degenerate (a scale beyond 8x either way) or its inliers span
    too little of the frame."""
    if transform is None or mask is None:
        return 0
    scales = np.hypot(transform[0, :2], transform[1, :2])  # of the x and y axes
    if not (1 / 8 <= scales.min() and scales.max() <= 8):  # everything shrunk into one spot, or blown up from one
        return 0
    kept = dst[mask.ravel() > 0]
    h, w = shape
    if len(kept) < 3 or np.ptp(kept[:, 0]) < config.min_spread * w or np.ptp(kept[:, 1]) < config.min_spread * h:
        return 0
    return int(len(kept))


def verified_score(n: int, config: VerifyConfig) -> float:
    """The score a verified copy is given at least: ``floor`` at ``min_inliers`` inliers, towards 1 with more."""
    return config.floor + (1.0 - config.floor) * (1.0 - config.min_inliers / max(n, config.min_inliers))


def grey_picture(frame: DecodedFrame, side: int) -> np.ndarray:
    """A decoded frame as compared here: grey, upright, longer side ``side``."""
    return small_grey(frame.rgb(side), side)


def frame_picture(path: str, t: float, side: int, threads: int = 0) -> np.ndarray | None:
    """The grey frame of ``path`` at ``t`` seconds (upright, longer side ``side``), None if it cannot be read.
    ``threads``: decoder threads (:class:`~vidseek.video.decode.VideoReader`; 1 where callers decode in parallel)."""
    try:
        with VideoReader(path, threads=threads) as reader:
            for frame in reader.frames_at([max(0.0, t - 1e-3)]):
                return grey_picture(frame, side)
    except (VidseekError, OSError) as exc:
        log.debug("hit in %s not verified: %s", path, exc)
    return None


def needs_check(hits: list[Hit], config: VerifyConfig) -> bool:
    return config.hits > 0 and bool(hits) and hits[0].score < config.sure


def verify(hits: list[Hit], pictures: list[np.ndarray], config: VerifyConfig, kind: str = "image",
           before: Callable[[Hit], tuple[float, np.ndarray] | None] | None = None,
           times: list[float] | None = None, regions: list[np.ndarray | None] | None = None,
           cache: FrameFeatureCache | None = None) -> list[Hit]:
    """Check the ``config.hits`` best hits and return all hits, verified scores raised, best first.  An image is
    compared with the frame at the hit's time, a clip's frame that matched the hit's best key frame
    (``hit.query_frame``, at ``times[hit.query_frame]`` in the clip) with the frame that long after the hit's
    start (``clip_check="keyframe"``: with that key frame).  ``before(hit)`` runs first in the hit's thread
    (placing it, so that an image is checked at its exact frame while the other hits are checked beside it); it
    may return a (time in the video, grey picture) it decoded, used instead of decoding that frame again.
    ``regions``: per query frame its content region, small and grey, or None (:mod:`.regions`): a picture-in-picture
    inset on a busy ground, whose key points the ground outnumbers (a picture keeps its ``features`` strongest), is
    compared on its own too.  ``cache``: the features of frames checked lately (:mod:`.frame_cache`), kept for the
    next searches.  Hits of videos that cannot be read are left as they are."""
    todo = hits[: config.hits]
    if not todo or not pictures:
        return hits
    queries = QueryFeatures(pictures, config, regions if config.regions else None)
    for i in {h.query_frame for h in todo}:  # before the threads, which share them
        queries.get(i, mirror=False)

    def check(hit: Hit) -> int:
        known = before(hit) if before is not None else None
        if kind == "image":
            return check_at(hit, hit.time, known=known)
        if config.clip_check == "keyframe" or not times:
            return check_at(hit, hit.keyframe_time)
        n = 0
        for i in _clip_frames(hit.query_frame, len(times), config.clip_frames if hit is todo[0] else 1):
            n = max(n, check_at(hit, hit.time + times[i], i, known))
            if n >= config.min_inliers:
                break
        return n

    def check_at(hit: Hit, t: float, i: int | None = None, known: tuple[float, np.ndarray] | None = None) -> int:
        """Inliers between query frame ``i`` (the hit's ``query_frame``) and the hit's video at ``t`` (``known``:
        a time and its picture, decoded already)."""
        i = hit.query_frame if i is None else i
        if known is not None and abs(known[0] - t) < 1e-4:
            target = LocalFeatures(known[1], config)
        else:
            target = _frame_features(hit.video, t, config, cache)
        if target is None:
            return 0
        n = inliers(queries.get(i, mirror=False), target, config)
        if n < config.min_inliers:  # a mirrored copy: its points match the mirror image's
            n = max(n, inliers(queries.get(i, mirror=True), target, config))
        if n < config.min_inliers and queries.has_region(i):
            n = max(n, inliers(queries.get(i, mirror=False, region=True), target, config))
        return n

    # other moments are checked beside the hits, in case the hit's own frame fails (on two threads, the best
    # hit's placing and check take about as long as the rest together)
    moments = [(hit, m) for hit in todo for m in hit.moments] if kind == "image" else []
    with ThreadPoolExecutor(max_workers=min(2, len(todo) + len(moments))) as pool:  # decoding, SIFT: no GIL
        found = [pool.submit(check, hit) for hit in todo]
        at_moments = [pool.submit(check_at, hit, m[0]) for hit, m in moments]
        found = [f.result() for f in found]
        at_moments = [f.result() for f in at_moments]
    for i, hit in enumerate(todo):
        for (of, (t, frame, kf_id)), n in zip(moments, at_moments):
            if of is hit and found[i] < config.min_inliers <= n:  # the right video at another moment: moved there
                hit.time = hit.keyframe_time = t
                hit.frame = hit.keyframe_frame = frame
                hit.keyframe_id = kf_id
                found[i] = n
                break
        if found[i] >= config.min_inliers:
            log.debug("verified %s at %.2f s: %d inliers", hit.video, hit.keyframe_time, found[i])
            hit.score = max(hit.score, verified_score(found[i], config))
    return sorted(hits, key=lambda h: -h.score)


def _frame_features(path: str, t: float, config: VerifyConfig, cache: FrameFeatureCache | None
                    ) -> LocalFeatures | None:
    """The features of ``path``'s frame at ``t`` s (None: it cannot be read), kept in ``cache`` if given."""

    def compute() -> LocalFeatures | None:
        # one decoder thread each: the checks run two at a time, on as many cores (the same frames, less switching)
        frame = frame_picture(path, t, config.side, threads=1)
        return None if frame is None else LocalFeatures(frame, config)

    return compute() if cache is None else cache.get(path, t, config, compute)


def _clip_frames(matched: int, count: int, most: int) -> list[int]:
    """The query frames a clip's hit is checked with, in order: the one that matched, then the first (the last
    when the first matched): far apart in the clip, so a wrong offset or a changing shot spares one of them."""
    matched = min(matched, count - 1)
    other = count - 1 if matched == 0 else 0
    return [matched] if most < 2 or other == matched else [matched, other]


class QueryFeatures:
    """The query frames' features (and their mirror images' and content regions'), each computed once per search,
    when first needed, by whichever checking thread needs it first: a thread that needs one being computed waits
    for it (two checks failing at once both want the mirror's, which costs as much as a frame's)."""

    def __init__(self, pictures: list[np.ndarray], config: VerifyConfig,
                 regions: list[np.ndarray | None] | None = None):
        self.pictures, self.config, self.regions = pictures, config, regions  # regions: one per picture (or None)
        self._done: dict[tuple[int, bool, bool], LocalFeatures] = {}
        self._busy: dict[tuple[int, bool, bool], threading.Lock] = {}  # one per picture: held while computed
        self._lock = threading.Lock()  # guards _busy

    @property
    def computed(self) -> int:
        """How many were computed (tests)."""
        return len(self._done)

    def has_region(self, i: int) -> bool:
        return self.regions is not None and self.regions[min(i, len(self.pictures) - 1)] is not None

    def get(self, i: int, mirror: bool, region: bool = False) -> LocalFeatures:
        key = (min(i, len(self.pictures) - 1), mirror, region)
        with self._lock:
            busy = self._busy.setdefault(key, threading.Lock())
        with busy:
            if key not in self._done:
                picture = (self.regions if region else self.pictures)[key[0]]
                self._done[key] = LocalFeatures(np.ascontiguousarray(picture[:, ::-1]) if mirror else picture,
                                                self.config)
            return self._done[key]
