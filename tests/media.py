"""Paths of the real test media (../shared/data, see its MANIFEST.md) and helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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


def index_table(idx: Path, dataset: str) -> pa.Table:
    from vidseek.store.layout import read_manifest

    man = read_manifest(idx)
    return pa.concat_tables([pq.read_table(idx / f) for f in man.files[dataset]]).sort_by("kf_id")


def assert_same_index(a: Path, b: Path) -> None:
    """Same key frames and codes; same codebook and whitening arrays."""
    from vidseek.store.layout import read_manifest

    ka, kb = index_table(a, "keyframes"), index_table(b, "keyframes")
    for col in ("kf_id", "video_id", "frame", "time", "shot"):
        assert ka.column(col).to_pylist() == kb.column(col).to_pylist(), col
    ca, cb = index_table(a, "codes"), index_table(b, "codes")
    assert ca.column("code").to_pylist() == cb.column("code").to_pylist()
    ma, mb = read_manifest(a), read_manifest(b)
    for name in ("pq.npz", "whitening.npz"):  # the arrays (zip members carry a write time)
        with np.load(a / ma.model_dir / name) as za, np.load(b / mb.model_dir / name) as zb:
            assert sorted(za.files) == sorted(zb.files)
            for key in za.files:
                assert np.array_equal(za[key], zb[key]), (name, key)
