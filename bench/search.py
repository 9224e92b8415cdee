"""Search speed: vidseek's ADC vs faiss.IndexPQ on 1M codes; end-to-end latency of one image query.

    python bench/search.py [--n 1000000] [--queries 1000] [--index IDX]

Part 1: 1,000,000 PQ codes of 128-d clustered vectors (m=16 and m=32, nbits=8), 1,000 queries; queries/s of
vidseek's ADCSearcher (top-10) with 1 and 2 threads, and of faiss.IndexPQ with the same codebooks and codes
in the same run; share of queries whose top-10 equals FAISS's (up to exact ties at the 10th distance); then the
latency of one query per call (and of two: a picture and its mirror image), p50/p99 over 200 calls (20 for the
blocked scan alone, the kernel every call used before).
Part 2: `vidseek search` for one image on the shared-video index (built here unless --index is given):
index open, first query (model load included), next queries (model loaded), and the CLI as a subprocess.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vidseek.quantize.pq import PQConfig, ProductQuantizer  # noqa: E402
from vidseek.search.adc import ADCSearcher  # noqa: E402


def data(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(size=(1000, d)).astype(np.float32)
    return centres[rng.integers(0, 1000, n)] + 0.5 * rng.standard_normal((n, d), dtype=np.float32)




def adc_bench(n: int, nq: int, d: int) -> None:
    import faiss

    x = data(n, d, 1)
    q = data(nq, d, 2)
    print(f"{n:,} codes of {d}-d vectors, {nq} queries, top-10")
    print(f"{'m':>3} {'engine':<26}{'threads':>8}{'QPS':>10}{'same top-10':>13}")
    for m in (16, 32):
        pq = ProductQuantizer(d, PQConfig(m=m)).train(x[:65536])
        codes = pq.encode(x)
        index = faiss.IndexPQ(d, m, 8)
        faiss.copy_array_to_vector(pq.centroids.ravel(), index.pq.centroids)
        index.is_trained = True
        faiss.copy_array_to_vector(codes.ravel(), index.codes)
        index.ntotal = n
        searcher = ADCSearcher(codes, pq)
        ref = {}
        for threads in (1, 2):
            faiss.omp_set_num_threads(threads)
            t0 = time.perf_counter()
            fd, fi = index.search(q, 10)
            ref[threads] = (fd, fi)
            print(f"{m:>3} {'faiss.IndexPQ':<26}{threads:>8}{nq / (time.perf_counter() - t0):>10.0f}")
        for threads in (1, 2):
            torch.set_num_threads(threads)
            searcher.search(q[:8], 10)  # warm-up
            t0 = time.perf_counter()
            dist, ids = searcher.search(q, 10)
            qps = nq / (time.perf_counter() - t0)
            fd, fi = ref[threads]
            tables = pq.distance_tables(q)

            def tie_only(i, a, b, kth):  # ids in one list only are all at the 10th distance (ties)
                diff = np.array(sorted(set(a) ^ set(b)))
                adc = tables[i][np.arange(m), codes[diff]].sum(axis=1)
                return np.allclose(adc, kth, rtol=1e-5, atol=1e-5)

            agree = np.mean([set(a) == set(b) or tie_only(i, a, b, dd[-1])
                             for i, (a, b, dd) in enumerate(zip(ids, fi, fd))])
            close = np.allclose(dist, fd, rtol=1e-4, atol=1e-4)
            print(f"{m:>3} {'vidseek ADCSearcher':<26}{threads:>8}{qps:>10.0f}{agree:>12.1%}"
                  f"   distances equal to FAISS's: {close}")
        faiss.omp_set_num_threads(2)
        torch.set_num_threads(2)
        one_query_latency(m, q[:200], index, searcher)


def one_query_latency(m: int, q: np.ndarray, index, searcher: ADCSearcher) -> None:
    """The interactive case: one query (and the query with its mirror-image variant) per call, 2 threads."""
    import vidseek.search.adc as adc

    def blocked(x):  # the blocked scan alone (vidseek 0.1's kernel for every call)
        limit, adc.FAISS_MAX_QUERIES = adc.FAISS_MAX_QUERIES, 0
        try:
            return searcher.search(x, 10)
        finally:
            adc.FAISS_MAX_QUERIES = limit

    engines = (("faiss.IndexPQ", lambda x: index.search(x, 10)), ("vidseek ADCSearcher", lambda x: searcher.search(x, 10)),
               ("vidseek blocked scan only", blocked))
    for name, run in engines:
        calls = q if run is not blocked else q[:20]  # the blocked scan takes ~0.4 s a call at 1M codes
        for per_call in (1, 2):
            run(calls[:per_call])  # warm-up (vidseek builds its engine on first use)
            t = []
            for i in range(0, len(calls) - per_call + 1, per_call):
                t0 = time.perf_counter()
                run(calls[i : i + per_call])
                t.append(time.perf_counter() - t0)
            print(f"{m:>3} {name:<26} {per_call} quer{'y' if per_call == 1 else 'ies'} per call: "
                  f"p50 {1000 * np.median(t):6.2f} ms  p99 {1000 * np.percentile(t, 99):6.2f} ms")


def latency_bench(index_path: Path | None, data_dir: Path) -> None:
    from vidseek.search import Index

    if index_path is None:
        from vidseek.engine.build import BuildConfig, build_index
        from vidseek.engine.session import SparkConfig

        index_path = Path(tempfile.mkdtemp(prefix="vidseek-searchbench-")) / "idx"
        build_index([str(data_dir / "videos")], index_path, BuildConfig(spark=SparkConfig(master="local[*]"), quiet=True))
    query = data_dir / "images" / "skimage" / "chelsea.png"
    t0 = time.perf_counter()
    idx = Index.open(index_path)
    t_open = time.perf_counter() - t0
    t0 = time.perf_counter()
    idx.search(query, k=10)
    t_first = time.perf_counter() - t0
    lat = []
    for _ in range(20):
        t0 = time.perf_counter()
        idx.search(query, k=10)
        lat.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "vidseek", "search", str(index_path), str(query), "--json"],
                       capture_output=True, text=True)
    t_cli = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    print(f"\nshared-video index: {len(idx)} key frames of {len(idx.video_paths)} videos; query {query.name}")
    print(f"  Index.open (codes, vectors, metadata):      {t_open * 1000:8.1f} ms")
    print(f"  first search, model load included:          {t_first * 1000:8.1f} ms")
    print(f"  search, model loaded (median of 20):        {np.median(lat) * 1000:8.1f} ms")
    print(f"  `vidseek search IDX image --json` process:  {t_cli * 1000:8.1f} ms (interpreter start and imports included)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--index", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args()
    adc_bench(args.n, args.queries, args.d)
    if not args.skip_latency:
        latency_bench(args.index, args.data)


if __name__ == "__main__":
    main()
