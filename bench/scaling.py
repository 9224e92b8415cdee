"""The paper's scaling claim measured: build stages and PQ training/encoding against the number of executors.

    python bench/scaling.py [--videos DIR] [--n 1000000] [--work DIR] [--plot FILE.png]

Executors: Spark ``local[1]`` and ``local[2]`` (tasks in the driver's JVM's Python workers), and a standalone
cluster on loopback (vidseek.engine.standalone) with 1 and 2 single-core workers (tasks in other JVMs, as on a
cluster).  Each configuration runs in a fresh process.

A. A build of --videos (default: the shared ``videos/``) with the default settings: the seconds of each stage as
   the build reports them (Spark start, PWA parts, extraction, whitening, PQ training, encoding and writing).
B. PQ training (the build's own job, vidseek.engine.fit.train_pq: a 65,536-vector sample written once, then one
   k-means task per sub-space, 16 sub-spaces x 256 centroids) and encoding (the build's own job,
   vidseek.engine.encode.encode_whitened: every vector encoded and written with its float16 copy, one task and
   one part per input file) of N synthetic 128-d unit vectors in 16 Parquet files, for each N of --n; with the
   share of the machine's cores busy during encoding (all processes: JVMs and Python workers).  Synthetic data is enough here: k-means and encoding cost the same for any data.

Speed-up is against the 1-executor run of the same kind (local[1], or the 1-worker cluster); efficiency is the
speed-up over the executor count.  The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CONFIGS = [("local[1]", 0, 1), ("local[2]", 0, 2), ("cluster 1x1", 1, 1), ("cluster 2x1", 2, 2)]  # label, workers, executors
STAGES = ["spark start", "parts", "extract", "whiten", "pq train", "encode"]
FILES = 16


@contextlib.contextmanager
def master_for(label: str, workers: int, folder: Path):
    from vidseek.engine.standalone import loopback_cluster

    if not workers:
        yield label
        return
    with loopback_cluster(folder / f"cluster-{workers}", workers=workers, cores=1) as url:
        yield url


def child(args: list[str]) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True,
                       env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable})
    if r.returncode:
        raise SystemExit(f"child {args}: {r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def child_build(master: str, videos: str, index: str) -> dict:
    from vidseek.engine.build import BuildConfig, build_index
    from vidseek.engine.session import SparkConfig

    t0 = time.perf_counter()
    report = build_index([videos], index, BuildConfig(spark=SparkConfig(master=master), quiet=True))
    return {**report.stages, "total": time.perf_counter() - t0, "keyframes": report.keyframes}


def write_vectors(folder: Path, n: int, d: int = 128, seed: int = 0) -> None:
    """N unit vectors in FILES Parquet files of the whitened schema (the build's stage-2 output)."""
    import pyarrow as pa
    import pyarrow.parquet as pq_io

    from vidseek.store.schemas import WHITENED_SCHEMA

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    per = -(-n // FILES)
    for f in range(FILES):
        lo, hi = f * per, min(n, (f + 1) * per)
        x = rng.standard_normal((hi - lo, d)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        ids = np.arange(lo, hi, dtype=np.int64)
        vec = pa.FixedSizeBinaryArray.from_buffers(pa.binary(d * 4), hi - lo, [None, pa.py_buffer(x.tobytes())])
        table = pa.table({"kf_id": ids, "video_id": ids // 1000, "frame": ids % 1000, "time": (ids % 1000) * 0.5,
                          "vec": vec.cast(pa.binary())}, schema=WHITENED_SCHEMA)
        pq_io.write_table(table, folder / f"part-{f:05d}.parquet", row_group_size=1 << 16)


def busy_seconds() -> float:
    """CPU seconds this machine has spent busy (all cores, all processes: JVMs and Python workers included)."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def child_quantize(master: str, data: str, n: int, work: str) -> dict:
    from vidseek.engine.config import BuildConfig, task_params
    from vidseek.engine.encode import encode_whitened
    from vidseek.engine.fit import train_pq, write_sample
    from vidseek.engine.session import SparkConfig, spark_session
    from vidseek.store.model_files import PQ_FILE, save_pq

    data, work = Path(data), Path(work)
    t0 = time.perf_counter()
    spark = spark_session(SparkConfig(master=master))
    out = {"spark start": time.perf_counter() - t0}
    cfg = BuildConfig(quiet=True)
    model = work / "model"
    model.mkdir(parents=True)
    t0 = time.perf_counter()
    pq = train_pq(spark, write_sample(spark, data, work / "staging", cfg, n), 128, cfg, 16)
    save_pq(pq, model / PQ_FILE)
    out["pq train"] = time.perf_counter() - t0
    params = task_params(cfg, model, pq_path=str(model / PQ_FILE), out_dir=str(work / "codes"),
                         vectors_dir=str(work / "vectors"))
    t0, c0 = time.perf_counter(), busy_seconds()
    written = encode_whitened(spark, data, params, ivf=False, quiet=True)
    out["encode"] = time.perf_counter() - t0
    out["encode cores busy"] = (busy_seconds() - c0) / out["encode"]
    out["rows"] = sum(rows for _, rows in written)
    out["tasks"] = len(written)
    spark.stop()
    return out


def speedups(results: dict[str, dict], keys: list[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """{config: {key: (speed-up, efficiency)}} against the 1-executor run of the same kind."""
    out = {}
    for label, _, execs in CONFIGS:
        base = results["local[1]" if label.startswith("local") else "cluster 1x1"]
        out[label] = {k: (base[k] / results[label][k], base[k] / results[label][k] / execs) for k in keys
                      if results[label].get(k, 0) > 0}
    return out


def print_table(title: str, results: dict[str, dict], keys: list[str]) -> None:
    sp = speedups(results, keys)
    print(f"\n{title}")
    print(f"{'stage':14s}" + "".join(f"{label:>26s}" for label, _, _ in CONFIGS))
    for k in keys:
        cells = []
        for label, _, _ in CONFIGS:
            v = results[label].get(k)
            s = sp[label].get(k)
            cells.append(f"{v:8.1f} s" + (f" x{s[0]:.2f} eff {s[1]:.2f}" if s else "") if v is not None else "-")
        print(f"{k:14s}" + "".join(f"{c:>26s}" for c in cells))


def plot(path: Path, builds: dict, quant: dict[int, dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for kind, prefix in (("local", "local["), ("cluster", "cluster")):
        labels = [c for c in CONFIGS if c[0].startswith(prefix)]
        ex = [c[2] for c in labels]
        for k in ("extract", "whiten", "pq train", "encode", "total"):
            if all(k in builds[c[0]] for c in labels):
                base = builds[labels[0][0]][k]
                axes[0].plot(ex, [base / builds[c[0]][k] for c in labels], marker="o",
                             linestyle="-" if kind == "local" else "--", label=f"build {k} ({kind})")
        for n, res in quant.items():
            for k in ("pq train", "encode"):
                base = res[labels[0][0]][k]
                axes[1].plot(ex, [base / res[c[0]][k] for c in labels], marker="o",
                             linestyle="-" if kind == "local" else "--", label=f"{k} {n:,} ({kind})")
    for ax, title in zip(axes, ("build stages", "PQ training and encoding")):
        ax.plot([1, 2], [1, 2], color="grey", linewidth=0.8, label="ideal")
        ax.set_xticks([1, 2])
        ax.set_xlabel("executors (cores)")
        ax.set_ylabel("speed-up")
        ax.set_title(title)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", default=str(ROOT.parent / "shared" / "data" / "videos"))
    ap.add_argument("--n", default="1000000", help="comma-separated vector counts for part B")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--plot", type=Path, help="write the speed-up plot there (PNG, needs matplotlib)")
    ap.add_argument("--skip-builds", action="store_true")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        out = child_build(*rest) if kind == "build" else child_quantize(rest[0], rest[1], int(rest[2]), rest[3])
        print(json.dumps(out))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="vidseek-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; work in {work}")
    builds: dict[str, dict] = {}
    if not args.skip_builds:
        for label, workers, _ in CONFIGS:
            with master_for(label, workers, work) as master:
                idx = work / f"index-{workers}-{label[-2]}"
                shutil.rmtree(idx, ignore_errors=True)
                builds[label] = child(["build", master, args.videos, str(idx)])
                shutil.rmtree(idx, ignore_errors=True)
            print(f"  build on {label}: {builds[label]['total']:.1f} s", flush=True)
        print_table(f"A. build of {args.videos} ({builds['local[1]']['keyframes']} key frames), seconds per stage",
                    builds, STAGES + ["total"])
    quant: dict[int, dict] = {}
    for n in [int(x) for x in args.n.split(",")]:
        data = work / f"vectors-{n}"
        if not data.exists():
            t0 = time.perf_counter()
            write_vectors(data, n)
            print(f"  {n:,} synthetic vectors written in {time.perf_counter() - t0:.1f} s", flush=True)
        quant[n] = {}
        for label, workers, _ in CONFIGS:
            run_dir = work / f"quantize-{n}-{workers}-{label[-2]}"
            shutil.rmtree(run_dir, ignore_errors=True)
            with master_for(label, workers, work) as master:
                quant[n][label] = child(["quantize", master, str(data), str(n), str(run_dir)])
            shutil.rmtree(run_dir, ignore_errors=True)
            q = quant[n][label]
            print(f"  {n:,} vectors on {label}: train {q['pq train']:.1f} s, encode {q['encode']:.1f} s "
                  f"({q['tasks']} tasks; {q['encode cores busy']:.2f} of {os.cpu_count()} cores busy)", flush=True)
        print_table(f"B. {n:,} vectors, 128-d, m=16 x 8 bits, seconds", quant[n], ["spark start", "pq train", "encode"])
    if args.plot:
        plot(args.plot, builds, quant)
        print(f"plot: {args.plot}")
    print(json.dumps({"builds": builds, "quantize": {str(n): v for n, v in quant.items()}}))


if __name__ == "__main__":
    main()
