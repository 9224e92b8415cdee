"""Copy-detection metrics: recall@1, time error, VSC22 micro-average precision, "no match" behaviour.

Answers are lists of :class:`Answer` per query (best first, every video the engine returned, unthresholded);
the truth is a :class:`~vidseek.eval.queryset.HardQuery`.  ``same_source(a, b)`` says whether a returned video
counts as the query's source (the same file, or a known duplicate of it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .queryset import HardQuery


@dataclass(frozen=True)
class Answer:
    video: str
    score: float
    time: float


SameSource = Callable[[str, str], bool]


def micro_ap(answers: Sequence[Sequence[Answer]], queries: Sequence[HardQuery], same: SameSource) -> float:
    """VSC22 µAP: every (query, video, score) pair of every query, negatives included, sorted by score; the sum
    of the precision at each correct pair over the number of queries that have a source (one pair each: a
    second correct video of the same query, a known duplicate, is neither rewarded nor penalised)."""
    pairs = []
    for qi, (ans, q) in enumerate(zip(answers, queries)):
        credited = False
        for a in ans:
            correct = q.positive and same(a.video, q.video)
            if correct and credited:
                continue  # a duplicate of the source: skip
            credited |= correct
            pairs.append((-a.score, qi, correct))
    n_pos = sum(q.positive for q in queries)
    if not n_pos:
        return float("nan")
    pairs.sort(key=lambda p: (p[0], p[1]))
    hits, total = 0, 0.0
    for rank, (_, _, correct) in enumerate(pairs, start=1):
        if correct:
            hits += 1
            total += hits / rank
    return total / n_pos


@dataclass
class Summary:
    queries: int
    positives: int
    negatives: int
    recall_at_1: float
    median_time_error: float | None
    micro_ap: float
    negatives_no_match: float | None  # share of negatives with no answer at or above the threshold
    positives_kept: float  # share of positives whose correct top-1 is at or above the threshold

    def row(self) -> list:
        def f(x, nd=3):
            return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"
        return [self.queries, self.positives, self.negatives, f(self.recall_at_1), f(self.median_time_error, 2),
                f(self.micro_ap), f(self.negatives_no_match), f(self.positives_kept)]


HEADER = ["queries", "pos", "neg", "R@1", "med.err s", "µAP", "neg:none", "pos:kept"]


def summarise(answers: Sequence[Sequence[Answer]], queries: Sequence[HardQuery], same: SameSource,
              threshold: float) -> Summary:
    top_ok, kept, errors, neg_none = [], [], [], []
    for ans, q in zip(answers, queries):
        if not q.positive:
            neg_none.append(not ans or ans[0].score < threshold)
            continue
        ok = bool(ans) and same(ans[0].video, q.video)
        top_ok.append(ok)
        kept.append(ok and ans[0].score >= threshold)
        if ok and ans[0].video == q.video:
            errors.append(abs(ans[0].time - q.time))
    return Summary(
        queries=len(queries), positives=len(top_ok), negatives=len(neg_none),
        recall_at_1=float(np.mean(top_ok)) if top_ok else float("nan"),
        median_time_error=float(np.median(errors)) if errors else None,
        micro_ap=micro_ap(answers, queries, same),
        negatives_no_match=float(np.mean(neg_none)) if neg_none else None,
        positives_kept=float(np.mean(kept)) if kept else float("nan"),
    )


def by_group(answers, queries, same, threshold, key: Callable[[HardQuery], list[str]]) -> dict[str, Summary]:
    """One summary per group; a query is in every group ``key`` gives it (e.g. each of its edit families).
    Negatives join every group they are in, so µAP per family mixes that family's positives and negatives."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(queries):
        for g in key(q):
            groups[g].append(i)
    return {g: summarise([answers[i] for i in idx], [queries[i] for i in idx], same, threshold)
            for g, idx in sorted(groups.items())}


def best_threshold(answers, queries, same, target_negatives: float = 0.95) -> float:
    """The lowest threshold that answers "no match" for at least ``target_negatives`` of the negatives."""
    tops = sorted((ans[0].score if ans else -np.inf) for ans, q in zip(answers, queries) if not q.positive)
    if not tops:
        return -np.inf
    i = int(np.ceil(target_negatives * len(tops))) - 1
    return float(np.nextafter(tops[min(max(i, 0), len(tops) - 1)], np.inf))


def table(rows: list[list], header: list[str]) -> str:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths)))
                     for r in cells)
