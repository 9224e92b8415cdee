"""Copy detection on a seeded subset of the hard query set (bench/accuracy.py), with PQ in the path.

Index: the shared-video index (every file of shared/data/videos) plus camera-like views of the shared still
images as distractors, so it holds far more key frames than the re-ranking depth.  Positives: edited stills
and clips (1-3 edit families each) of the indexed real-footage videos; negatives: the same made from
extra-videos/ files, which are not indexed.  Measured here (48 positives, 16 negatives): recall@1 0.96 (stills
0.94, clips 1.0), median time error 0.08 s, µAP 0.965, negatives answered "no match" 0.69 (11 of 16), positives
kept 0.96; the assertions sit a little under.  Without the verification of doubtful answers (vidseek.search.verify)
recall@1 was 0.94, µAP 0.94 and positives kept 0.92.  Before the reference pictures of documents joined the calibration
(vidseek.features.reference) 9 of 16 negatives got no answer and µAP was 0.88: four of the seven answered were
stills and a clip of a screen recording of a PDF page, matched to views of skimage/page.png (a scanned page of
text) at 0.67-0.91.  bench/README.md ("Copy detection on hard edits") has the full bench.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from media import DATA, IMAGES

from vidseek.eval import metrics
from vidseek.eval.distractors import add_distractors, picture_vectors
from vidseek.eval.metrics import Answer
from vidseek.eval.queryset import QuerySetConfig, make_query_set
from vidseek.eval.shared_split import DUPLICATES, NEGATIVES, POSITIVES
from vidseek.search import Index
from vidseek.search.index import DEFAULT_REFINE
from vidseek.search.scoring import DEFAULT_MIN_SCORE

pytestmark = pytest.mark.slow

CI_POSITIVES = [p for p in POSITIVES if p.startswith("videos/")]
CI_NEGATIVES = [p for p in NEGATIVES if p.startswith("extra-videos/")][:4]
PICTURES = ["skimage/astronaut.png", "skimage/coffee.png", "skimage/chelsea.png", "skimage/rocket.jpg",
            "skimage/motorcycle_left.png", "sklearn/china.jpg", "sklearn/flower.jpg", "skimage/hubble_deep_field.jpg",
            "skimage/retina.jpg", "skimage/page.png", "skimage/brick.png", "skimage/grass.png"]
VIEWS = 40


def same_source(a: str, b: str) -> bool:
    a, b = str(Path(a).resolve()), str(Path(b).resolve())
    if a == b:
        return True
    groups = [{str((DATA / p).resolve()) for p in g} for g in DUPLICATES]
    return any(a in g and b in g for g in groups)


@pytest.fixture(scope="module")
def evaluated(shared_index, tmp_path_factory):
    index = Index.open(shared_index, device="cpu")
    real = len(index)
    vectors, per = picture_vectors(index, [IMAGES / p for p in PICTURES], VIEWS, seed=3)
    add_distractors(index, vectors, per_video=per)
    cfg = QuerySetConfig(images_per_video=3, clips_per_video=1, seed=12)
    queries = make_query_set([DATA / p for p in CI_POSITIVES], [DATA / p for p in CI_NEGATIVES],
                             tmp_path_factory.mktemp("hard-queries"), cfg)
    answers = []
    for q in queries:
        hits = index.rank(index.prepare(q.path), k=10, min_score=None)
        answers.append([Answer(h.video, h.score, h.time) for h in hits])
    return index, real, queries, answers


def test_index_is_larger_than_the_reranking_depth(evaluated):
    index, real, _, _ = evaluated
    assert len(index) >= 2 * DEFAULT_REFINE and len(index) - real >= len(PICTURES) * VIEWS


def test_edited_copies_find_source_and_moment(evaluated):
    _, _, queries, answers = evaluated
    s = metrics.summarise(answers, queries, same_source, DEFAULT_MIN_SCORE)
    print("hard subset:", metrics.HEADER, s.row())
    images = [i for i, q in enumerate(queries) if q.kind == "image"]
    clips = [i for i, q in enumerate(queries) if q.kind == "clip"]
    s_img = metrics.summarise([answers[i] for i in images], [queries[i] for i in images], same_source, DEFAULT_MIN_SCORE)
    s_clip = metrics.summarise([answers[i] for i in clips], [queries[i] for i in clips], same_source, DEFAULT_MIN_SCORE)
    print("images:", s_img.row(), "clips:", s_clip.row())
    assert s_img.recall_at_1 >= 0.85
    assert s_clip.recall_at_1 >= 0.80
    assert s.median_time_error <= 0.25  # 0.10 measured; 0.30 with key-frame times (before vidseek.search.timing)
    assert s.micro_ap >= 0.88


def test_queries_with_no_source_are_answered_no_match(evaluated):
    _, _, queries, answers = evaluated
    s = metrics.summarise(answers, queries, same_source, DEFAULT_MIN_SCORE)
    assert s.negatives >= 10
    assert s.negatives_no_match >= 0.5
    assert s.positives_kept >= 0.90
    # the library applies the same threshold by default: "no match" is an empty answer
    index = evaluated[0]
    quiet = [q for a, q in zip(answers, queries) if not q.positive and (not a or a[0].score < DEFAULT_MIN_SCORE)]
    shown = [q for a, q in zip(answers, queries) if q.positive and a and a[0].score >= DEFAULT_MIN_SCORE]
    assert index.search(quiet[0].path) == []
    assert same_source(index.search(shown[0].path)[0].video, shown[0].video)
