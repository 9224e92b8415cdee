"""Copies inside the collection: pairs of indexed videos that share footage, with the shared segments.

Three steps, each a plain function so that a Spark job (:mod:`vidseek.engine.dups`) and one process run the same
code:

1. :func:`keyframe_matches`: every key frame searches the index like a query picture (its stored vector, and
   its thumbnail mirrored and turned a quarter either way, so that mirrored copies and copies whose rotation tag
   was lost are found; ADC, exact re-ranking, the calibrated scores of :mod:`.scoring`) and keeps its best
   neighbours in *other* videos scoring at least ``floor``.  Flat key frames (black, fades, plain cards) take
   no part.  The cost grows with key frames x neighbours, not with key frames squared.
2. :func:`align`: per pair of videos, the matches are chained along a common time offset: consecutive matches
   advance in both videos, at speeds that differ by at most ``speed`` (frame-rate and playback-speed changes), with
   gaps of at most ``max_gap`` seconds.  Each chain is a segment: its time ranges in both videos and its score,
   the best key-frame score in it, which means what a search score means (the same ``--min-score``).
3. :func:`pairs_of`: segments at or above ``min_score`` and at least ``min_duration`` long; a pair's score is its
   best segment's.  A video is never paired with itself; ``a`` is the pair's first path in sorted order.
4. :mod:`.refine` places each reported segment frame by frame (key frames are seconds apart): both videos are
   decoded around the segment's ends and the line of alike frames gives its start, end and offset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .scoring import DEFAULT_MIN_SCORE


#: above this many key frames, in-process work is slow (every key frame's thumbnail goes through the CNN three
#: times, about 14 key frames/s on 2 cores: bench/dups.py); `vidseek dups` turns to Spark, the server declines
LOCAL_MAX_KEYFRAMES = 5_000


@dataclass(frozen=True)
class DupsConfig:
    min_score: float = DEFAULT_MIN_SCORE  # a segment is reported from this score on (as search results are)
    min_duration: float = 0.0  # seconds of the first video a segment spans at least
    neighbours: int = 8  # key frames of other videos kept per key frame
    depth: int = 64  # candidates per key frame re-ranked exactly
    floor: float = 0.25  # key-frame matches below this take no part in the alignment
    max_gap: float = 12.0  # seconds between two matches of one segment (in either video)
    speed: float = 0.3  # relative speed difference tolerated along a segment
    slack: float = 1.5  # seconds of timing error tolerated between consecutive matches (key-frame spacing)
    min_contrast: float = 12.0  # key frames whose thumbnail's grey levels vary less (std, 0-255) are left out
    # also searched, from the key frame's thumbnail; every key frame of both videos is searched, so a turn one way
    # finds copies turned either way (a copy turned back is the original turned the other way)
    transforms: tuple[str, ...] = ("mirror", "rot90")
    extend_max: float = 4.0  # a segment ends where its last key frame's span ends (the next key frame), at most this
    refine: bool = True  # place each reported segment frame by frame (vidseek.search.refine)
    check_from: float = 0.25  # segments scoring from this up to ``sure`` are checked with local features
    # (vidseek.search.dups_check): a verified copy is reported (the best one under min_score of each pair is checked)
    sure: float = 0.7  # a segment scoring this much is not checked (search's VerifyConfig.sure) ...
    unconfirmed: float = 0.75  # ... and one from min_score up to it that the check does not confirm is scored this
    # much lower (x0.75: 0.7 -> 0.525, under the default threshold): every key frame of a pair meets every other, in
    # three variants, so unrelated look-alikes (two recordings of one place) reach the doubtful band more often than
    # a search answer does

    @property
    def checks(self) -> bool:
        """Whether any segment is checked with local features (``--no-check`` sets ``check_from`` to 1)."""
        return self.check_from < max(self.min_score, self.sure)


@dataclass
class Segment:
    a_start: float
    a_end: float
    b_start: float
    b_end: float
    score: float
    a_frame: int = -1  # frame numbers of the best-matching key frames (thumbnails), not in the JSON contract
    b_frame: int = -1
    a_time: float = -1.0  # their times (-1: not known), for checking a doubtful segment
    b_time: float = -1.0

    def to_json(self) -> dict:
        return {"a_start": round(self.a_start, 3), "a_end": round(self.a_end, 3), "b_start": round(self.b_start, 3),
                "b_end": round(self.b_end, 3), "score": round(self.score, 6)}


@dataclass
class Pair:
    a: str
    b: str
    score: float
    segments: list[Segment] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "score": round(self.score, 6), "segments": [s.to_json() for s in self.segments]}


#: doubtful segments of one pair under the threshold checked with local features at most (the best scoring first)
CHECKED_PER_PAIR = 1
#: segments of one pair from the threshold up to ``sure`` checked at most (the best first); the others in that band
#: are scored as unconfirmed ones (the cost stays bounded at a low ``--min-score``)
CONFIRMED_PER_PAIR = 4

MATCH_DTYPE = np.dtype([("a", np.int64), ("b", np.int64), ("ta", np.float32), ("tb", np.float32),
                        ("score", np.float32), ("fa", np.int32), ("fb", np.int32), ("ea", np.float32),
                        ("eb", np.float32)])  # e: where the key frame's span ends (covered_until)


def covered_until(table, extend_max: float) -> np.ndarray:
    """Per row, the time until which its key frame stands for its video: the next key frame's time (key frames
    are taken when the picture changes), the video's end after the last one; at most ``extend_max`` later."""
    out = table.time.astype(np.float32).copy()
    live = table.live_rows()
    order = live[np.lexsort((table.time[live], table.video[live]))]
    v, tm = table.video[order], table.time[order].astype(np.float32)
    durations = np.array([table.durations.get(int(i), 0.0) for i in table.video_ids], np.float32)
    end = np.maximum(durations[v] if len(v) else tm, tm)
    same = np.zeros(len(order), bool)
    same[:-1] = v[1:] == v[:-1]
    end[:-1] = np.where(same[:-1], tm[1:], end[:-1])
    out[order] = np.minimum(end, tm + extend_max)
    return out


