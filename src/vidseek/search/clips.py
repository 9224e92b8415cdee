"""How a clip query is searched: its frames' depth and lists, and the offset its frames agree on."""

from __future__ import annotations

import heapq

import numpy as np

CLIP_TOLERANCE = 2.5  # seconds: query frames agree on a clip offset within this
CLIP_REFINE_SHARE = 8  # a clip frame re-ranks refine / this candidates (at least CLIP_MIN_PER_K * k)
CLIP_MIN_PER_K = 3
CLIP_LOOP_MAX = 12  # a video with at most this many matches is voted on in a plain loop (cheaper than arrays)
CLIP_NPROBE_SHARE = 2  # a clip frame probes nprobe / this inverted lists: its frames together find the video (at 10M
# key frames, 400 synthetic 5-frame clips: the same top video as at the full nprobe, in half the time)


def clip_depth(refine: int, k: int) -> int:
    """Candidates per clip frame: an eighth of a picture's (at least 3 k; 32 at the defaults): the frames together
    find the video.  bench/accuracy.py, clips: recall@1 0.974 at 100, 32, 20 and 10 candidates per frame, µAP
    0.977 / 0.975 / 0.967 / 0.967; the time is the candidates' vectors read from disk and their levels."""
    return max(refine // CLIP_REFINE_SHARE, CLIP_MIN_PER_K * k)


def clip_top(per_video: dict[int, list[tuple[int, float, float, int]]], nq: int, k: int) -> list[tuple]:
    """The ``k`` best videos of a clip as (video, score, chosen), best first (equal scores: in ``per_video``'s
    order), as if every video were voted on, but voting only on those whose bound (the sum of their frames'
    best scores, each at least 0, over ``nq``: no offset can do better) reaches the k-th best score so far."""
    bounds = []
    for order, (vid, matches) in enumerate(per_video.items()):
        best: dict[int, float] = {}
        for i, _, s, _ in matches:
            best[i] = max(best.get(i, 0.0), s)
        bounds.append((sum(best[i] for i in sorted(best)) / nq, order, vid))
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
    """A video's clip score: the best offset's mean (over query frames) of the best agreeing score; and the
    matches chosen there (query frame -> (score, offset, row)).  Every match's offset is tried; the first best
    wins.  Matches come in query-frame order; a few are voted on in a loop, many in arrays (the same result)."""
    if len(matches) <= CLIP_LOOP_MAX:
        return _loop_best(matches, nq)
    frame = np.fromiter((m[0] for m in matches), np.int64, len(matches))
    offset = np.fromiter((m[1] for m in matches), np.float64, len(matches))
    score = np.fromiter((m[2] for m in matches), np.float64, len(matches))
    agree = np.abs(offset[None, :] - offset[:, None]) <= CLIP_TOLERANCE  # (tried offset, match)
    total = np.zeros(len(matches))
    pick = np.full((nq, len(matches)), -1, np.int64)
    for i in np.unique(frame).tolist():  # frames in order: the sum adds them as a loop over frames would
        cols = np.flatnonzero(frame == i)
        s = np.where(agree[:, cols], score[cols][None, :], -np.inf)
        best = np.argmax(s, axis=1)  # the first of equal scores
        has = np.isfinite(s[np.arange(len(matches)), best])
        total = total + np.where(has, s[np.arange(len(matches)), best], 0.0)
        pick[i] = np.where(has, cols[best], -1)
    at = int(np.argmax(total / nq))
    chosen = {i: (matches[j][2], matches[j][1], matches[j][3]) for i, j in enumerate(pick[:, at].tolist()) if j >= 0}
    return float(total[at] / nq), chosen


def _loop_best(matches: list[tuple[int, float, float, int]], nq: int) -> tuple[float, dict]:
    best = None
    for _, o_star, _, _ in matches:
        chosen: dict[int, tuple[float, float, int]] = {}
        for i, o, s, row in matches:
            if abs(o - o_star) <= CLIP_TOLERANCE and s > chosen.get(i, (-np.inf,))[0]:
                chosen[i] = (s, o, row)
        total = sum(c[0] for c in chosen.values()) / nq
        if best is None or total > best[0]:
            best = (total, chosen)
    return best
