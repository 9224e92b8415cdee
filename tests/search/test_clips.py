"""A clip's offset vote: the array version gives, bit for bit, what the plain loop over every tried offset gives,
and voting only on the videos that can still make the top k gives the top k of voting on all."""

from __future__ import annotations

import numpy as np
import pytest

from vidseek.search import clips
from vidseek.search.clips import CLIP_TOLERANCE, clip_best


def loop_best(matches, nq):
    h = min(nq, max(3, -(-nq // 2)))  # the best 3 frames, or half of a long clip's
    best = None
    for _, o_star, _, _ in matches:
        chosen = {}
        for i, o, s, row in matches:
            if abs(o - o_star) <= CLIP_TOLERANCE and s > chosen.get(i, (-np.inf,))[0]:
                chosen[i] = (s, o, row)
        vals = sorted((c[0] for c in chosen.values()), reverse=True)[:h]
        total = sum(vals) / h
        if best is None or total > best[0]:
            best = (total, chosen)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_clip_vote_equals_the_loop(seed, monkeypatch):
    monkeypatch.setattr(clips, "CLIP_LOOP_MAX", 0)  # the array version even for a few matches
    rng = np.random.default_rng(seed)
    nq = int(rng.integers(1, 12))
    matches = []
    for i in range(nq):  # per query frame, in frame order, its candidates of this video
        for _ in range(int(rng.integers(0, 12))):
            # offsets on a coarse grid (ties in offset and in score), scores of both signs
            matches.append((i, float(rng.integers(-20, 20)) * 0.5, float(np.float32(rng.choice([0.3, 0.5, -0.1])
                                                                                       + rng.normal(0, 0.2))),
                            int(rng.integers(0, 1000))))
    if not matches:
        matches.append((0, 1.0, 0.4, 7))
    got, want = clip_best(matches, nq), loop_best(matches, nq)
    assert got[0] == want[0] and got[1] == want[1]


@pytest.mark.parametrize("seed", range(4))
def test_top_videos_equal_voting_on_every_video(seed):
    rng = np.random.default_rng(100 + seed)
    nq, per_video = 5, {}
    for vid in rng.permutation(60).tolist():  # videos in the order their first match came
        per_video[vid] = sorted(((int(rng.integers(0, nq)), float(rng.integers(-10, 10)),
                                  float(rng.choice([0.2, 0.5, 0.5, -0.3])), int(rng.integers(0, 99)))
                                 for _ in range(int(rng.integers(1, 15)))), key=lambda m: m[0])
    every = sorted(((vid, *clip_best(m, nq)) for vid, m in per_video.items()), key=lambda b: -b[1])
    for k in (1, 3, 10, 100):
        assert clips.clip_top(per_video, nq, k) == every[:k]


def test_frames_that_miss_do_not_sink_a_short_clip_but_a_long_clip_needs_half():
    three = [(i, 10.0 + 0.1 * i, 0.8, i) for i in range(3)]  # 3 frames agree at ~10 s; the others found nothing
    score, chosen = clip_best(three, 5)
    assert score == pytest.approx(0.8) and sorted(chosen) == [0, 1, 2]
    assert clip_best(three + [(4, 40.0, 0.9, 9)], 5)[0] == pytest.approx(0.8)  # a lone frame elsewhere: not the offset
    assert clip_best(three, 10)[0] == pytest.approx(3 * 0.8 / 5)  # 10 frames: the best half counts
