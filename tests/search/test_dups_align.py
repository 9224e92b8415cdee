"""Temporal alignment of key-frame matches into segments (vidseek.search.dups), on made-up matches."""

from __future__ import annotations

import numpy as np

from vidseek.search.dups import MATCH_DTYPE, DupsConfig, align, pair_segments, pairs_of


def matches(ta, tb, score, a=1, b=2):
    m = np.zeros(len(ta), MATCH_DTYPE)
    m["a"], m["b"], m["ta"], m["tb"], m["score"] = a, b, ta, tb, score
    return m


def test_a_run_along_one_offset_is_one_segment_even_at_another_speed():
    ta = np.arange(10.0, 40.0, 3.0)
    for speed in (1.0, 0.8, 1.25):  # the copy plays slower or faster (frame-rate change, +-25%)
        segs = align(ta, 100 + (ta - 10) * speed, np.full(len(ta), 0.9))
        assert len(segs) == 1
        s = segs[0]
        assert (s.a_start, s.a_end) == (10.0, 37.0) and abs(s.b_start - 100) < 1e-6
        assert abs(s.b_end - (100 + 27 * speed)) < 1e-4


def test_two_excerpts_at_two_offsets_are_two_segments_in_time_order():
    ta = np.array([50.0, 53, 56, 5, 8, 11])
    tb = np.array([0.0, 3, 6, 30, 33, 36])
    segs = pair_segments(matches(ta, tb, [0.9, 0.8, 0.95, 0.7, 0.99, 0.6]))
    assert [(s.a_start, s.a_end, s.b_start, s.b_end) for s in segs] == [(5, 11, 30, 36), (50, 56, 0, 6)]
    assert [round(s.score, 2) for s in segs] == [0.99, 0.95]


def test_matches_far_off_the_offset_or_below_the_threshold_do_not_join():
    ta = np.array([0.0, 2, 4, 6])
    tb = np.array([0.0, 2, 40, 6])  # the third is another moment of b
    segs = pair_segments(matches(ta, tb, [0.9, 0.9, 0.9, 0.9]))
    assert [(s.a_start, s.a_end) for s in segs] == [(0, 6), (4, 4)]
    weak = pair_segments(matches(ta, tb, [0.3, 0.4, 0.5, 0.54]))
    assert weak == []  # nothing reaches the default threshold (that of search)
    assert pair_segments(matches(ta, tb, [0.9] * 4), DupsConfig(min_duration=1.0)) == segs[:1]


def test_pairs_are_best_first_with_a_before_b_and_found_once_from_both_sides():
    both_ways = np.concatenate([matches([1.0, 3.0], [1.0, 3.0], [0.7, 0.8], a=1, b=2),
                                matches([1.0, 3.0], [1.0, 3.0], [0.75, 0.6], a=1, b=2),
                                matches([9.0], [2.0], [0.95], a=1, b=3)])
    pairs = pairs_of(both_ways, {1: "/v/a.mp4", 2: "/v/b.mp4", 3: "/v/c.mp4"})
    assert [(p.a, p.b, round(p.score, 2)) for p in pairs] == [("/v/a.mp4", "/v/c.mp4", 0.95),
                                                              ("/v/a.mp4", "/v/b.mp4", 0.8)]
    assert len(pairs[1].segments) == 1
    assert pairs[0].to_json()["segments"] == [{"a_start": 9.0, "a_end": 9.0, "b_start": 2.0, "b_end": 2.0,
                                               "score": 0.95}]


def test_only_the_best_doubtful_segment_is_checked_and_a_verified_one_is_reported():
    ta = np.array([0.0, 30.0, 60.0, 90.0, 120.0])  # five moments of a, far apart: five segments
    tb = ta + 5
    scores = [0.9, 0.2, 0.5, 0.45, 0.3]
    checked = []

    def check(seg, whole):  # a stand-in for the local-feature check: it verifies what it is given
        checked.append((seg.a_start, whole))
        return 0.7

    segs = pair_segments(matches(ta, tb, scores), DupsConfig(), check)
    # the best doubtful one (check_from <= score < min_score); not 0.9 (reported anyway), 0.45 and 0.3 (one check
    # per pair), 0.2 (under check_from)
    assert checked == [(60.0, False)]  # the pair has a segment of its own: not checked as a whole copy
    assert [(s.a_start, round(s.score, 2)) for s in segs] == [(0.0, 0.9), (60.0, 0.7)]
    assert (segs[1].a_time, segs[1].b_time) == (60.0, 65.0)  # where the check looked: the best match's times
    assert pair_segments(matches(ta, tb, scores), DupsConfig(check_from=1.0), check) == segs[:1]
    assert len(checked) == 1
    weak = [0.5, 0.2, 0.3, 0.45, 0.3]  # no segment at the threshold: the best doubtful one is also tried as a whole copy
    assert [(s.a_start, s.score) for s in pair_segments(matches(ta, tb, weak), DupsConfig(), check)] == [(0.0, 0.7)]
    assert checked[1:] == [(0.0, True)]


def test_a_segment_under_sure_is_reported_only_if_its_check_confirms_it():
    ta = np.array([0.0, 30.0, 60.0, 90.0])  # four moments far apart: four segments
    scores = [0.9, 0.65, 0.6, 0.4]
    checked = []

    def check(seg, whole):  # confirms the 0.6 and 0.4 segments only (a stand-in for the local-feature check)
        checked.append(seg.a_start)
        return 0.62 if seg.a_start in (60.0, 90.0) else None

    segs = pair_segments(matches(ta, ta + 5, scores), DupsConfig(), check)
    # 0.9 (at least `sure`) is not checked; 0.65 and 0.6 (from the threshold up to `sure`) both are, and the best
    # doubtful one under the threshold (0.4)
    assert sorted(checked) == [30.0, 60.0, 90.0]
    # 0.65 not confirmed: scored x0.75 = 0.49, under the threshold; 0.6 confirmed: max(0.6, 0.62); 0.4 confirmed
    assert [(s.a_start, round(s.score, 2)) for s in segs] == [(0.0, 0.9), (60.0, 0.62), (90.0, 0.62)]
    lower = pair_segments(matches(ta, ta + 5, scores), DupsConfig(min_score=0.44), lambda seg, whole: None)
    assert [(s.a_start, round(s.score, 3)) for s in lower] == [(0.0, 0.9), (30.0, 0.487), (60.0, 0.45)]
    unchecked = pair_segments(matches(ta, ta + 5, scores), DupsConfig(check_from=1.0), check)  # --no-check
    assert [(s.a_start, round(s.score, 2)) for s in unchecked] == [(0.0, 0.9), (30.0, 0.65), (60.0, 0.6)]
    assert len(checked) == 3
    # six segments in the band: the four best are checked (all confirmed here), the other two are scored as
    # unconfirmed ones, so a look-alike pair with many doubtful segments costs a bounded number of checks
    many = np.arange(6) * 30.0
    checked.clear()
    segs = pair_segments(matches(many, many + 5, [0.69, 0.6, 0.68, 0.61, 0.67, 0.62]), DupsConfig(),
                         lambda seg, whole: checked.append(seg.a_start) or 0.75)
    assert sorted(checked) == [0.0, 60.0, 120.0, 150.0]  # 0.69, 0.68, 0.67, 0.62
    assert [(s.a_start, round(s.score, 2)) for s in segs] == [(0.0, 0.75), (60.0, 0.75), (120.0, 0.75), (150.0, 0.75)]
