"""The copy-detection metrics on answers whose figures are known by hand."""

from __future__ import annotations

import pytest

from vidseek.eval.metrics import Answer, best_threshold, micro_ap, summarise
from vidseek.eval.queryset import HardQuery


def q(i: int, video: str, positive: bool = True, t: float = 0.0) -> HardQuery:
    return HardQuery(f"q{i}", "image", f"q{i}.png", video, t, positive, "crop")


def same(a: str, b: str) -> bool:
    return a == b or {a, b} == {"a", "a2"}


def test_micro_ap_perfect_and_with_a_confident_negative():
    queries = [q(0, "a"), q(1, "b"), q(2, "n", positive=False)]
    good = [[Answer("a", 0.9, 0), Answer("b", 0.1, 0)], [Answer("b", 0.8, 0)], [Answer("a", 0.2, 0)]]
    assert micro_ap(good, queries, same) == pytest.approx(1.0)
    # the negative's answer outranks the second correct pair: precisions 1 and 2/3
    bad = [good[0], [Answer("b", 0.5, 0)], [Answer("a", 0.7, 0)]]
    assert micro_ap(bad, queries, same) == pytest.approx((1 + 2 / 3) / 2)
    # a duplicate of the source is neither rewarded nor penalised; a missing source costs its share
    dup = [[Answer("a", 0.9, 0), Answer("a2", 0.85, 0)], [], [Answer("a", 0.2, 0)]]
    assert micro_ap(dup, queries, same) == pytest.approx(0.5)


def test_summary_counts_recall_time_and_no_match():
    queries = [q(0, "a", t=10.0), q(1, "b", t=5.0), q(2, "n", positive=False), q(3, "m", positive=False)]
    answers = [[Answer("a", 0.9, 10.4)], [Answer("c", 0.5, 0)], [Answer("a", 0.2, 0)], []]
    s = summarise(answers, queries, same, threshold=0.3)
    assert (s.positives, s.negatives) == (2, 2)
    assert s.recall_at_1 == 0.5 and s.median_time_error == pytest.approx(0.4)
    assert s.negatives_no_match == 1.0 and s.positives_kept == 0.5
    assert best_threshold(answers, queries, same) > 0.2


def test_every_edit_family_handles_tiny_and_odd_pictures():
    import numpy as np

    from vidseek.features.augment import FAMILIES, combine

    rng = np.random.default_rng(0)
    for shape in [(1, 1), (2, 3), (5, 1), (1, 7), (16, 16), (360, 640)]:
        img = np.full((*shape, 3), 120, np.uint8)
        for fam in FAMILIES.values():
            out = fam.apply(img, fam.params(rng, shape))
            assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8
        for _ in range(20):
            assert combine(rng, shape).apply(img).dtype == np.uint8