TRANSFORMS = {"mirror": lambda a: a[:, ::-1], "rot90": lambda a: np.rot90(a, 1), "rot180": lambda a: np.rot90(a, 2),
              "rot270": lambda a: np.rot90(a, 3)}


def decode_thumbnail(jpeg: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


def contrast(img: np.ndarray) -> float:
    """Standard deviation of an image's grey levels (0 for a black, white or flat frame), on 64 px."""
    step = max(1, max(img.shape[:2]) // 64)
    return float(img[::step, ::step].astype(np.float32).mean(axis=2).std())


class Thumbs:
    """Key frames' thumbnails, decoded once, and which key frames are flat: black, flat and faded frames are
    alike in every video and would pair unrelated videos (title cards, fades, test patterns)."""

    def __init__(self, index, min_contrast: float):
        self.index, self.min_contrast = index, min_contrast
        self.known = np.full(len(index.table), -1, np.int8)  # -1 not looked at, 0 informative, 1 flat

    def image(self, row: int) -> np.ndarray | None:
        try:
            return decode_thumbnail(self.index.thumbnail(self.index.table.keyframe_id(row)))
        except (KeyError, OSError, ValueError):  # no thumbnail
            return None

    def flat(self, rows: np.ndarray) -> np.ndarray:
        if self.min_contrast <= 0:
            return np.zeros(len(rows), bool)
        for row in rows[self.known[rows] < 0].tolist():
            img = self.image(row)
            self.known[row] = img is not None and contrast(img) < self.min_contrast
        return self.known[rows] == 1


def query_vectors(index, thumbs: Thumbs, rows: np.ndarray, transforms: tuple[str, ...]) -> np.ndarray:
    """(rows, 1 + transforms, d): each key frame's stored vector, then its thumbnail's transforms embedded
    (the stored vector again where a key frame has no thumbnail)."""
    stored = index.table.vectors(rows).astype(np.float32)
    if not transforms:
        return stored[:, None, :]
    images, where = [], []
    for i, row in enumerate(rows.tolist()):
        img = thumbs.image(row)
        if img is not None:
            images += [np.ascontiguousarray(TRANSFORMS[t](img)) for t in transforms]
            where.append(i)
    out = np.repeat(stored[:, None, :], 1 + len(transforms), axis=1)
    if images:
        out[where, 1:] = index.model.embed(images).reshape(len(where), len(transforms), -1)
    return out


def keyframe_matches(index, rows: np.ndarray, cfg: DupsConfig = DupsConfig(), batch: int = 64) -> np.ndarray:
    """Matches of the key frames ``rows`` (table rows) with key frames of other videos: structured array of
    (video a, video b, time in a, time in b, score) with ``a`` the video whose path sorts first.  Flat key frames
    neither search nor count as matches."""
    t = index.table
    paths = index.video_paths
    thumbs = Thumbs(index, cfg.min_contrast)
    until = covered_until(t, cfg.extend_max)
    rows = np.asarray(rows, np.int64)
    rows = rows[~thumbs.flat(rows)]
    out = []
    for s in range(0, len(rows), batch):
        chunk = rows[s : s + batch]
        qv = query_vectors(index, thumbs, chunk, cfg.transforms)
        for row, (cand, scores) in zip(chunk.tolist(), index.candidates_batch(qv, cfg.depth, rerank=True)):
            own = t.video[row]
            keep = (t.video[cand] != own) & (scores >= cfg.floor)
            keep[keep] = ~thumbs.flat(cand[keep])
            cand, scores = cand[keep][: cfg.neighbours], scores[keep][: cfg.neighbours]
            if not len(cand):
                continue
            va, vb = int(t.video_of(row)), t.video_of(cand)
            m = np.zeros(len(cand), MATCH_DTYPE)
            first = np.array([paths[va] < paths[int(v)] for v in vb.tolist()])
            m["a"] = np.where(first, va, vb)
            m["b"] = np.where(first, vb, va)
            m["ta"] = np.where(first, t.time[row], t.time[cand])
            m["tb"] = np.where(first, t.time[cand], t.time[row])
            m["fa"] = np.where(first, t.frame[row], t.frame[cand])
            m["fb"] = np.where(first, t.frame[cand], t.frame[row])
            m["ea"] = np.where(first, until[row], until[cand])
            m["eb"] = np.where(first, until[cand], until[row])
            m["score"] = scores
            out.append(m)
    return np.concatenate(out) if out else np.zeros(0, MATCH_DTYPE)


def dedupe(m: np.ndarray) -> np.ndarray:
    """One match per (a, b, ta, tb): a pair of key frames found from both sides is one match (its best score)."""
    if not len(m):
        return m
    m = m[np.lexsort((-m["score"], m["tb"], m["ta"], m["b"], m["a"]))]
    key = np.stack([m["a"], m["b"], m["ta"].view(np.int32), m["tb"].view(np.int32)], axis=1)
    first = np.ones(len(m), bool)
    first[1:] = (key[1:] != key[:-1]).any(axis=1)
    return m[first]


def align(ta: np.ndarray, tb: np.ndarray, score: np.ndarray, cfg: DupsConfig = DupsConfig(),
          frames: tuple[np.ndarray, np.ndarray] | None = None,
          ends: tuple[np.ndarray, np.ndarray] | None = None) -> list[Segment]:
    """Segments of one video pair from its key-frame matches (times in a, times in b, scores; ``frames``: the
    key frames' frame numbers in a and b, for each segment's best match; ``ends``: where each key frame's span
    ends in a and b, so that a segment ends with its last key frame's span, not at its start)."""
    order = np.lexsort((tb, ta))
    chains: list[list[int]] = []
    for i in order.tolist():
        best, best_err = None, None
        for c, chain in enumerate(chains):
            j, k = chain[-1], chain[0]
            da, db = float(ta[i] - ta[j]), float(tb[i] - tb[j])
            if da > cfg.max_gap or abs(db) > cfg.max_gap or db < -cfg.slack:
                continue
            err = abs(db - da)
            span_a, span_b = float(ta[i] - ta[k]), float(tb[i] - tb[k])  # from the chain's start: no drift
            drift = abs(span_b - span_a)
            if (err <= cfg.slack + cfg.speed * max(da, db) and drift <= cfg.slack + cfg.speed * max(span_a, span_b)
                    and (best_err is None or err < best_err)):
                best, best_err = c, err
        if best is None:
            chains.append([i])
        else:
            chains[best].append(i)
    fa, fb = frames if frames is not None else (np.full(len(ta), -1), np.full(len(ta), -1))
    ea, eb = ends if ends is not None else (ta, tb)
    segs = []
    for c in map(np.asarray, chains):
        best = c[int(np.argmax(score[c]))]
        segs.append(Segment(float(ta[c].min()), float(max(ta[c].max(), ea[c].max())), float(tb[c].min()),
                            float(max(tb[c].max(), eb[c].max())), float(score[best]), int(fa[best]), int(fb[best]),
                            float(ta[best]), float(tb[best])))
    return sorted(segs, key=lambda s: (s.a_start, s.b_start))


def _consistent(x: Segment, y: Segment, cfg: DupsConfig) -> bool:
    """Overlapping (or touching) in a, along about the same offset into b."""
    if x.a_start > y.a_end + cfg.slack or y.a_start > x.a_end + cfg.slack:
        return False
    span = max(x.a_end, y.a_end) - min(x.a_start, y.a_start)
    return abs((x.b_start - x.a_start) - (y.b_start - y.a_start)) <= cfg.slack + cfg.speed * span


def merge(segs: list[Segment], cfg: DupsConfig = DupsConfig()) -> list[Segment]:
    """Segments along one offset that overlap or touch in a are one (chains of one shot split by repeated key
    frames, or by a speed difference beyond the tolerance): the union of their ranges, the best score."""
    segs = sorted(segs, key=lambda g: -g.score)
    merged = True
    while merged:
        merged = False
        for i in range(len(segs)):
            for j in range(i + 1, len(segs)):
                x, y = segs[i], segs[j]
                if _consistent(x, y, cfg):
                    segs[i] = replace(x, a_start=min(x.a_start, y.a_start), a_end=max(x.a_end, y.a_end),
                                      b_start=min(x.b_start, y.b_start), b_end=max(x.b_end, y.b_end))  # x scores more
                    del segs[j]
                    merged = True
                    break
            if merged:
                break
    return segs


def one_place(segs: list[Segment]) -> list[Segment]:
    """Where segments cover mostly the same part of a at different places in b (a static or repetitive video
    matches at many moments), the best-scoring one stands for it."""
    kept: list[Segment] = []
    for g in sorted(segs, key=lambda g: (-g.score, g.a_start)):
        length = g.a_end - g.a_start
        if all(min(g.a_end, k.a_end) - max(g.a_start, k.a_start) < max(0.5 * length, 1e-6) for k in kept):
            kept.append(g)
    return sorted(kept, key=lambda g: (g.a_start, g.b_start))


def pair_segments(m: np.ndarray, cfg: DupsConfig = DupsConfig(),
                  check: Callable[[Segment, bool], float | None] | None = None) -> list[Segment]:
    """The reported segments of one video pair from its matches (any order, found from either side);
    ``check(segment, whole)``: the score a doubtful segment earns as a confirmed copy, None if the check does not
    confirm it (:func:`checked_segments`, :mod:`.dups_check`); ``whole``:
    the pair has no segment at the threshold, so the videos may be whole copies whose matches all went astray
    (also checked at the same place in both timelines; a pair already reported is not re-placed that way)."""
    m = dedupe(m)
    segs = align(m["ta"], m["tb"], m["score"], cfg, (m["fa"], m["fb"]), (m["ea"], m["eb"]))
    if check is not None:
        segs = checked_segments(segs, cfg, check)
    strong = [g for g in segs if g.score >= cfg.min_score]
    return [g for g in one_place(merge(strong, cfg)) if g.a_end - g.a_start >= cfg.min_duration]


def checked_segments(segs: list[Segment], cfg: DupsConfig, check: Callable[[Segment, bool], float | None]
                     ) -> list[Segment]:
    """``segs`` with the doubtful ones checked (``check(segment, whole)``: the score of a confirmed copy, None if not
    confirmed): the ``CONFIRMED_PER_PAIR`` best from ``min_score`` up to ``sure`` (one the check does not confirm,
    or beyond that number, is discounted by ``unconfirmed``), and the ``CHECKED_PER_PAIR`` best from ``check_from``
    up to ``min_score`` (kept as they are when not confirmed)."""
    segs = list(segs)
    whole = all(g.score < cfg.min_score for g in segs)
    start = max(cfg.check_from, cfg.min_score)
    upper = sorted((i for i, g in enumerate(segs) if start <= g.score < cfg.sure), key=lambda i: -segs[i].score)
    lower = sorted((i for i, g in enumerate(segs) if cfg.check_from <= g.score < min(cfg.min_score, cfg.sure)),
                   key=lambda i: -segs[i].score)[:CHECKED_PER_PAIR]
    checked = upper[:CONFIRMED_PER_PAIR]
    for i in checked + lower:
        confirmed = check(segs[i], whole)
        if confirmed is not None:
            segs[i] = replace(segs[i], score=max(segs[i].score, confirmed))
        elif i in checked:
            segs[i] = replace(segs[i], score=segs[i].score * cfg.unconfirmed)
    for i in upper[CONFIRMED_PER_PAIR:]:  # beyond the bound: as unconfirmed ones
        segs[i] = replace(segs[i], score=segs[i].score * cfg.unconfirmed)
    return segs


def make_pair(a: str, b: str, segs: list[Segment]) -> Pair:
    return Pair(a, b, max(g.score for g in segs), sorted(segs, key=lambda g: (g.a_start, g.b_start)))


def best_first(pairs: list[Pair]) -> list[Pair]:
    return sorted(pairs, key=lambda p: (-p.score, p.a, p.b))


def pairs_of(matches: np.ndarray, paths: dict[int, str], cfg: DupsConfig = DupsConfig(),
             checker: Callable[[int, int, Segment, bool], float | None] | None = None,
             durations: dict[int, float] | None = None) -> list[Pair]:
    """The pairs of videos with at least one segment that passes ``min_score`` and ``min_duration``, best first;
    doubtful segments checked by ``checker(a, b, segment, whole)``, the score of a confirmed copy or None (default:
    :meth:`.dups_check.PairChecker.confirm` of ``paths`` and the videos' ``durations``)."""
    if not len(matches):
        return []
    if checker is None and cfg.checks:
        from .dups_check import PairChecker

        checker = PairChecker(paths, durations=durations).confirm
    matches = matches[np.lexsort((matches["b"], matches["a"]))]
    keys, starts = np.unique(np.stack([matches["a"], matches["b"]], axis=1), axis=0, return_index=True)
    bounds = list(starts) + [len(matches)]
    pairs = []
    for (a, b), s, e in zip(keys.tolist(), bounds[:-1], bounds[1:]):
        segs = pair_segments(matches[s:e], cfg,
                             (lambda g, whole, a=a, b=b: checker(a, b, g, whole)) if checker else None)
        if segs:
            pairs.append(make_pair(paths[a], paths[b], segs))
    return best_first(pairs)


def find_duplicates(index, cfg: DupsConfig = DupsConfig()) -> list[Pair]:
    """Every pair of videos of an opened index that share footage, in this process (small indexes; the Spark
    job :func:`vidseek.engine.dups.find_duplicates_spark` does the same work in tasks)."""
    pairs = pairs_of(keyframe_matches(index, index.table.live_rows(), cfg), index.video_paths, cfg,
                     durations=index.video_durations)
    if not cfg.refine:
        return pairs
    from .refine import refine_config, refine_pairs

    return best_first(refine_pairs(index, pairs, refine_config(cfg)))


def to_rows(pairs: list[Pair]) -> list[dict]:
    """One flat row per segment (CSV, tables): the pair, its score, the segment."""
    return [{"a": p.a, "b": p.b, "pair_score": round(p.score, 6), **g.to_json()} for p in pairs for g in p.segments]
