"""Shared fixtures: the real media in ../shared/data (see its MANIFEST.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VIDSEEK_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()
VIDEOS = DATA / "videos"
IMAGES = DATA / "images"

if not VIDEOS.is_dir():  # the tests run on real data, never on stand-ins
    raise RuntimeError(f"test data not found at {DATA}: set VIDSEEK_TEST_DATA or place shared/ beside the repo")


def all_shared_videos() -> list[Path]:
    exts = {".mp4", ".avi", ".mkv", ".webm"}
    return sorted(p for p in VIDEOS.rglob("*") if p.suffix in exts)


@pytest.fixture(scope="session")
def videos() -> Path:
    return VIDEOS


@pytest.fixture(scope="session")
def images() -> Path:
    return IMAGES


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess (the same interpreter, so the same install)."""
    return subprocess.run(
        [sys.executable, "-m", "vidseek", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def bad_media(tmp_path_factory) -> dict[str, Path]:
    """Broken files made from real ones: empty, truncated, text and image renamed to video names."""
    d = tmp_path_factory.mktemp("bad")
    src = (VIDEOS / "pyscenedetect" / "testvideo.mp4").read_bytes()
    files = {
        "empty": d / "empty.mp4",
        "truncated": d / "truncated.mp4",
        "text": d / "notes.mp4",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(src[: len(src) // 2])
    files["text"].write_text("this is a text file, not a video\n" * 20)
    return files
