"""Shared fixtures over the real media in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from media import IMAGES, VIDEOS


@pytest.fixture(scope="session")
def videos() -> Path:
    return VIDEOS


@pytest.fixture(scope="session")
def images() -> Path:
    return IMAGES


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


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory):
    """An index over every shared video, built with the default settings on Spark local[2]."""
    from vidseek.engine.build import BuildConfig, build_index
    from vidseek.engine.session import SparkConfig

    idx = tmp_path_factory.mktemp("shared-index") / "idx"
    report = build_index([str(VIDEOS)], idx, BuildConfig(spark=SparkConfig(master="local[2]"), quiet=True))
    assert report.ok == 21 and not report.failed, report
    return idx
