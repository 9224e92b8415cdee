"""Paths of the real test media (../shared/data, see its MANIFEST.md) and helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
