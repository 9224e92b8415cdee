"""Load on `POST /api/search` and on thumbnails: p50/p95/p99 latency and throughput at concurrency 1, 4 and 16.

    python bench/serve_load.py [--keyframes 100000] [--requests 48] [--index IDX]

Loopback only, bounded in count and time.  The index is the shared-video index (built here unless --index is
given) scaled to --keyframes key frames with synthetic entries (bench/scale.py's generator: mixtures of the real
key frames' whitened vectors with noise, PQ-encoded with the index's codebooks, written by the index's writer;
an inverted file from 200,000 key frames on).  The query path is the real one: upload, decode, CNN, ADC,
re-ranking from the vectors on disk, grouping.  Thumbnails: `GET /api/keyframes/{id}/thumbnail` for key frames
drawn at random from the whole index (found through each key-frames part's sidecar, vidseek.store.thumbs), and for
ids that are not in the index (404: every part is looked at, the slowest case).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from vidseek.net import free_port  # noqa: E402



def scale_index(src: Path, dst: Path, target: int) -> int:
    """``dst``: an index of ``target`` key frames made from ``src`` by bench/scale.py's generator (the real key
    frames plus synthetic ones, an inverted file from 200,000 key frames on, as the build chooses)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from scale import make_index

    from vidseek.quantize.ivf import IVFConfig

    made = make_index(src, dst, target, ivf=IVFConfig().enabled(target))
    return len(made["x"])


def random_keyframes(index: Path, count: int, seed: int = 0) -> list[int]:
    """Key-frame ids drawn at random from every part of the index (read here, not by the server)."""
    import pyarrow.parquet as pq_io

    from vidseek.store.layout import read_manifest

    ids = np.concatenate([pq_io.read_table(index / rel, columns=["kf_id"]).column("kf_id").to_numpy()
                          for rel in read_manifest(index).files["keyframes"]])
    return np.random.default_rng(seed).choice(ids, min(count, len(ids)), replace=False).tolist()


def load_levels(label: str, one, count: int, levels=(1, 4, 16), ok: int = 200) -> None:
    """Run ``one(i)`` (-> (seconds, status)) ``count`` times at each concurrency; print a line per level."""
    for c in levels:
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(c) as pool:
            res = list(pool.map(one, range(count)))
        wall = time.perf_counter() - t0
        lat = np.array([r[0] for r in res]) * 1000
        errors = sum(r[1] != ok for r in res)
        print(f"{label:<22}{c:>11}{np.percentile(lat, 50):>9.1f}{np.percentile(lat, 95):>9.1f}"
              f"{np.percentile(lat, 99):>9.1f}{len(res) / wall:>8.1f}{errors:>8}")


@contextmanager
def served(index: Path, *options: str, env: dict | None = None, headers: dict | None = None):
    """`vidseek serve INDEX` on a free loopback port until the block ends; yields (base URL, process)."""
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "vidseek", "serve", str(index), "--port", str(port := free_port()),
                             "--device", "cpu", *options], env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(base + "/api/health", headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield base, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    import httpx
    from PIL import Image

    from vidseek.store.layout import read_manifest

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keyframes", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=48, help="searches per concurrency level")
    ap.add_argument("--thumbs", type=int, default=400, help="thumbnail requests per concurrency level")
    ap.add_argument("--index", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scaled", type=Path, help="serve this index as it is (e.g. one bench/scale.py --work wrote)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vidseek-load-"))
    src = args.index
    if args.scaled:
        big, n = args.scaled, None
    elif src is None:
        from vidseek.engine.build import BuildConfig, build_index
        from vidseek.engine.session import SparkConfig

        src = tmp / "shared"
        build_index([str(args.data / "videos")], src, BuildConfig(spark=SparkConfig(master="local[*]"), quiet=True))
    if not args.scaled:
        big = tmp / "big"
        n = scale_index(src, big, args.keyframes)
    with served(big, "--workers", str(args.workers)) as (base, _):
        img = Image.open(args.data / "images/skimage/chelsea.png").convert("RGB")
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        payload = buf.getvalue()
        stats = httpx.get(base + "/api/stats").json()
        print(f"index: {stats['keyframes']:,} key frames ({n or stats['keyframes']:,} written) of {stats['videos']:,} videos, "
              f"{stats['engine']} ({stats['nlist']} lists); "
              f"server --workers {args.workers}, CPU; query: a 451x300 JPEG; {args.requests} searches per level; "
              f"thumbnails: {args.thumbs} key frames at random, {len(read_manifest(big).files['keyframes'])} "
              "key-frames parts")
        print(f"{'':<22}{'concurrency':>11}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}{'errors':>8}")
        client = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=32))

        def one(_):
            t0 = time.perf_counter()
            r = client.post(base + "/api/search", files={"file": ("q.jpg", payload)}, data={"k": "10"})
            return time.perf_counter() - t0, r.status_code

        one(0)  # warm-up
        load_levels("search", one, args.requests)
        ids = random_keyframes(big, args.thumbs)

        def thumb(i, kf_ids=ids):
            t0 = time.perf_counter()
            r = client.get(f"{base}/api/keyframes/{kf_ids[i % len(kf_ids)]}/thumbnail")
            return time.perf_counter() - t0, r.status_code

        missing = [int(x) for x in np.random.default_rng(1).integers(-2**63, 2**63 - 1, 64, dtype=np.int64)]
        load_levels("thumbnail", thumb, len(ids))
        load_levels("thumbnail, not found", lambda i: thumb(i, missing), len(missing), levels=(1,), ok=404)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
