"""Distributed PQ on Spark local[2] vs single-process FAISS: train + encode 1,000,000 x 256-d vectors.

    python bench/pq_spark.py [--n 1000000] [--d 256] [--m 16] [--partitions 8] [--sample 65536]

Clustered synthetic float32 vectors are generated inside the Spark tasks (partition p from seed p), never on
the driver; FAISS gets the same vectors in one process.  Both train on the same first `--sample` vectors
(vidseek: one k-means task per sub-space; FAISS: IndexPQ.train) and encode all vectors.  Prints wall times,
throughputs, the ratio, code agreement with FAISS, and an estimate for 100M vectors on 16 executors from the
measured per-task rates.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq_io

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vidseek.engine import tasks  # noqa: E402
from vidseek.engine.session import SparkConfig, spark_session  # noqa: E402
from vidseek.quantize.pq import PQConfig, ProductQuantizer  # noqa: E402
from vidseek.store.model_files import load_pq, save_pq  # noqa: E402


def generate(part: int, rows: int, d: int) -> np.ndarray:
    """Clustered data: 1,000 centres shared by all partitions (seed 0), noise from seed ``part``+1."""
    centres = np.random.default_rng(0).normal(size=(1000, d)).astype(np.float32)
    rng = np.random.default_rng(part + 1)
    return centres[rng.integers(0, 1000, rows)] + 0.5 * rng.standard_normal((rows, d), dtype=np.float32)


def encode_task(params_json: str):
    params = json.loads(params_json)

    def run(batches):
        from pyspark import TaskContext

        for _ in batches:
            pass
        part = TaskContext.get().partitionId()
        t0 = time.perf_counter()
        x = generate(part, params["rows"], params["d"])
        t1 = time.perf_counter()
        pq = load_pq(params["pq_path"])
        codes = pq.encode(x)
        t2 = time.perf_counter()
        yield pa.RecordBatch.from_pydict({"part": [part], "rows": [len(codes)], "gen_s": [t1 - t0],
                                          "encode_s": [t2 - t1], "checksum": [int(codes.astype(np.int64).sum())]})

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--nbits", type=int, default=8)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--sample", type=int, default=65536)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--skip-faiss", action="store_true", help="only the Spark part (for bench/memory.py)")
    args = ap.parse_args()
    rows = args.n // args.partitions
    n = rows * args.partitions
    assert args.sample <= rows
    tmp = Path(tempfile.mkdtemp(prefix="vidseek-pqbench-"))
    spark = spark_session(SparkConfig(master=args.master))
    sc = spark.sparkContext
    print(f"{n} x {args.d}-d float32, m={args.m}, nbits={args.nbits}, {args.partitions} partitions, "
          f"training sample {args.sample}; Spark {spark.version} {args.master}")

    # --- vidseek on Spark -------------------------------------------------------------------
    t0 = time.perf_counter()
    sample_path = tmp / "sample.parquet"

    def write_sample(_):
        x = generate(0, rows, args.d)[: args.sample]
        pq_io.write_table(pa.table({"vec": [v.tobytes() for v in x]}), sample_path)
        return 1

    sc.parallelize([0], 1).map(write_sample).collect()
    t_sample = time.perf_counter() - t0
    params = json.dumps({"d": args.d, "m": args.m, "nbits": args.nbits, "niter": 25, "seed": 1234,
                         "sample_path": str(sample_path)})
    t1 = time.perf_counter()
    res = dict(sc.parallelize(range(args.m), args.m).map(lambda j: tasks.train_subspace(j, params)).collect())
    t_train = time.perf_counter() - t1
    k = 1 << args.nbits
    pq = ProductQuantizer(args.d, PQConfig(m=args.m, nbits=args.nbits))
    pq.set_centroids(np.stack([np.frombuffer(res[j], np.float32).reshape(k, args.d // args.m) for j in range(args.m)]))
    save_pq(pq, tmp / "pq.npz")
    t2 = time.perf_counter()
    out = (spark.range(args.partitions, numPartitions=args.partitions)
           .mapInArrow(encode_task(json.dumps({"rows": rows, "d": args.d, "pq_path": str(tmp / "pq.npz")})),
                       "part long, rows long, gen_s double, encode_s double, checksum long")
           .collect())
    t_encode = time.perf_counter() - t2
    spark_total = time.perf_counter() - t0
    gen_s = sum(r.gen_s for r in out)
    enc_rate = sum(r.rows for r in out) / sum(r.encode_s for r in out)

    if args.skip_faiss:
        print(f"vidseek Spark {args.master}: train {t_train:.2f} s, encode {t_encode:.2f} s, total {spark_total:.2f} s")
        spark.stop()
        return

    # --- FAISS, one process -----------------------------------------------------------------
    import faiss

    x = np.concatenate([generate(p, rows, args.d) for p in range(args.partitions)])
    f0 = time.perf_counter()
    index = faiss.IndexPQ(args.d, args.m, args.nbits)
    index.train(x[: args.sample])
    f1 = time.perf_counter()
    index.add(x)
    f2 = time.perf_counter()
    faiss_total = f2 - f0

    ours = pq.encode(x)
    mse_ours = float(((pq.decode(ours[:100000]) - x[:100000]) ** 2).sum(1).mean())
    mse_faiss = float(((index.reconstruct_n(0, 100000) - x[:100000]) ** 2).sum(1).mean())

    print(f"{'':<28}{'train s':>9}{'encode s':>10}{'total s':>9}{'vectors/s':>12}")
    print(f"{'vidseek Spark ' + args.master:<28}{t_train:>9.2f}{t_encode:>10.2f}{spark_total:>9.2f}{n / spark_total:>12.0f}"
          f"   (sample job {t_sample:.2f} s; encode includes generating the data in the tasks: {gen_s:.1f} task-s)")
    print(f"{'FAISS IndexPQ, 1 process':<28}{f1 - f0:>9.2f}{f2 - f1:>10.2f}{faiss_total:>9.2f}{n / faiss_total:>12.0f}")
    print(f"ratio Spark / FAISS wall time: {spark_total / faiss_total:.2f}x")
    print(f"reconstruction MSE (first 100k): vidseek {mse_ours:.4f}, FAISS {mse_faiss:.4f} "
          f"({(mse_ours / mse_faiss - 1) * 100:+.2f}%)")
    print(f"checksum of Spark-task codes == driver re-encode with the same codebooks: "
          f"{sum(r.checksum for r in out) == int(ours.astype(np.int64).sum())}")
    print(f"per-task encode rate: {enc_rate:,.0f} vectors/s (one thread); per-task generation "
          f"{n / gen_s:,.0f} vectors/s")
    est = 100e6 / (16 * enc_rate)
    print(f"estimate, 100M vectors on 16 single-core executors: encode {est:.0f} s "
          f"(+ training {t_train:.0f} s, independent of N; + reading the vectors, storage-bound)")
    spark.stop()


if __name__ == "__main__":
    main()
