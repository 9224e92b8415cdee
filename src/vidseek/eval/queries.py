"""Query generation from real videos: frames and excerpts at random times, with edits applied."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..video import VideoReader
from .edits import EDITS


@dataclass
class FrameQuery:
    video: str  # source video (absolute path)
    time: float  # seconds: where the frame was taken
    edit: str
    image: np.ndarray


def grab_frames(path: str | Path, times: list[float], max_side: int = 640) -> list[tuple[float, np.ndarray]]:
    """The decoded frames nearest each of ``times`` (one sequential decode)."""
    wanted = sorted(times)
    out: list[tuple[float, np.ndarray]] = []
    prev = None
    with VideoReader(path) as r:
        for f in r.frames():
            while wanted and f.time >= wanted[0]:
                pick = f if prev is None or abs(f.time - wanted[0]) <= abs(prev.time - wanted[0]) else prev
                out.append((pick.time, pick.rgb(max_side)))
                wanted.pop(0)
            prev = f
            if not wanted:
                break
        while wanted and prev is not None:
            out.append((prev.time, prev.rgb(max_side)))
            wanted.pop(0)
    return out


def video_duration(path: str | Path) -> float:
    last = 0.0
    with VideoReader(path) as r:
        for f in r.frames():
            last = f.time
    return last


def decode_span(path: str | Path, start: float, span: float, max_side: int) -> tuple[list[np.ndarray], list[float]]:
    """The decoded RGB frames (longer side ``max_side``) between ``start`` and ``start + span`` seconds, and their
    times."""
    frames, times = [], []
    with VideoReader(path) as r:
        for f in r.frames():
            if f.time < start:
                continue
            if f.time > start + span:
                break
            frames.append(f.rgb(max_side))
            times.append(f.time)
    return frames, times


def frame_queries(
    videos: list[Path], per_video: int, edits: list[str] | None = None, seed: int = 0, max_side: int = 640
) -> list[FrameQuery]:
    """``per_video`` random instants per video, each edited with every edit in ``edits``."""
    rng = np.random.default_rng(seed)
    edits = edits or list(EDITS)
    out = []
    for v in videos:
        dur = video_duration(v)
        times = sorted(float(t) for t in rng.uniform(0, max(dur, 1e-3), per_video))
        for t, img in grab_frames(v, times, max_side):
            for e in edits:
                out.append(FrameQuery(str(Path(v).resolve()), t, e, EDITS[e](img, rng)))
    return out


@dataclass
class ClipQuery:
    video: str  # source video (absolute path)
    start: float  # seconds: where the excerpt starts in the source
    duration: float
    edit: str
    path: str  # the encoded clip


def write_clip(frames: list[np.ndarray], fps: float, path: str | Path, codec: str = "libx264") -> None:
    """Encode RGB frames (all the same size) into a video file (H.264 in MP4 by default)."""
    import av

    h, w = frames[0].shape[:2]
    h2, w2 = max(2, h - h % 2), max(2, w - w % 2)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=max(1, int(round(fps))))
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "28"}
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:h2, :w2]), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def clip_queries(
    videos: list[Path], per_video: int, folder: str | Path, edits: list[str] | None = None, seed: int = 0,
    min_len: float = 2.0, max_len: float = 5.0, max_side: int = 480,
) -> list[ClipQuery]:
    """``per_video`` excerpts of 2-5 s per video at random times, each with one edit (cycled), re-encoded."""
    rng = np.random.default_rng(seed)
    edits = edits or list(EDITS)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    n = 0
    for v in videos:
        dur = video_duration(v)
        for _ in range(per_video):
            length = float(min(rng.uniform(min_len, max_len), max(dur, 0.5)))
            start = float(rng.uniform(0, max(dur - length, 0.0)))
            edit = edits[n % len(edits)]
            edit_seed = int(rng.integers(1 << 31))
            frames, times = decode_span(v, start, length, max_side)
            # the same random choices (crop window, box) on every frame of the clip
            frames = [EDITS[edit](img, np.random.default_rng(edit_seed)) for img in frames]
            if len(frames) < 2:
                continue
            fps = (len(times) - 1) / max(times[-1] - times[0], 1e-3)
            path = folder / f"clip{n:03d}-{Path(v).stem}-{edit}.mp4"
            write_clip(frames, fps, path)
            out.append(ClipQuery(str(Path(v).resolve()), times[0], times[-1] - times[0], edit, str(path)))
            n += 1
    return out
