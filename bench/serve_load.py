"""Load on `POST /api/search`: p50/p95/p99 latency and throughput at concurrency 1, 4 and 16.

    python bench/serve_load.py [--keyframes 100000] [--requests 48] [--index IDX]

Loopback only, bounded in count and time.  The index is the shared-video index (built here unless --index is
given) scaled to --keyframes key frames with synthetic entries: copies of the real key frames' whitened vectors
with noise, PQ-encoded with the index's codebooks, attributed to synthetic videos (codes may be synthetic for
scale; the query path is the real one: upload, decode, CNN, ADC over all codes, re-ranking, grouping).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq_io

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vidseek.store.model_files import load_pq  # noqa: E402
from vidseek.store.layout import DATASETS, checksum_files, read_manifest, stable_id, write_manifest  # noqa: E402


def scale_index(src: Path, dst: Path, target: int) -> int:
    shutil.copytree(src, dst)
    man = read_manifest(dst)
    pq = load_pq(dst / man.model_dir / "pq.npz")
    codes = pa.concat_tables([pq_io.read_table(dst / f) for f in man.files["codes"]])
    kfs = pa.concat_tables([pq_io.read_table(dst / f) for f in man.files["keyframes"]])
    base = np.frombuffer(b"".join(codes.column("vector").to_pylist()), np.float16).reshape(-1, pq.d).astype(np.float32)
    extra = target - len(base)
    rng = np.random.default_rng(0)
    src_rows = rng.integers(0, len(base), extra)
    vec = base[src_rows] + 0.35 * rng.standard_normal((extra, pq.d)).astype(np.float32) / np.sqrt(pq.d)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    n_videos = max(1, extra // 100)
    some_path = pq_io.read_table(dst / man.files["videos"][0]).column("path")[0].as_py()
    vids = np.array([stable_id("synthetic", i) for i in range(n_videos)], dtype=np.int64)
    video_of = vids[np.arange(extra) % n_videos]
    kf_ids = np.array([stable_id("synthetic-kf", i) for i in range(extra)], dtype=np.int64)
    thumb = kfs.column("thumb")[0].as_py()
    gen = man.generation + 1
    out = {}
    code_arr = pq.encode(vec)
    out["codes"] = pa.table({"kf_id": kf_ids, "video_id": video_of,
                             "code": pa.FixedSizeBinaryArray.from_buffers(pa.binary(pq.m), extra, [None, pa.py_buffer(code_arr.tobytes())]),
                             "vector": pa.array([v.tobytes() for v in vec.astype(np.float16)], pa.binary())})
    out["keyframes"] = pa.table({"kf_id": kf_ids, "video_id": video_of, "frame": np.zeros(extra, np.int64),
                                 "time": (np.arange(extra) // n_videos * 2.0).astype(np.float64),
                                 "shot": np.zeros(extra, np.int32), "thumb": pa.array([thumb] * extra, pa.binary())})
    out["videos"] = pa.table({"video_id": vids, "path": [some_path] * n_videos, "kind": ["video"] * n_videos,
                              "status": ["ok"] * n_videos, "error": pa.nulls(n_videos, pa.string()),
                              "duration": np.full(n_videos, 200.0), "frames": np.full(n_videos, 5000, np.int64),
                              "keyframes": np.full(n_videos, 100, np.int64)})
    new = {}
    for d in DATASETS:
        folder = dst / d / f"gen={gen}"
        folder.mkdir(parents=True)
        pq_io.write_table(out[d], folder / "part-synthetic.parquet")
        new[d] = [f"{d}/gen={gen}/part-synthetic.parquet"]
        man.files[d] = man.files[d] + new[d]
        man.checksums.update(checksum_files(dst, new[d]))
    man.generation = gen
    write_manifest(dst, man)
    return len(base) + extra


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    import httpx
    from PIL import Image

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keyframes", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=48, help="requests per concurrency level")
    ap.add_argument("--index", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vidseek-load-"))
    src = args.index
    if src is None:
        from vidseek.engine.build import BuildConfig, build_index
        from vidseek.engine.session import SparkConfig

        src = tmp / "shared"
        build_index([str(args.data / "videos")], src, BuildConfig(spark=SparkConfig(master="local[*]"), quiet=True))
    n = scale_index(src, tmp / "big", args.keyframes)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vidseek", "serve", str(tmp / "big"), "--port", str(port),
                             "--workers", str(args.workers), "--device", "cpu"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        img = Image.open(args.data / "images/skimage/chelsea.png").convert("RGB")
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        payload = buf.getvalue()
        stats = httpx.get(base + "/api/stats").json()
        print(f"index: {stats['keyframes']:,} key frames ({n:,} written) of {stats['videos']:,} videos; "
              f"server --workers {args.workers}, CPU; query: a 451x300 JPEG; {args.requests} requests per level")
        print(f"{'concurrency':>11}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}{'errors':>8}")

        def one(_):
            t0 = time.perf_counter()
            r = httpx.post(base + "/api/search", files={"file": ("q.jpg", payload)}, data={"k": "10"}, timeout=120)
            return time.perf_counter() - t0, r.status_code

        one(0)  # warm-up
        for c in (1, 4, 16):
            t0 = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(c) as pool:
                res = list(pool.map(one, range(args.requests)))
            wall = time.perf_counter() - t0
            lat = np.array([r[0] for r in res]) * 1000
            errors = sum(r[1] != 200 for r in res)
            print(f"{c:>11}{np.percentile(lat, 50):>9.0f}{np.percentile(lat, 95):>9.0f}{np.percentile(lat, 99):>9.0f}"
                  f"{len(res) / wall:>8.1f}{errors:>8}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
