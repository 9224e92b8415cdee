"""How a clip query is searched: its frames' depth and lists, and the offset its frames agree on."""

from __future__ import annotations

import numpy as np

CLIP_TOLERANCE = 2.5  # seconds: query frames agree on a clip offset within this
CLIP_REFINE_SHARE = 8  # a clip frame re-ranks refine / this candidates (at least CLIP_MIN_PER_K * k)
CLIP_MIN_PER_K = 3
CLIP_NPROBE_SHARE = 2  # a clip frame probes nprobe / this inverted lists: its frames together find the video (at 10M
# key frames, 400 synthetic 5-frame clips: the same top video as at the full nprobe, in half the time)


def clip_depth(refine: int, k: int) -> int:
    """Candidates per clip frame: an eighth of a picture's (at least 3 k; 32 at the defaults): the frames together
    find the video.  bench/accuracy.py, clips: recall@1 0.974 at 100, 32, 20 and 10 candidates per frame, µAP
    0.977 / 0.975 / 0.967 / 0.967; the time is the candidates' vectors read from disk and their levels."""
    return max(refine // CLIP_REFINE_SHARE, CLIP_MIN_PER_K * k)


def clip_best(matches: list[tuple[int, float, float, int]], nq: int) -> tuple[float, dict]:
    """A video's clip score: the best offset's mean (over query frames) of the best agreeing score; and the
    matches chosen there (query frame -> (score, offset, row))."""
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
