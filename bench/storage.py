"""The index on local disk versus in object storage (an S3-protocol server on loopback), in the same run.

    python bench/storage.py [--videos DIR] [--work DIR] [--repeat 3]

Needs ``moto[server]`` (the test extra).  Every step is the real command line in a fresh process, Spark local[2]:

1. ``vidseek build VIDEOS --index DIR`` (local disk) and ``--index s3://bench/idx`` (videos read from local disk,
   the index committed to the bucket), and ``vidseek build s3://bench/videos --index s3://bench/idx-s3`` (the videos
   uploaded to the bucket first, decoded by the tasks as streams);
2. one ``vidseek search`` of a still: on the local index, on the bucket's with an empty cache (cold: the index
   files fetched and checked against their sha256), and again (warm: one GET of the pointer);
3. the three indexes compared: PQ codebooks, whitening, the code of every key frame (by file name and frame), the
   key frames themselves (frame numbers, times, thumbnail bytes), and the search's answers.

A video's id is a hash of its path, and the whitening and PQ samples are drawn in key-frame id order: the same
videos under other paths (s3://... instead of /data/...) give a model that differs in the last bits, not in kind.

moto keeps objects in memory on this machine, so these times are the protocol's cost (requests, checksums, copies),
not a network's: on AWS or a remote MinIO add the transfer of the index's bytes at the link's speed.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
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
from vidseek.eval.s3server import loopback_s3, make_bucket  # noqa: E402

QUERY = ROOT / "samples" / "query-bigbuckbunny-3s.jpg"


def cli(*args: str, env: dict | None = None) -> float:
    return cli_out(*args, env=env)[0]


def cli_out(*args: str, env: dict | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "vidseek", *args], capture_output=True, text=True,
                       env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable, **(env or {})})
    if r.returncode:
        raise SystemExit(f"vidseek {' '.join(args)}: {r.stderr[-3000:]}")
    return time.perf_counter() - t0, r.stdout


def upload(folder: Path, prefix: str) -> int:
    import pyarrow.fs as pafs

    from vidseek.inputs import VIDEO_EXTENSIONS
    from vidseek.storage import S3Settings

    fs = S3Settings.from_env().filesystem()
    total = 0
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in VIDEO_EXTENSIONS:
            rel = p.relative_to(folder).as_posix()
            pafs.copy_files(str(p), f"{prefix}/{rel}", source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
            total += p.stat().st_size
    return total


def short(path: str) -> str:
    """folder/file: the same for a video on local disk and in the bucket."""
    return "/".join(path.rsplit("/", 2)[-2:])


def rows_by_name(idx: Path, dataset: str, column: str) -> dict[tuple[str, int], object]:
    """{(folder/file, frame): value of ``column``} over a dataset of the index (codes: the PQ code; keyframes: the
    time and the JPEG thumbnail)."""
    import pyarrow.parquet as pq_io

    from vidseek.store.layout import read_manifest
    from vidseek.store.reader import read_dataset

    man = read_manifest(idx)
    paths = {v: p for v, p in zip(*[read_dataset(idx, man, "videos", ["video_id", "path"]).column(c).to_pylist()
                                    for c in ("video_id", "path")])}
    out = {}
    for rel in man.files[dataset]:
        t = pq_io.read_table(idx / rel, columns=["video_id", "frame", "time", column])
        for v, f, tm, c in zip(*[t.column(k).to_pylist() for k in ("video_id", "frame", "time", column)]):
            out[(short(paths[v]), f)] = (tm, c)
    return out


def top_answers(stdout: str) -> list[tuple[str, float, float]]:
    return [(short(h["video"]), round(h["time"], 2), round(h["score"], 3)) for h in json.loads(stdout)[0]["results"]]


def same_model(a: Path, b: Path) -> bool:
    from vidseek.store.layout import read_manifest

    for name in ("pq.npz", "whitening.npz"):
        with np.load(a / read_manifest(a).model_dir / name) as za, np.load(b / read_manifest(b).model_dir / name) as zb:
            if sorted(za.files) != sorted(zb.files) or not all(np.array_equal(za[k], zb[k]) for k in za.files):
                return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", default=str(ROOT.parent / "shared" / "data" / "videos"))
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one, deleted)")
    ap.add_argument("--repeat", type=int, default=3, help="warm searches timed (the best is kept)")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="vidseek-storage-"))
    work.mkdir(parents=True, exist_ok=True)
    videos = Path(args.videos).resolve()
    res: dict = {}
    with loopback_s3(work / "moto.log") as env:
        os.environ.update(env)
        make_bucket(env, "bench")
        res["video MB"] = upload(videos, "bench/videos") / 1e6
        local = work / "local-idx"
        shutil.rmtree(local, ignore_errors=True)
        cache = {"VIDSEEK_CACHE": str(work / "cache-build")}
        res["build, local disk"] = cli("build", str(videos), "--index", str(local), "--master", "local[2]", "-q")
        res["build, index in bucket"] = cli("build", str(videos), "--index", "s3://bench/idx", "--master", "local[2]",
                                            "-q", env=cache)
        res["build, videos and index in bucket"] = cli("build", "s3://bench/videos", "--index", "s3://bench/idx-s3",
                                                       "--master", "local[2]", "-q", env=cache)
        q = str(QUERY)
        res["search, local disk"] = min(cli("search", str(local), q) for _ in range(args.repeat))
        answers = {name: top_answers(cli_out("search", idx, q, "--format", "json", env=cache)[1])
                   for name, idx in (("local", str(local)), ("bucket", "s3://bench/idx"), ("s3", "s3://bench/idx-s3"))}
        shutil.rmtree(work / "cache-search", ignore_errors=True)
        fresh = {"VIDSEEK_CACHE": str(work / "cache-search")}
        res["search, bucket, cold cache"] = cli("search", "s3://bench/idx", q, env=fresh)
        res["search, bucket, warm cache"] = min(cli("search", "s3://bench/idx", q, env=fresh) for _ in range(args.repeat))
        from vidseek.store.remote import RemoteIndex

        a = RemoteIndex("s3://bench/idx").pull(work / "pulled")
        b = RemoteIndex("s3://bench/idx-s3").pull(work / "pulled-s3")
        ca, cb, cc = (rows_by_name(i, "codes", "code") for i in (local, a, b))
        res["key frames"] = len(ca)
        res["same key frames, times, thumbnails (videos in bucket)"] = (
            rows_by_name(local, "keyframes", "thumb") == rows_by_name(b, "keyframes", "thumb"))
        res["same codes (index in bucket)"] = ca == cb
        res["same codes (videos and index in bucket)"] = ca == cc
        res["same model (index in bucket)"] = same_model(local, a)
        res["same model (videos and index in bucket)"] = same_model(local, b)
        res["same top answers (index in bucket)"] = answers["local"] == answers["bucket"]
        res["same top videos and times (videos and index in bucket)"] = (
            [x[:2] for x in answers["local"]] == [x[:2] for x in answers["s3"]])
        res["top answer"] = answers["local"][0]
        res["index MB"] = sum(p.stat().st_size for p in local.rglob("*") if p.is_file() and ".staging" not in p.parts) / 1e6
    print(f"{'step':<58}{'value':>12}")
    for k, v in res.items():
        print(f"{k:<58}{(f'{v:.2f}' if isinstance(v, float) else str(v)):>12}")
    print(json.dumps(res))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
