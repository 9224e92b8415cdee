"""Shots and key frames against PySceneDetect's published outputs for the shared clips."""

from __future__ import annotations

import csv
import io
import json
from functools import lru_cache

import numpy as np
import pytest
from PIL import Image

from media import VIDEOS, all_shared_videos
from vidseek.video import KeyframeConfig, summarise
from vidseek.video.detector import DetectorConfig, is_dark

PSD = VIDEOS / "pyscenedetect"
EXTRA = VIDEOS.parent / "extra-videos"
BLACK = 12.0  # mean RGB below this is a black frame (the runs the issue lists are exactly these)


@lru_cache(maxsize=None)
def summary(name: str):
    return summarise(VIDEOS / name)


def cut_frames(s):
    return [shot.start_frame for shot in s.shots[1:]]


def golden_cut_times(name: str, detector: str) -> list[float]:
    cuts = json.loads((PSD / "goldens" / f"{name}.{detector}.default.json").read_text())["cuts"]
    return [c * 1001 / 24000 for c in cuts]  # frame numbers at the nominal 23.976 fps


@pytest.mark.parametrize("detector", ["ContentDetector", "AdaptiveDetector"])
def test_hard_cuts_match_pyscenedetect_goldens(detector):
    s = summary("pyscenedetect/goldeneye-vfr-drop3.mp4")
    expected = golden_cut_times("goldeneye-vfr-drop3.mp4", detector)
    assert expected == pytest.approx([3.754, 8.759], abs=1e-3)
    assert len(s.shots) == len(expected) + 1
    assert [sh.start_time for sh in s.shots[1:]] == pytest.approx(expected, abs=0.1)
    assert cut_frames(s) == [60, 140]  # decode order: the file drops frames


def test_rotated_copy_has_the_same_cuts():
    s = summary("pyscenedetect/issue-134-rotate.mp4")
    assert [sh.start_time for sh in s.shots[1:]] == pytest.approx([3.754, 8.759], abs=0.1)


def test_counter_on_still_background_has_no_cut():
    assert json.loads((PSD / "goldens/counter.mp4.ContentDetector.default.json").read_text())["cuts"] == []
    s = summary("pyscenedetect/counter.mp4")
    assert cut_frames(s) == []
    assert len(s.keyframes) >= 1


def _in_runs(frame, runs):
    return any(a <= frame <= b for a, b in runs)


def test_fades_to_black_testvideo():
    # runs of frames under BLACK; 0-29 is a copyright line fading in on black, content of its own (a dim frame with
    # highlights is not black): the boundary after it is its last frame + 1, the first frame of the shot
    runs = [(0, 30), (180, 215), (355, 397), (689, 719)]
    s = summary("pyscenedetect/testvideo.mp4")
    cuts = cut_frames(s)
    assert all(_in_runs(c, runs) for c in cuts), cuts
    # PySceneDetect's scene list puts the cuts at 201 and 382: one boundary inside each of those runs
    psd = [int(float(r["frame"])) for r in csv.DictReader(io.StringIO((PSD / "testvideo_scenes.csv").read_text().split("\n\n")[0]))]
    assert psd == [0, 201, 382]
    for c in psd[1:]:
        run = next(r for r in runs if r[0] <= c <= r[1])
        assert sum(run[0] <= x <= run[1] for x in cuts) == 1
    shots = [(30, 179), (216, 354), (398, 688)]
    for a, b in shots:
        assert any(a <= k.frame <= b for k in s.keyframes), f"no key frame in shot {a}-{b}"
    # no key frame is black: the only dim ones are the copyright line on black, one per run, and have content
    assert not any(is_dark(k.image, DetectorConfig()) for k in s.keyframes)
    dim = [k.frame for k in s.keyframes if float(k.image.mean()) < BLACK]
    assert all(_in_runs(f, runs) for f in dim) and len(dim) <= len(runs), dim


def test_synthetic_fades_white_black_white():
    runs = [(78, 89), (161, 172)]
    s = summary("pyscenedetect/fades.mp4")
    assert all(_in_runs(c, runs) for c in cut_frames(s))
    assert s.keyframes and min(float(k.image.mean()) for k in s.keyframes) >= BLACK


def test_black_start_gives_no_black_key_frame():
    s = summary("pyscenedetect/delayed_start.mp4")
    assert cut_frames(s) == []
    assert s.keyframes and min(float(k.image.mean()) for k in s.keyframes) >= BLACK


