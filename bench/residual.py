"""Codes of the vectors or of their residuals?  The inverted file's two layouts, against exact neighbours.

    python bench/residual.py [--index IDX] [--n 1000000] [--queries 200] [--nprobe 8 16 32 64]

Issue 13 left the choice to measurement: PQ codes of the vectors themselves (vidseek's inverted files until this
bench decided: one set of codebooks, trained by the build on whitened key frames, served the flat and the inverted
index) or of their residuals from the coarse centroid (Jégou et al. 2011, faiss's default; what vidseek's inverted
files store since).  Both here with the same collection, coarse centroids, nlist, m and nbits, in faiss
``IndexIVFPQ``: ``by_residual`` False (the base index's own codebooks) and True (codebooks trained by faiss on the
residuals of the same training sample).

The collection is scale.py's: the real key frames of IDX (default: the accuracy bench's index) plus synthetic
videos up to N; queries are key frames with noise (scale.py's).  What counts for vidseek is what the ranking
re-scores exactly: the share of each query's 10 exact nearest neighbours (float vectors, inner product) among the
ADC top-R candidates, R = 10 (ADC alone) and 256 (the re-ranking depth), and of the exact nearest one at rank 1
and among the top 256; and one query's latency (2 vectors, the query and its mirror, top 256, one process, the
machine's threads).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from scale import SAMPLE, collection, queries, real_keyframes  # noqa: E402  (bench/scale.py: the same collection and queries)

from vidseek.quantize.ivf import CoarseQuantizer, default_nlist, train_coarse  # noqa: E402
from vidseek.search import Index  # noqa: E402


CHUNK = 1_000_000


def exact_top(x: np.ndarray, q: np.ndarray, k: int = 10) -> np.ndarray:
    """Each query's k nearest (inner product) rows of ``x``, nearest first, a million rows at a time."""
    best_s, best_i = np.full((len(q), 0), -np.inf, np.float32), np.zeros((len(q), 0), np.int64)
    for s in range(0, len(x), CHUNK):
        sims = q @ x[s : s + CHUNK].T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best_s = np.concatenate([best_s, np.take_along_axis(sims, top, 1)], axis=1)
        best_i = np.concatenate([best_i, top + s], axis=1)
        keep = np.argsort(-best_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i


def ivfpq(coarse: CoarseQuantizer, pq, x: np.ndarray, sample: np.ndarray, residual: bool):
    import faiss

    quantizer = coarse.flat_index()
    index = faiss.IndexIVFPQ(quantizer, x.shape[1], coarse.nlist, pq.m, pq.config.nbits)
    index.by_residual = residual
    if residual:  # faiss trains the residual codebooks (the coarse centroids are given and kept)
        index.train(sample)
    else:  # the index's own codebooks
        faiss.copy_array_to_vector(np.ascontiguousarray(pq.centroids, np.float32).ravel(), index.pq.centroids)
        index.is_trained = True
    for s in range(0, len(x), 262144):
        index.add(x[s : s + 262144])
    return index, quantizer


def measure(index, q: np.ndarray, truth: np.ndarray, nprobe: int) -> dict:
    import faiss

    params = faiss.SearchParametersIVF(nprobe=nprobe)
    flat = q.reshape(-1, q.shape[-1])
    _, ids = index.search(flat, 256, params=params)
    ids = ids.reshape(len(q), -1)[:, :256]  # the first variant's 256 (the query itself)
    r10 = np.mean([len(set(a[:10]) & set(t)) / 10 for a, t in zip(ids, truth)])
    r256 = np.mean([len(set(a) & set(t)) / 10 for a, t in zip(ids, truth)])
    top1 = np.mean([t[0] in a[:1] for a, t in zip(ids, truth)])
    top1_256 = np.mean([t[0] in a for a, t in zip(ids, truth)])
    times = []
    for v in q:
        t = time.perf_counter()
        index.search(v, 256, params=params)
        times.append(time.perf_counter() - t)
    return {"r10_at_10": round(float(r10), 4), "r10_at_256": round(float(r256), 4),
            "r1_at_1": round(float(top1), 4), "r1_at_256": round(float(top1_256), 4),
            "p50_ms": round(float(np.percentile(times, 50) * 1e3), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=Path("/tmp/vidseek-accuracy/index"))
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32, 64])
    args = ap.parse_args()
    src = Index.open(args.index, device="cpu")
    real, video, when = real_keyframes(src)
    x = collection(real, video, when, args.n, 0)[0]
    sample = x[np.random.default_rng(0).choice(len(x), min(len(x), SAMPLE), replace=False)]
    coarse = CoarseQuantizer(train_coarse(sample, default_nlist(len(x))))
    q, _ = queries({"x": x, "real": len(real)}, args.queries)
    truth = exact_top(x, q[:, 0])
    print(f"n {len(x):,} ({len(real)} real key frames), nlist {coarse.nlist}, m {src.pq.m}, "
          f"{args.queries} queries; recall of the exact top-10 among the ADC top-10 / top-256")
    print(f"{'codes of':<12}{'nprobe':>7}{'R10@10':>9}{'R10@256':>9}{'R1@1':>8}{'R1@256':>8}{'p50 ms':>9}")
    for residual in (False, True):
        t0 = time.perf_counter()
        index, _quantizer = ivfpq(coarse, src.pq, x, sample, residual)
        name = "residuals" if residual else "vectors"
        print(f"  ({name}: trained and filled in {time.perf_counter() - t0:.0f} s)")
        for nprobe in args.nprobe:
            m = measure(index, q, truth, nprobe)
            print(f"{name:<12}{nprobe:>7}{m['r10_at_10']:>9.3f}{m['r10_at_256']:>9.3f}{m['r1_at_1']:>8.3f}"
                  f"{m['r1_at_256']:>8.3f}{m['p50_ms']:>9.3f}")
        del index


if __name__ == "__main__":
    main()
