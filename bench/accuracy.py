"""Copy detection on hard edited queries, with PQ in the path: recall@1, time error, µAP, "no match".

    python bench/accuracy.py [--work DIR] [--views 50] [--synthetic 0] [--images 8] [--clips 4] [--seed 0]

Index: the POSITIVES and DISTRACTORS of vidseek.eval.shared_split (real videos of ../shared/data), built with
the default settings on Spark local[2], plus distractor key frames (vidseek.eval.distractors): ``--views``
camera-like views of each shared still image (a fake video per image), and optionally ``--synthetic`` blends of
real vectors, so that the index is far larger than the re-ranking depth (256) and PQ is in the path.  Queries (vidseek.eval.queryset): per video
``--images`` stills and ``--clips`` 2-5 s clips, each with 1-3 edit families (vidseek.features.augment), half the
clips also with a speed (+-25%) or frame-rate change; the NEGATIVES (held out of the index) give queries the
same way, which should get no answer.  Every figure is on answers without a threshold except "neg:none" (share
of negatives with no answer at the default --min-score) and "pos:kept" (share of positives whose correct top-1
survives it).  The work folder keeps the index, the queries and their embeddings for reruns; the embeddings'
files are named after the model files and code that made them (:func:`cache_key`), so a rebuilt index or changed
code embeds again instead of reusing vectors of another embedding space.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import pickle
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vidseek.eval import metrics
from vidseek.eval.distractors import add_distractors, picture_vectors, requantise, synthetic_vectors
from vidseek.eval.metrics import Answer
from vidseek.eval.queryset import QuerySetConfig, load_query_set, make_query_set
from vidseek.eval.shared_split import SharedSplit
from vidseek.search import Index
from vidseek.search.index import PreparedQuery
from vidseek.search.scoring import DEFAULT_MIN_SCORE, ScoreConfig


def build(split: SharedSplit, idx: Path, plain_whitening: bool = False, drift: float | None = None,
          keep_every: float | None = None, backbone: str | None = None) -> None:
    from vidseek.engine.build import BuildConfig, build_index
    from vidseek.engine.session import SparkConfig

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    cfg = BuildConfig(spark=SparkConfig(master="local[2]"), quiet=True, learn_whitening=not plain_whitening)
    if drift is not None:
        cfg = replace(cfg, keyframes=replace(cfg.keyframes, drift_threshold=drift))
    if keep_every is not None:
        cfg = replace(cfg, keyframes=replace(cfg.keyframes, keep_every=keep_every))
    if backbone is not None:
        cfg = replace(cfg, features=replace(cfg.features, backbone=backbone))
    report = build_index([str(p) for p in split.indexed], idx, cfg)
    assert report.ok == len(split.indexed) and not report.failed, report


def cache_key(idx: Path, code: tuple[str, ...] = ("features", "search", "video")) -> str:
    """What embeddings depend on: the index's model files (backbone, PWA, whitening) and the code (packages of
    vidseek) that reads, cuts and embeds a query.  Cached query and distractor vectors carry it in their
    names, so a rebuilt index or changed code never reuses vectors of another embedding space."""
    manifest = json.loads((idx / "manifest.json").read_text())
    checksums = manifest["checksums"]
    checksums = json.loads(checksums) if isinstance(checksums, str) else checksums
    h = hashlib.sha256()
    for name in sorted(checksums):  # the embedding space: network, PWA channels, whitening (not codebooks)
        if name.startswith(manifest["model_dir"]) and Path(name).stem in ("features", "whitening"):
            h.update(f"{name}={checksums[name]}".encode())
    for folder in code:
        for src in sorted((ROOT / "src" / "vidseek" / folder).glob("*.py")):
            h.update(src.read_bytes())
    return h.hexdigest()[:12]


def prepared_queries(index: Index, queries, cache: Path, regions: bool = True) -> list[PreparedQuery]:
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    t0 = time.perf_counter()
    out = [index.prepare(q.path, regions=regions) for q in queries]
    print(f"embedded {len(queries)} queries in {time.perf_counter() - t0:.0f} s")
    cache.write_bytes(pickle.dumps(out))
    return out


def distractor_views(index: Index, split: SharedSplit, per_picture: int, cache: Path) -> np.ndarray:
    if cache.exists():
        return np.load(cache)
    pictures = []
    for p in sorted((split.data / "images").rglob("*")):
        try:
            with Image.open(p) as im:
                im.load()
            pictures.append(p)
        except Exception:  # noqa: BLE001 - licence files, a deliberately corrupt JPEG
            continue
    t0 = time.perf_counter()
    vectors, _ = picture_vectors(index, pictures, per_picture)
    print(f"embedded {len(vectors)} distractor views of {len(pictures)} pictures in {time.perf_counter() - t0:.0f} s")
    np.save(cache, vectors)
    return vectors


def answers(index: Index, prepared, refine: int) -> list[list[Answer]]:
    out = []
    for p in prepared:
        hits = index.rank(p, k=10, refine=refine, min_score=None)
        out.append([Answer(h.video, h.score, h.time) for h in hits])
    return out


def report(title: str, ans, queries, same, threshold, groups: bool = False) -> None:
    print(f"\n{title}")
    rows = []
    for kind in ("image", "clip"):
        sel = [i for i, q in enumerate(queries) if q.kind == kind]
        rows.append([kind] + metrics.summarise([ans[i] for i in sel], [queries[i] for i in sel], same, threshold).row())
    rows.append(["all"] + metrics.summarise(ans, queries, same, threshold).row())
    if groups:
        for name, s in metrics.by_group(ans, queries, same, threshold, lambda q: q.families).items():
            rows.append([f"  {name}"] + s.row())
    print(metrics.table(rows, ["set"] + metrics.HEADER))


def threshold_table(ans, queries, same, where: str) -> None:
    print(f"--min-score sweep ({where}): share of negatives answered 'no match' / of positives keeping their top-1")
    cells = []
    for t in np.arange(0.3, 0.81, 0.05):
        s = metrics.summarise(ans, queries, same, float(t))
        cells.append(f"{t:.2f}: {s.negatives_no_match:.2f}/{s.positives_kept:.2f}")
    print("  " + "  ".join(cells))


def latency(index: Index, queries) -> None:
    img = next(q for q in queries if q.kind == "image" and q.positive)
    clip = max((q for q in queries if q.kind == "clip" and q.speed == 1.0 and "fps" not in q.families),
               key=lambda q: q.duration)  # a full-rate clip: the most frames to read and embed
    index.search(img.path)  # model loaded
    placed = index.time_config
    for name, q in (("one image", img), (f"one {clip.duration:.1f} s clip", clip)):
        for regions, hits in ((False, placed.hits), (True, 0), (True, placed.hits)):
            index.time_config = replace(placed, hits=hits)
            t = []
            for _ in range(3):
                index.frame_cache.clear()
                t0 = time.perf_counter()
                index.rank(index.prepare(q.path, regions=regions, lazy=True))  # as Index.search
                t.append(time.perf_counter() - t0)
            print(f"  {name:<18} regions {'on ' if regions else 'off'}  time {'placed   ' if hits else 'key frame'}"
                  f"  {1000 * min(t):7.0f} ms")
    index.time_config = placed
    doubtful = next(q for q in queries if q.kind == "image" and not q.positive)  # no source: every answer is checked
    checked = index.verify_config
    for hits in (0, checked.hits):
        index.verify_config = replace(checked, hits=hits)
        t = []
        for _ in range(3):
            index.frame_cache.clear()  # as the first search to check these frames
            t0 = time.perf_counter()
            index.rank(index.prepare(doubtful.path, lazy=True))
            t.append(time.perf_counter() - t0)
        print(f"  {'one negative image':<18} regions on   time placed     verify {'on ' if hits else 'off'}"
              f"  {1000 * min(t):7.0f} ms")
    t = []
    for _ in range(3):  # its hits' frames checked by the search before: their features kept
        t0 = time.perf_counter()
        index.rank(index.prepare(doubtful.path, lazy=True))
        t.append(time.perf_counter() - t0)
    print(f"  {'one negative image':<18} regions on   time placed     verify on, frames checked before"
          f"  {1000 * min(t):7.0f} ms")
    index.verify_config = checked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--work", default="/tmp/vidseek-accuracy")
    ap.add_argument("--views", type=int, default=50, help="distractor views per shared still image")
    ap.add_argument("--synthetic", type=int, default=0, help="synthetic distractor vectors (hubs by construction)")
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--code-sizes", type=int, nargs="*", default=[8, 16, 32])
    ap.add_argument("--plain-whitening", action="store_true", help="build with plain PCA-whitening (ablation)")
    ap.add_argument("--drift", type=float, help="key-frame drift threshold (default: the build's)")
    ap.add_argument("--keep-every", type=float, help="seconds a still shot keeps a key frame (default: the build's)")
    ap.add_argument("--backbone", help="the index's CNN (default: the build's)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    split, work = SharedSplit(args.data), Path(args.work)
    idx, qdir = work / "index", work / f"queries-{args.seed}-{args.images}-{args.clips}"
    if not (idx / "MANIFEST.json").exists() and not any(idx.glob("*")):
        t0 = time.perf_counter()
        build(split, idx, args.plain_whitening, args.drift, args.keep_every, args.backbone)
        print(f"built the index in {time.perf_counter() - t0:.0f} s")
    if (qdir / "queries.json").exists():
        queries = load_query_set(qdir)
    else:
        cfg = QuerySetConfig(images_per_video=args.images, clips_per_video=args.clips, seed=args.seed)
        queries = make_query_set(split.positives, split.negatives, qdir, cfg)
    index = Index.open(idx, device="cpu")
    real = len(index)
    key = cache_key(idx)
    prepared = prepared_queries(index, queries, qdir / f"prepared-{key}.pkl")
    views_key = cache_key(idx, ("features",))  # pictures embedded whole: no query reading or regions
    views = distractor_views(index, split, args.views, work / f"views-{args.views}-{views_key}.npy")
    add_distractors(index, views, per_video=args.views)
    if args.synthetic:
        add_distractors(index, synthetic_vectors(index.vectors[:real].astype(np.float32), args.synthetic, args.seed))
    n_distractors = len(index) - real
    same = split.same_source
    npos = sum(q.positive for q in queries)
    print(f"index: {len(split.indexed)} real videos, {real} real key frames + {n_distractors} distractors "
          f"= {len(index)} codes (m={index.pq.m}); re-ranking depth 256")
    print(f"queries: {len(queries)} ({npos} with a source, {len(queries) - npos} negatives from "
          f"{len(split.negatives)} held-out videos); default --min-score {DEFAULT_MIN_SCORE}")

    base = answers(index, prepared, refine=256)
    report("default search (m=16, re-ranked, normalised scores, content regions), per edit family", base, queries,
           same, DEFAULT_MIN_SCORE, groups=True)
    print(f"\nthreshold for 95% of negatives answered 'no match' on this set: "
          f"{metrics.best_threshold(base, queries, same):.3f}")
    threshold_table(base, queries, same, "with the distractors")
    whole = prepared_queries(index, queries, qdir / f"prepared-whole-{key}.pkl", regions=False)
    report("ablation: no content regions (whole picture and mirror only)", answers(index, whole, 256),
           queries, same, DEFAULT_MIN_SCORE)
    checked = index.verify_config
    index.verify_config = replace(checked, hits=0)
    report("ablation: no verification of doubtful answers (--no-verify)", answers(index, prepared, 256), queries,
           same, DEFAULT_MIN_SCORE)
    index.verify_config = checked
    raw_index = index.score_config
    index.score_config = ScoreConfig(normalise=False)
    index.refresh_background()
    raw = answers(index, prepared, 256)
    report("ablation: raw cosine scores (no background normalisation); no-match columns at the raw threshold that "
           f"keeps 95% of negatives out: {metrics.best_threshold(raw, queries, same):.3f}", raw, queries, same,
           metrics.best_threshold(raw, queries, same))
    index.score_config = raw_index
    index.refresh_background()

    alone = Index.open(idx, device="cpu")
    threshold_table(answers(alone, prepared, 256), queries, same, "the collection alone, no distractors")
    # before the code sizes: FAISS k-means sets OpenMP to one thread, which slows the CNN too
    print("\nlatency, model loaded, 2 CPU threads (best of 3; index of the real key frames only)")
    latency(alone, queries)
    print("\ncode size (bytes per key frame) x ranking; R@1 image / clip, µAP, neg:none, pos:kept at the default")
    print(f"{'m':>3} {'ranking':<10}{'R@1 img':>9}{'R@1 clip':>9}{'µAP':>7}{'neg:none':>9}{'pos:kept':>9}")
    for m in args.code_sizes:
        if m != index.pq.m:
            requantise(index, m, train_rows=real)
        for refine, name in ((0, "PQ only"), (256, "re-ranked")):
            ans = answers(index, prepared, refine)
            s_img = metrics.summarise(*_kind(ans, queries, "image"), same, DEFAULT_MIN_SCORE)
            s_clip = metrics.summarise(*_kind(ans, queries, "clip"), same, DEFAULT_MIN_SCORE)
            s = metrics.summarise(ans, queries, same, DEFAULT_MIN_SCORE)
            print(f"{m:>3} {name:<10}{s_img.recall_at_1:>9.3f}{s_clip.recall_at_1:>9.3f}{s.micro_ap:>7.3f}"
                  f"{s.negatives_no_match:>9.3f}{s.positives_kept:>9.3f}")


def _kind(ans, queries, kind):
    sel = [i for i, q in enumerate(queries) if q.kind == kind]
    return [ans[i] for i in sel], [queries[i] for i in sel]


if __name__ == "__main__":
    main()
