"""Paths of the real test media (../shared/data, see its MANIFEST.md) and helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vidseek.net import free_port

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VIDSEEK_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()
VIDEOS = DATA / "videos"
IMAGES = DATA / "images"

if not VIDEOS.is_dir():  # the tests run on real data, never on stand-ins
    raise RuntimeError(f"test data not found at {DATA}: set VIDSEEK_TEST_DATA or place shared/ beside the repo")


def all_shared_videos() -> list[Path]:
    exts = {".mp4", ".avi", ".mkv", ".webm"}
    return sorted(p for p in VIDEOS.rglob("*") if p.suffix in exts)


def run_cli(*args, cwd: Path | None = None, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess (the same interpreter, so the same install)."""
    return subprocess.run(
        [sys.executable, "-m", "vidseek", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def add_in_process(idx: Path, *paths: Path):
    """``vidseek add`` through the library, on this test process's Spark session (local[2], started once for the
    whole run): for tests about the index an add makes, not about the command's output (tests/test_cli.py)."""
    from vidseek.engine.build import BuildConfig, add_to_index
    from vidseek.engine.session import SparkConfig

    return add_to_index([str(p) for p in paths], idx, BuildConfig(spark=SparkConfig(master="local[2]"), quiet=True))


def index_table(idx: Path, dataset: str) -> pa.Table:
    from vidseek.store.layout import read_manifest

    man = read_manifest(idx)
    key = "path" if dataset == "videos" else "kf_id"
    return pa.concat_tables([pq.read_table(idx / f) for f in man.files[dataset]]).sort_by(key)


def stored_vectors(idx: Path) -> np.ndarray:
    """The float16 vectors of every key frame, in key-frame id order."""
    from vidseek.store.layout import read_manifest

    man = read_manifest(idx)
    ids = np.concatenate([pq.read_table(idx / f, columns=["kf_id"]).column("kf_id").to_numpy() for f in man.files["codes"]])
    vec = np.concatenate([np.load(idx / f) for f in man.files["vectors"]])
    return vec[np.argsort(ids, kind="stable")]


def assert_same_index(a: Path, b: Path) -> None:
    """Bit for bit the same index: every column of every dataset (key frames, thumbnails, codes, float16
    vectors, videos), the PWA channels and every model array."""
    import json

    from vidseek.store.layout import read_manifest

    for dataset in ("keyframes", "codes", "videos"):
        ta, tb = index_table(a, dataset), index_table(b, dataset)
        assert ta.column_names == tb.column_names, dataset
        for col in ta.column_names:
            assert ta.column(col).to_pylist() == tb.column(col).to_pylist(), (dataset, col)
    ma, mb = read_manifest(a), read_manifest(b)
    np.testing.assert_array_equal(stored_vectors(a), stored_vectors(b))
    fa, fb = (json.loads((i / m.model_dir / "features.json").read_text()) for i, m in ((a, ma), (b, mb)))
    assert fa["pwa"] == fb["pwa"] and fa["whitening"] == fb["whitening"]
    for name in ("pq.npz", "whitening.npz"):  # the arrays (zip members carry a write time)
        with np.load(a / ma.model_dir / name) as za, np.load(b / mb.model_dir / name) as zb:
            assert sorted(za.files) == sorted(zb.files)
            for key in za.files:
                assert np.array_equal(za[key], zb[key]), (name, key)


@contextmanager
def running_server(index: Path, log: Path, *options: str, env: dict | None = None) -> Iterator[str]:
    """`vidseek serve INDEX` on a free loopback port until the block ends; yields its base URL.  ``env``: extra
    environment variables (e.g. VIDSEEK_TOKEN)."""
    import signal
    import time

    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vidseek", "serve", str(index), "--port", str(port), *options],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(base + "/api/health", timeout=2).status_code in (200, 401):  # 401: it has a token
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
    try:
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