def test_dim_frames_with_content_are_not_black():
    flat = np.full((54, 96, 3), 6, np.uint8)
    credits = flat.copy()
    credits[20:22, 10:50] = 230  # a line of white text on black: as dim on average, not flat
    assert flat.mean() < BLACK and credits.mean() < BLACK
    small_text = flat.copy()
    small_text[40:41, 10:40] = 200  # a short line of small text: hardly spread (std under 16), yet bright
    noisy = np.clip(flat + np.random.default_rng(0).normal(0, 3, flat.shape), 0, 255).astype(np.uint8)  # grain
    assert flat.mean() < BLACK and credits.mean() < BLACK and small_text.std() < DetectorConfig().dark_contrast
    assert is_dark(flat, DetectorConfig()) and not is_dark(credits, DetectorConfig())
    assert not is_dark(small_text, DetectorConfig()) and is_dark(noisy, DetectorConfig())
    assert not is_dark(np.full((54, 96, 3), 128, np.uint8), DetectorConfig())


def test_night_shot_and_credits_get_key_frames():
    # nasa_13013.mp4 opens on a 5 s night shot (mean RGB about 11) and sintel.mp4 ends on 10 s of white credits on
    # black (mean 3-6): content to find, not fades to skip
    nasa = summarise(EXTRA / "torchcodec/nasa_13013.mp4")
    assert min(k.time for k in nasa.keyframes) < 2.0
    sintel = summarise(EXTRA / "threejs-workshop/sintel.mp4")
    assert any(k.time > 42.5 for k in sintel.keyframes)
    # testvideo.mp4 shows a copyright line on black for 2 s (mean RGB under 1, std 8): small text, not a fade
    card = summarise(VIDEOS / "pyscenedetect/testvideo.mp4")
    assert any(11.9 < k.time < 13.2 for k in card.keyframes), [round(k.time, 2) for k in card.keyframes]


def test_long_shot_gets_key_frames_at_most_max_gap_apart():
    # vtest.avi: 79.5 s of one static-camera shot
    s = summary("opencv/vtest.avi")
    assert len(s.shots) == 1
    times = np.array([k.time for k in s.keyframes])
    assert len(times) >= 20
    # near-identical neighbours may be dropped, but coverage stays dense
    assert np.median(np.diff(times)) <= 2.0 + 1e-6


def test_near_identical_key_frames_are_dropped():
    # bigbuckbunny: no dedupe gives more key frames than with dedupe, and every kept pair differs
    loose = summarise(VIDEOS / "opencv/vtest.avi", KeyframeConfig(dedupe_threshold=0.0))
    tight = summary("opencv/vtest.avi")
    assert len(tight.keyframes) < len(loose.keyframes)


@pytest.mark.parametrize("path", all_shared_videos(), ids=lambda p: p.name)
def test_every_video_has_key_frames_with_thumbnails(path):
    s = summarise(path)
    assert s.shots and s.keyframes
    assert s.shots[0].start_frame == 0 and s.shots[-1].end_frame == s.frames - 1
    for a, b in zip(s.shots, s.shots[1:]):
        assert b.start_frame == a.end_frame + 1
    shot_of = {sh.index: sh for sh in s.shots}
    for k in s.keyframes:
        sh = shot_of[k.shot]
        assert sh.start_frame <= k.frame <= sh.end_frame
        assert max(k.image.shape[:2]) <= 384
        thumb = Image.open(io.BytesIO(k.thumbnail))
        assert thumb.format == "JPEG" and max(thumb.size) <= 192
    assert [k.frame for k in s.keyframes] == sorted({k.frame for k in s.keyframes})


def test_slow_shot_keeps_a_key_frame_every_few_seconds():
    # tree.avi: a 29.5 s slow shot whose near-identical key frames used to leave a 25 s gap
    cfg = KeyframeConfig()
    s = summary("opencv/tree.avi")
    times = [0.0] + [k.time for k in s.keyframes] + [s.duration]
    assert max(np.diff(times)) <= cfg.keep_every + cfg.max_gap + 1e-6
    old = summarise(VIDEOS / "opencv/tree.avi", KeyframeConfig(keep_every=float("inf")))
    assert len(old.keyframes) < len(s.keyframes)
