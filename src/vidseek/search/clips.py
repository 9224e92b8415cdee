"""How a clip query is searched: its frames' depth and lists, and the offset its frames agree on."""

from __future__ import annotations

import heapq
import math

import numpy as np

CLIP_TOLERANCE = 2.5  # seconds: query frames agree on a clip offset within this
CLIP_REFINE_SHARE = 8  # a clip frame re-ranks refine / this candidates (at least CLIP_MIN_PER_K * k)
CLIP_MIN_PER_K = 3
CLIP_COUNTED = 3  # a clip's score: the mean of its best 3 agreeing frames (of half its frames, when that is more)
CLIP_LOOP_MAX = 12  # a video with at most this many matches is voted on in a plain loop (cheaper than arrays)
CLIP_NPROBE_SHARE = 2  # a clip frame probes nprobe / this inverted lists: its frames together find the video (at 10M
# key frames, 400 synthetic 5-frame clips: the same top video as at the full nprobe, in half the time)


def clip_depth(refine: int, k: int) -> int:
    """Candidates per clip frame: an eighth of a picture's (at least 3 k; 32 at the defaults): the frames together
    find the video.  bench/accuracy.py, clips: recall@1 0.974 at 100, 32, 20 and 10 candidates per frame, µAP
    0.977 / 0.975 / 0.967 / 0.967; the time is the candidates' vectors read from disk and their levels."""
    return max(refine // CLIP_REFINE_SHARE, CLIP_MIN_PER_K * k)


def counted_frames(nq: int) -> int:
    """How many of a clip's ``nq`` frames its score averages: 3, or half of them for a long clip, at most all.
    bench/accuracy.py, clips (2-5 s, 1-3 edits, speed and frame-rate changes): averaging every frame lets the
    frames an edit or a speed change made miss (scored 0) pull a true copy under the threshold: positives kept at
    0.55, 0.855 -> 0.908, negatives answered "no match" 1.00 either way, µAP 0.975 -> 0.979, recall@1 the same;
    the half keeps a long clip's score from resting on a few chance frames."""
    return min(nq, max(CLIP_COUNTED, math.ceil(nq / 2)))


def _top_mean(values: list[float], h: int) -> float:
    """The sum of the ``h`` largest of ``values`` (missing ones count 0), over ``h``."""
    return sum(sorted(values, reverse=True)[:h]) / h


def clip_top(per_video: dict[int, list[tuple[int, float, float, int]]], nq: int, k: int) -> list[tuple]:
    """The ``k`` best videos of a clip as (video, score, chosen), best first (equal scores: in ``per_video``'s
    order), as if every video were voted on, but voting only on those whose bound (the same mean of its frames'
    best scores, each at least 0, at any offset: no offset can do better) reaches the k-th best score so far."""
    h, bounds = counted_frames(nq), []
    for order, (vid, matches) in enumerate(per_video.items()):
        best: dict[int, float] = {}
        for i, _, s, _ in matches:
            best[i] = max(best.get(i, 0.0), s)
        bounds.append((_top_mean(list(best.values()), h), order, vid))
    bounds.sort(key=lambda b: -b[0])
    done, top_k = [], []  # (score, order, video, chosen); a min-heap of the k best scores
    for bound, order, vid in bounds:
        if len(top_k) == k and bound < top_k[0]:
            break
        total, chosen = clip_best(per_video[vid], nq)
        done.append((total, order, vid, chosen))
        (heapq.heappush if len(top_k) < k else heapq.heappushpop)(top_k, total)
    done.sort(key=lambda d: (-d[0], d[1]))
    return [(vid, total, chosen) for total, _, vid, chosen in done[:k]]


def clip_best(matches: list[tuple[int, float, float, int]], nq: int) -> tuple[float, dict]:
    """A video's clip score: at the best offset, the mean of its :func:`counted_frames` best query frames' best
    agreeing scores (a frame with none counts 0); and the matches chosen there (query frame -> (score, offset,
    row)).  Every match's offset is tried; the first best wins.  A few matches are voted on in a loop, many in
    arrays (the same result)."""
    h = counted_frames(nq)
    if len(matches) <= CLIP_LOOP_MAX:
        return _loop_best(matches, h)
    frame = np.fromiter((m[0] for m in matches), np.int64, len(matches))
    offset = np.fromiter((m[1] for m in matches), np.float64, len(matches))
    score = np.fromiter((m[2] for m in matches), np.float64, len(matches))
    agree = np.abs(offset[None, :] - offset[:, None]) <= CLIP_TOLERANCE  # (tried offset, match)
    frames = np.unique(frame)
    per_frame = np.full((len(matches), len(frames)), -np.inf)  # (tried offset, frame): its best agreeing score
    pick = np.full((len(matches), len(frames)), -1, np.int64)
    tried = np.arange(len(matches))
    for f, i in enumerate(frames.tolist()):
        cols = np.flatnonzero(frame == i)
        s = np.where(agree[:, cols], score[cols][None, :], -np.inf)
        best = np.argmax(s, axis=1)  # the first of equal scores
        per_frame[:, f], pick[:, f] = s[tried, best], np.where(np.isfinite(s[tried, best]), cols[best], -1)
    ranked = -np.sort(-per_frame, axis=1)
    total = np.zeros(len(matches))
    for f in range(min(h, len(frames))):  # the largest first, as the loop adds them
        total = total + np.where(np.isfinite(ranked[:, f]), ranked[:, f], 0.0)
    at = int(np.argmax(total / h))
    chosen = {int(frames[f]): (matches[j][2], matches[j][1], matches[j][3])
              for f, j in enumerate(pick[at].tolist()) if j >= 0}
    return float(total[at] / h), chosen


def _loop_best(matches: list[tuple[int, float, float, int]], h: int) -> tuple[float, dict]:
    best = None
    for _, o_star, _, _ in matches:
        chosen: dict[int, tuple[float, float, int]] = {}
        for i, o, s, row in matches:
            if abs(o - o_star) <= CLIP_TOLERANCE and s > chosen.get(i, (-np.inf,))[0]:
                chosen[i] = (s, o, row)
        total = _top_mean([c[0] for c in chosen.values()], h)
        if best is None or total > best[0]:
            best = (total, chosen)
    return best
