"""Dense refinement of copy segments: where a shared segment really starts and ends, frame by frame.

Key frames are sparse (one per shot segment of up to a few seconds), so a segment found from key-frame matches
(:mod:`vidseek.search.dups`) is placed to within a key-frame interval at each end, and in slow or repetitive
footage its offset between the two videos can be off by as much.  Refinement decodes both videos around the
segment at ``fps`` frames a second, embeds the frames with the index's own model (at ``image_size``, smaller than
the index's, since only these frames are compared with each other), and compares every frame of one window with
every frame of the other: a copy is a line ``t_b = offset + speed * t_a`` along which the frames are alike.  Of the
lines near the key-frame offset (and, for mirrored or turned copies, of the copy's transform) the one with the
strongest run of alike frames wins; the run is the segment.  A segment that no line supports keeps its key-frame
estimate.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import numpy as np

from .dups import TRANSFORMS, Pair, Segment, make_pair, one_place

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefineConfig:
    fps: float = 4.0  # frames a second decoded around a segment in each video
    margin: float = 3.0  # seconds looked at beyond each end of the key-frame segment
    search: float = 4.0  # seconds either way of the key-frame offset tried
    speeds: tuple[float, ...] = (1.0, 0.8, 0.9, 1.1, 1.25)  # playback speed of b relative to a tried
    image_size: int = 224  # longer side of the frames embedded
    alike: float = 0.5  # frames this alike (fraction of the line's best similarity) count as the same picture
    floor: float = 0.25  # ... and at least this cosine similarity
    sure: float = 0.6  # a frame pair this alike (cosine) shows the copy is not mirrored or turned
    transforms: tuple[str, ...] = ("mirror", "rot90", "rot270")  # tried on b when the plain frames do not match


def refine_config(dups) -> RefineConfig:
    """The refinement of `vidseek dups` run with ``dups`` (a DupsConfig): its transforms, both ways (here only the
    second video's frames are transformed, so a turn one way does not find a copy turned the other way)."""
    turns = {"rot90", "rot270"} & set(dups.transforms)
    return RefineConfig(transforms=tuple(dict.fromkeys(t for name in dups.transforms
                                                       for t in (("rot90", "rot270") if turns and name in turns
                                                                 else (name,)))))


def dense_model(model, image_size: int):
    """The index's feature model at another input size (same network, channels and whitening)."""
    small = copy.copy(model)
    small.backbone = copy.copy(model.backbone)
    small.backbone.image_size = int(image_size)
    return small


class DenseFrames:
    """Embedded frames of videos on a grid of ``1/fps`` seconds, decoded and embedded once each, so that a video
    in several pairs (a compilation, a much-copied source) is not decoded again for each."""

    def __init__(self, model, cfg: RefineConfig):
        self.model, self.cfg = model, cfg
        self.seen: dict[tuple[str, str | None], dict[int, tuple[float, np.ndarray]]] = {}

    def grid(self, lo: float, hi: float, duration: float) -> range:
        step = 1.0 / self.cfg.fps
        last = max(duration, 0.0) - 0.5 * step if duration > 0 else hi
        return range(max(0, int(np.ceil(lo / step - 1e-9))), int(np.floor(min(hi, last) / step + 1e-9)) + 1)

    def window(self, path: str, duration: float, lo: float, hi: float,
               transform: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(times, vectors) of the frames of ``path`` on the grid between ``lo`` and ``hi`` seconds."""
        known = self.seen.setdefault((path, transform), {})
        ks = list(self.grid(lo, hi, duration))
        missing = [k for k in ks if k not in known]
        if missing:
            times, pics = decode_frames(path, [k / self.cfg.fps for k in missing], self.cfg.image_size)
            if transform is not None:
                pics = [np.ascontiguousarray(TRANSFORMS[transform](p)) for p in pics]
            vecs = self.model.embed(pics) if pics else np.zeros((0, self.model.dim), np.float32)
            for k, t, v in zip(missing, times.tolist(), vecs):
                known[k] = (t, v)
            for k in missing[len(pics):]:  # past the last frame
                known[k] = (np.nan, None)
        got = [known[k] for k in ks if known[k][1] is not None]
        if not got:
            return np.zeros(0), np.zeros((0, self.model.dim), np.float32)
        return np.array([t for t, _ in got]), np.stack([v for _, v in got])


def decode_frames(path: str, times: list[float], max_side: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The frames at (or just after) ``times``: their real times and RGB pictures, ``max_side`` px."""
    from ..video.decode import VideoReader

    got_t, got = [], []
    with VideoReader(path) as reader:
        for f in reader.frames_at(times):
            got_t.append(f.time)
            got.append(f.rgb(max_side))
    return np.asarray(got_t, np.float64), got


def best_run(profile: np.ndarray, threshold: float) -> tuple[float, int, int]:
    """The run of consecutive entries that maximises the sum of (entry - threshold) (missing entries: NaN,
    never inside a run): (sum, first, last), or (0, -1, -1) when no entry reaches the threshold."""
    best, lo, hi = 0.0, -1, -1
    run, start = 0.0, 0
    for i, v in enumerate(profile.tolist()):
        if v != v:  # NaN
            run, start = 0.0, i + 1
            continue
        if run <= 0:
            run, start = 0.0, i
        run += v - threshold
        if run > best:
            best, lo, hi = run, start, i
    return best, lo, hi


def along(sim: np.ndarray, ta: np.ndarray, tb: np.ndarray, offset: float, speed: float, fps: float) -> np.ndarray:
    """Similarity of each frame of a with the frame of b at ``offset + speed * t_a`` (NaN outside b's window)."""
    want = offset + speed * ta
    j = np.clip(np.searchsorted(tb, want), 1, len(tb) - 1)
    j = np.where(np.abs(tb[j - 1] - want) <= np.abs(tb[j] - want), j - 1, j)
    inside = np.abs(tb[j] - want) <= 0.75 / fps
    return np.where(inside, sim[np.arange(len(ta)), j], np.nan)


def best_line(sim: np.ndarray, ta: np.ndarray, tb: np.ndarray, anchor: float, offset0: float, cfg: RefineConfig):
    """(run strength, offset, speed, first a index, last a index) of the strongest line through about
    (``anchor``, ``anchor + offset0``)."""
    threshold = max(cfg.floor, cfg.alike * float(sim.max()))
    best = (0.0, offset0, 1.0, -1, -1)
    for speed in cfg.speeds:
        for offset in np.arange(offset0 - cfg.search, offset0 + cfg.search + 1e-6, 0.5 / cfg.fps):
            off = float(offset) + (1.0 - speed) * anchor
            strength, lo, hi = best_run(along(sim, ta, tb, off, speed, cfg.fps), threshold)
            if strength > best[0] + 1e-9:
                best = (strength, off, speed, lo, hi)
    return best


def pick_transform(frames: DenseFrames, va: np.ndarray, b: tuple[str, float], lo: float, hi: float):
    """(transform name or None, times and vectors of b's window under it): the plain frames when some frame of b
    is ``sure``-alike to some frame of a, else whichever transform matches best (mirrored and turned copies)."""
    cfg = frames.cfg
    plain = frames.window(b[0], b[1], lo, hi)
    best, name = float((va @ plain[1].T).max(initial=-1.0)), None
    if best >= cfg.sure:
        return None, plain
    for t in cfg.transforms:
        got = frames.window(b[0], b[1], lo, hi, t)
        s = float((va @ got[1].T).max(initial=-1.0))
        if s > best + 0.05:
            best, name, plain = s, t, got
    return name, plain


def refine_window(frames: DenseFrames, a: tuple[str, float], b: tuple[str, float], a_range: tuple[float, float],
                  anchor: float, offset0: float):
    """The strongest line of alike frames between a's frames in ``a_range`` and b's frames around them along
    about ``offset0``: (a start, a end, offset, speed, transform), or None."""
    cfg = frames.cfg
    ta, va = frames.window(a[0], a[1], *a_range)
    if len(ta) < 2:
        return None
    reach = cfg.search + 0.5 * (a_range[1] - a_range[0]) * max(abs(1 - s) for s in cfg.speeds)
    name, (tb, vb) = pick_transform(frames, va, b, a_range[0] + offset0 - reach, a_range[1] + offset0 + reach)
    if len(tb) < 2:
        return None
    strength, offset, speed, lo, hi = best_line(va @ vb.T, ta, tb, anchor, offset0, cfg)
    if lo < 0:
        return None
    half = 0.5 / cfg.fps
    return max(0.0, ta[lo] - half), min(max(a[1], ta[hi]), ta[hi] + half), offset, speed, name


def refine_segment(frames: DenseFrames, a: tuple[str, float], b: tuple[str, float], seg: Segment) -> Segment:
    """``seg`` of videos ``a`` and ``b`` ((path, duration) each) placed frame by frame: its start from the frames
    around its start, its end from those around its end (one window for a short segment, so the work does not
    grow with the segment's length); an end keeps its key-frame estimate where the videos cannot be read or no
    line of alike frames supports it."""
    m = frames.cfg.margin
    offset0 = seg.b_start - seg.a_start
    try:
        if seg.a_end - seg.a_start <= 4 * m:
            first = last = refine_window(frames, a, b, (seg.a_start - m, seg.a_end + m), seg.a_start, offset0)
        else:
            first = refine_window(frames, a, b, (seg.a_start - m, seg.a_start + m), seg.a_start, offset0)
            last = refine_window(frames, a, b, (seg.a_end - m, seg.a_end + m), seg.a_end, seg.b_end - seg.a_end)
    except Exception as exc:  # noqa: BLE001 - an unreadable video keeps the key-frame estimate
        log.warning("%s / %s: segment not refined (%s)", a[0], b[0], exc)
        return seg
    a0, b0 = (seg.a_start, seg.b_start) if first is None else (first[0], first[2] + first[3] * first[0])
    a1, b1 = (seg.a_end, seg.b_end) if last is None else (last[1], last[2] + last[3] * last[1])
    if a1 <= a0:
        return seg
    log.debug("refined %s / %s: %s -> a %.2f-%.2f b %.2f-%.2f (%s)", a[0], b[0], seg, a0, a1, b0, b1,
              first and first[4])
    return Segment(a0, a1, max(0.0, b0), max(0.0, b1), seg.score, seg.a_frame, seg.b_frame)


def refine_pairs(index, pairs: list[Pair], cfg: RefineConfig = RefineConfig()) -> list[Pair]:
    """Every segment of ``pairs`` (videos of the opened ``index``) refined frame by frame; segments that now cover
    the same part of a video are one.  Pairs in the order given, which keeps videos' frames reused."""
    frames = DenseFrames(dense_model(index.model, cfg.image_size), cfg)
    return [refine_pair(frames, p, index.path_durations) for p in pairs]


def refine_pair(frames: DenseFrames, pair: Pair, durations: dict[str, float], memo: dict | None = None,
                min_score: float = -np.inf) -> Pair:
    """``pair`` with its segments scoring ``min_score`` or more placed frame by frame (``memo``: segments placed
    before, by (a, b, segment), reused), the others as they are; segments that now cover the same part of a are
    one."""
    a, b = (pair.a, durations.get(pair.a, 0.0)), (pair.b, durations.get(pair.b, 0.0))
    segs = []
    for g in pair.segments:
        key = (pair.a, pair.b, g.a_start, g.a_end, g.b_start, g.b_end)
        if g.score < min_score:
            segs.append(g)
        elif memo is not None and key in memo:
            segs.append(memo[key])
        else:
            segs.append(refine_segment(frames, a, b, g))
            if memo is not None:
                memo[key] = segs[-1]
    return make_pair(pair.a, pair.b, one_place(segs))
