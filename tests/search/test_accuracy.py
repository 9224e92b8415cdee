"""End-to-end accuracy on real data: edited frames and clips of the shared videos find their source and moment.

Queries come from the real-footage clips (not edge-cases/, fades, counter, delayed_start); a hit on a known
duplicate of the source (MANIFEST.md) counts as correct. Time errors are measured on hits on the source itself
(a duplicate's timeline can differ: Megamind_bugy.avi holds the same frames at another rate).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from media import VIDEOS
from vidseek.eval.edits import EDITS
from vidseek.eval.queries import clip_queries, frame_queries
from vidseek.search import Index

EXCLUDED = ("edge-cases", "fades.mp4", "counter.mp4", "delayed_start.mp4")
DUPLICATES = [{"Megamind.avi", "Megamind_bugy.avi"}, {"goldeneye-vfr-drop3.mp4", "issue-134-rotate.mp4"},
              {"carphone_pristine.mp4", "carphone_distorted.mp4"}]


def source_videos() -> list[Path]:
    return sorted(p for p in VIDEOS.rglob("*") if p.suffix in {".mp4", ".avi", ".mkv", ".webm"}
                  and not any(x in str(p) for x in EXCLUDED))


def same_source(a: str, b: str) -> bool:
    a, b = Path(a).name, Path(b).name
    return a == b or any({a, b} <= d for d in DUPLICATES)


@pytest.fixture(scope="module")
def index(shared_index):
    return Index.open(shared_index, device="cpu")


def evaluate(results, truths):
    """results: list of hit lists; truths: (source video, true time, edit). Returns summary dict."""
    per_edit = defaultdict(list)
    errors = []
    for hits, (video, t, edit) in zip(results, truths):
        ok = bool(hits) and same_source(hits[0].video, video)
        per_edit[edit].append(ok)
        if ok and Path(hits[0].video).name == Path(video).name:
            errors.append(abs(hits[0].time - t))
    allhits = [h for v in per_edit.values() for h in v]
    return {
        "queries": len(allhits),
        "recall@1": float(np.mean(allhits)),
        "per_edit": {e: round(float(np.mean(v)), 3) for e, v in sorted(per_edit.items())},
        "median_time_error": float(np.median(errors)) if errors else None,
        "p90_time_error": float(np.percentile(errors, 90)) if errors else None,
    }


def report(name, summary, tmp_path_factory):
    print(f"\n{name}: {json.dumps(summary)}")
    out = tmp_path_factory.getbasetemp() / "accuracy.json"
    data = json.loads(out.read_text()) if out.exists() else {}
    data[name] = summary
    out.write_text(json.dumps(data, indent=2))


@pytest.mark.slow
def test_edited_frames_find_source_and_moment(index, tmp_path_factory):
    queries = frame_queries(source_videos(), per_video=3, seed=11)
    assert {q.edit for q in queries} == set(EDITS)
    results = [index.search(q.image, k=5, min_score=None) for q in queries]  # ranking: no threshold
    summary = evaluate(results, [(q.video, q.time, q.edit) for q in queries])
    report("image queries", summary, tmp_path_factory)
    assert summary["recall@1"] >= 0.9
    assert summary["median_time_error"] <= 1.0


@pytest.mark.slow
def test_edited_clips_find_source_and_start(index, tmp_path_factory):
    clips = clip_queries(source_videos(), per_video=2, folder=tmp_path_factory.mktemp("clips"), seed=5)
    assert len(clips) >= 24
    results = [index.search(c.path, k=5, min_score=None) for c in clips]
    summary = evaluate(results, [(c.video, c.start, c.edit) for c in clips])
    report("clip queries", summary, tmp_path_factory)
    assert summary["recall@1"] >= 0.95
    assert summary["median_time_error"] <= 1.0


@pytest.mark.slow
def test_pq_with_refine_never_loses_to_exact_search(index, tmp_path_factory):
    queries = frame_queries(source_videos(), per_video=2, edits=["crop20", "reencode", "grey", "hflip"], seed=21)
    vecs = index.embed_images([q.image for q in queries])
    exact_vectors = index.vectors.astype(np.float32)

    def top_video(scores):
        return index.video_paths[int(index.kf_video[int(np.argmax(scores))])]

    exact = [same_source(top_video((exact_vectors @ v.T).max(axis=1)), q.video) for v, q in zip(vecs, queries)]
    refined = [same_source(index.search_image_vectors(v, k=1)[0].video, q.video) for v, q in zip(vecs, queries)]
    pq_only = [same_source(index.search_image_vectors(v, k=1, refine=0)[0].video, q.video) for v, q in zip(vecs, queries)]
    summary = {"exact": float(np.mean(exact)), "pq+refine": float(np.mean(refined)), "pq only": float(np.mean(pq_only))}
    report("pq vs exact", summary, tmp_path_factory)
    assert np.mean(refined) >= np.mean(exact)
