"""Video decoding with PyAV: upright, display-aspect, downscaled RGB frames with PTS timestamps.

Design points
- Only the first video stream is demuxed and decoded (a broken audio stream never matters).
- Threaded decoding (``thread_type = "AUTO"``: frame + slice threads).
- After a seek, the frames before the time sought that no other frame refers to (most B-frames) are not decoded:
  the frames yielded are the same, up to a third of the work is saved in long groups of pictures.
- Frames are converted to RGB lazily and at the size the caller asks for (swscale does the
  downscale during the colour conversion, so a 1080p frame is never converted at full size).
- Rotation metadata (display matrix) is applied the way players apply it, and non-square
  pixels (sample aspect ratio) are stretched to the display aspect.
- Timestamps are seconds from the start of the stream: ``(pts - start_time) * time_base``, the
  position a player seeks to.  Containers with unreliable PTS (AVI with packed B-frames
  emits them slightly out of order) are repaired by a small sort window, so times are
  always non-decreasing.  ``frame_index / fps`` is never used.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ..errors import InputError
from ..storage import check_object, is_uri, open_object

#: how many frames the timestamp-repair window holds
_PTS_SORT_WINDOW = 4
#: a stream that cannot seek (a raw H.264 file) is decoded from its start to reach a time: this many frames at most
_UNSEEKABLE_MAX_FRAMES = 1500
#: after a seek, frames this long (s) or more before the time sought are decoded only if other frames refer to them
#: (FFmpeg's ``skip_frame = NONREF``): a frame nothing refers to and nobody sees need not be decoded.  The margin
#: covers packet timestamps slightly off their frames' (AVI with packed B-frames)
_RUNUP_MARGIN = 0.3
#: FFmpeg's AVFMT_NOTIMESTAMPS: a format without timestamps (raw H.264, HEVC, MPEG-4 streams), which cannot seek
_AVFMT_NOTIMESTAMPS = 0x0080

# PyAV's default log level (None) drops FFmpeg's messages without a Python callback.  Never set a level:
# with a Python log callback installed, FFmpeg's decoder threads need the GIL to log, and closing a
# frame-threaded decoder (which joins those threads while holding the GIL) can deadlock (PyAV #909, #751).


@dataclass(frozen=True)
class VideoInfo:
    """What is known of a video before decoding it all."""

    path: str
    codec: str
    width: int  # display width: after sample aspect ratio and rotation
    height: int
    rotation: int  # degrees counter-clockwise applied to the stored pixels (0, 90, 180, 270)
    fps: float | None  # average frame rate as declared
    duration: float | None  # seconds, when the container says
    frame_count: int | None  # declared, may be 0/None or wrong


def fit_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """Size with the longer side at most ``max_side``, aspect ratio kept, at least 1x1."""
    if not max_side or max(width, height) <= max_side:
        return max(1, width), max(1, height)
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class DecodedFrame:
    """One decoded frame; pixels are produced on demand at the size asked for."""

    __slots__ = ("index", "time", "_frame", "_rotation", "_size", "_scalers")

    def __init__(
        self,
        index: int,
        time: float,
        frame: av.VideoFrame,
        rotation: int,
        size: tuple[int, int],
        scalers: dict[tuple, VideoReformatter] | None = None,
    ):
        self.index = index  # 0-based, decode (presentation) order
        self.time = time  # seconds from the start of the stream
        self._frame = frame
        self._rotation = rotation
        self._size = size  # display (width, height), upright
        # one swscale context per output size, shared by the frames of a reader: creating a
        # context per frame costs more than decoding the frame
        self._scalers = {} if scalers is None else scalers

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    @property
    def rotation(self) -> int:
        """Degrees the stored picture is turned (counter-clockwise, as ``np.rot90``) to be upright."""
        return self._rotation

    def thumb_rgb(self, max_side: int) -> np.ndarray:
        """A small RGB copy for frame-to-frame analysis, by sampling the decoded planes directly.

        Not upright and not aspect-corrected (the same for every frame of a video, which is all a
        frame difference needs); about ``max_side`` px on the stored picture's longer side. Planar
        8-bit YUV (nearly every video) is sampled with numpy without a colour-conversion pass over the
        full picture; other pixel formats go through swscale.
        """
        frame = self._frame
        spec = _PLANAR_YUV.get(frame.format.name)
        if spec is None:
            return self.rgb(max_side, fast=True)
        w, h = frame.width, frame.height
        step = max(1, -(-max(w, h) // max_side))
        rows = np.arange(step // 2, h, step)
        cols = np.arange(step // 2, w, step)
        sx, sy, full_range = spec
        y = _plane(frame, 0)[np.ix_(rows, cols)].astype(np.float32)
        crow, ccol = np.ix_(rows >> sy, cols >> sx)
        u = _plane(frame, 1)[crow, ccol].astype(np.float32) - 128.0
        v = _plane(frame, 2)[crow, ccol].astype(np.float32) - 128.0
        if not full_range:
            y = (y - 16.0) * (255.0 / 219.0)
            u *= 255.0 / 224.0
            v *= 255.0 / 224.0
        rgb = np.stack([y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u], axis=-1)
        return np.clip(rgb, 0, 255).astype(np.uint8)

    def luma(self, max_side: int) -> np.ndarray:
        """A small grey copy (float32, not upright, as :meth:`thumb_rgb`): planar YUV's Y plane sampled directly
        (its range not expanded), other formats through :meth:`thumb_rgb`."""
        frame = self._frame
        if frame.format.name not in _PLANAR_YUV:
            return self.thumb_rgb(max_side).astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
        step = max(1, -(-max(frame.width, frame.height) // max_side))
        return _plane(frame, 0)[step // 2::step, step // 2::step].astype(np.float32)

    def rgb(self, max_side: int | None = None, fast: bool = False) -> np.ndarray:
        """Upright RGB uint8 array (H, W, 3), longer side at most ``max_side``.

        ``fast`` scales with swscale's fast bilinear filter (for analysis copies: a bit more
        aliasing, a third less time); the default is bilinear.
        """
        w, h = fit_size(*self._size, max_side)
        if self._rotation in (90, 270):
            w, h = h, w  # size of the stored (unrotated) picture
        key = (max_side, fast)
        scaler = self._scalers.get(key)
        if scaler is None:
            scaler = self._scalers[key] = VideoReformatter()
        interpolation = "FAST_BILINEAR" if fast else "BILINEAR"
        arr = scaler.reformat(self._frame, width=w, height=h, format="rgb24", interpolation=interpolation).to_ndarray()
        if self._rotation:
            arr = np.ascontiguousarray(np.rot90(arr, k=self._rotation // 90))
        return arr


# planar 8-bit YUV formats: (log2 horizontal chroma subsampling, log2 vertical, full range)
_PLANAR_YUV = {
    "yuv420p": (1, 1, False),
    "yuvj420p": (1, 1, True),
    "yuva420p": (1, 1, False),
    "yuv422p": (1, 0, False),
    "yuvj422p": (1, 0, True),
    "yuv444p": (0, 0, False),
    "yuvj444p": (0, 0, True),
}


def _plane(frame: av.VideoFrame, i: int) -> np.ndarray:
    p = frame.planes[i]
    return np.frombuffer(p, dtype=np.uint8).reshape(p.height, p.line_size)[:, : p.width]


def _check_path(path: Path | str) -> None:
    if is_uri(path):
        check_object(path)
        return
    if not os.path.exists(path):
        if os.path.islink(path):
            raise InputError(path, "broken symbolic link or link loop")
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory, not a video file")
    if not os.access(path, os.R_OK):
        raise InputError(path, "permission denied")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")


def _ffmpeg_cause(exc: Exception) -> str:
    msg = getattr(exc, "strerror", None) or str(exc)
    return msg.split(": '")[0].strip() or type(exc).__name__


def _display_size(stream: av.video.stream.VideoStream, rotation: int) -> tuple[int, int]:
    w, h = stream.codec_context.width, stream.codec_context.height
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    if sar and sar > 0 and sar != 1:
        w = max(1, round(w * float(sar)))
    if rotation in (90, 270):
        w, h = h, w
    return w, h


def _normalise_rotation(deg: float | int | None) -> int:
    if not deg:
        return 0
    return int(round(float(deg) / 90.0)) % 4 * 90


class VideoReader:
    """Open a video file for decoding.  Use as a context manager.

    >>> with VideoReader("clip.mp4") as r:
    ...     for f in r.frames():
    ...         img = f.rgb(256)
    """

    def __init__(self, path: str | os.PathLike, threads: int = 0, rough: bool = False):
        """``threads``: decoder threads, 0 for FFmpeg's automatic choice, 1 for none; ``rough``: for small
        analysis copies of some frames only: no deblocking filter (H.264, HEVC: a fifth to a third faster), where
        the decoder can a quarter of the width and height (MPEG-4 part 2, H.263, MJPEG: about twice as fast), and
        no frames that other frames do not refer to (most B-frames: one frame in two or three remains); up to
        720p it decodes on one thread (a few seconds of video: threads cost more than they bring)."""
        self.path = path if is_uri(path) else Path(path)
        _check_path(self.path)
        self._source = open_object(self.path) if is_uri(self.path) else None  # a stream: ranged reads
        try:
            self._container = av.open(self._source or str(self.path), mode="r", metadata_errors="ignore")
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
            self._close_source()
            raise InputError(self.path, f"not a readable video ({_ffmpeg_cause(exc)})") from None
        if not self._container.streams.video:
            self._container.close()
            self._close_source()
            raise InputError(self.path, "no video stream (audio-only or not a video)")
        self._stream = self._container.streams.video[0]
        cc = self._stream.codec_context
        if cc is None or not cc.width or not cc.height:
            self._container.close()
            self._close_source()
            raise InputError(self.path, "video stream has no picture size (unsupported or corrupt)")
        # a format without timestamps cannot seek, nor can a file whose seek failed: it is only read forward
        self._seekable = not (self._container.format.flags & _AVFMT_NOTIMESTAMPS)
        self._skipping = False  # frames nothing refers to are skipped (FFmpeg's skip_frame NONREF)
        if rough:
            cc.options = {"skip_loop_filter": "all", "lowres": "2"}
            if self._seekable:  # without timestamps, times count frames: none may be skipped
                cc.skip_frame = "NONREF"
                self._skipping = True
        self._rough_skip = self._skipping  # skipping for good (rough), not only before a time sought
        if threads == 1 or (rough and threads == 0 and cc.width * cc.height <= 1280 * 720):
            self._stream.thread_type = "NONE"
        else:
            self._stream.thread_type = "AUTO"
            cc.thread_count = threads
        self._rotation: int | None = None  # known after the first frame (display matrix is frame side data)
        self._generators: list = []  # frame generators to close before the container (an abandoned
        # generator finalised after its container closed can hang FFmpeg's decoder threads)
        self.errors: list[str] = []  # decode errors skipped over (corrupt packets)
        self.frames_decoded = 0

    # --- metadata -------------------------------------------------------------------------
    @property
    def info(self) -> VideoInfo:
        s = self._stream
        rotation = self._rotation if self._rotation is not None else self._probe_rotation()
        w, h = _display_size(s, rotation)
        fps = float(s.average_rate) if s.average_rate else (float(s.guessed_rate) if s.guessed_rate else None)
        duration = None
        if s.duration and s.time_base:
            duration = float(s.duration * s.time_base)
        elif self._container.duration:
            duration = self._container.duration / av.time_base
        return VideoInfo(
            path=str(self.path),
            codec=s.codec_context.name,
            width=w,
            height=h,
            rotation=rotation,
            fps=fps,
            duration=duration,
            frame_count=s.frames or None,
        )

    def _probe_rotation(self) -> int:
        # Stream-level display matrix, where the demuxer exposes one; frames carry it too.
        for key in ("rotate",):
            if key in self._stream.metadata:
                try:
                    return _normalise_rotation(-float(self._stream.metadata[key]))
                except ValueError:
                    pass
        return 0

    # --- decoding -------------------------------------------------------------------------
    def _start_pts(self) -> int | None:
        return self._stream.start_time

    def _raw_frames(self, skip_before: int | None = None) -> Iterator[av.VideoFrame]:
        """Decoded frames of the video stream; corrupt packets are skipped and recorded.  ``skip_before``: a pts
        before which frames that no other frame refers to are not decoded (not yielded either)."""
        stream = self._stream
        packets = self._container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except (StopIteration, av.error.EOFError):
                break
            except av.error.FFmpegError as exc:  # demuxer: truncated / corrupt container
                self.errors.append(f"demux: {_ffmpeg_cause(exc)}")
                break
            if not self._rough_skip:
                self._skip_nonref(skip_before is not None and packet.pts is not None and packet.pts < skip_before)
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                self.errors.append(f"decode: {_ffmpeg_cause(exc)}")
                if len(self.errors) > 1000:
                    break
                continue
            yield from frames

    def _skip_nonref(self, skip: bool) -> None:
        if skip != self._skipping:
            self._stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
            self._skipping = skip

    def frames(self) -> Iterator[DecodedFrame]:
        """All frames in presentation order with repaired, non-decreasing timestamps (s)."""
        gen = self._frames()
        self._generators.append(gen)
        return gen

    def _frames(self) -> Iterator[DecodedFrame]:
        stream = self._stream
        tb = stream.time_base or Fraction(1, 90000)
        start = self._start_pts()
        rate = stream.average_rate or stream.guessed_rate
        frame_dur = 1.0 / float(rate) if rate else 0.04
        pending: deque[av.VideoFrame] = deque()
        pts_heap: list[float] = []
        index = 0
        last_time = -math.inf
        size = None
        rotation = 0
        scalers: dict[tuple, VideoReformatter] = {}

        def emit(frame: av.VideoFrame, t: float) -> DecodedFrame:
            nonlocal index, last_time
            if t < last_time:
                t = last_time
            last_time = t
            df = DecodedFrame(index, t, frame, rotation, size, scalers)
            index += 1
            return df

        for frame in self._raw_frames():
            if size is None:
                rotation = _normalise_rotation(getattr(frame, "rotation", 0))
                self._rotation = rotation
                size = _display_size(stream, rotation)
                if start is None and frame.pts is not None:
                    start = frame.pts
                if start is None:
                    start = 0
            self.frames_decoded += 1
            if frame.pts is None:  # no timestamp: one frame after the latest known one
                latest = max(pts_heap) if pts_heap else (last_time if last_time > -math.inf else -frame_dur)
                t = latest + frame_dur
            else:
                t = float((frame.pts - start) * tb)
            pending.append(frame)
            heapq.heappush(pts_heap, t)
            if len(pending) >= _PTS_SORT_WINDOW:
                yield emit(pending.popleft(), heapq.heappop(pts_heap))
        while pending:
            yield emit(pending.popleft(), heapq.heappop(pts_heap))
        if self.frames_decoded == 0:
            cause = self.errors[-1] if self.errors else "no frames"
            raise InputError(self.path, f"no decodable video frames ({cause})")

    def frames_at(self, times: list[float], seek_after: float = 2.0) -> Iterator[DecodedFrame]:
        """For each time (seconds, increasing), the first frame at or after it; bounded work per time.

        A time less than ``seek_after`` seconds ahead of the decoding position is reached by decoding
        forward; a farther one by seeking to the key frame before it first, so sampling a long video
        decodes a few frames per time instead of the whole file.  ``index`` of the frames yielded is
        -1 (unknown after a seek).  Times past the end yield nothing.
        """
        timed: Iterator[DecodedFrame] | None = None
        position = -math.inf  # time of the last frame decoded
        scalers: dict[tuple, VideoReformatter] = {}
        for target in times:
            ahead = target - position > seek_after and self._seekable
            if timed is None or target < position or ahead:
                timed = self._after_seek(target, scalers)
            for frame in timed:
                position = frame.time
                if position >= target:
                    yield frame
                    break
            else:
                return

    def frames_between(self, start: float, end: float) -> Iterator[DecodedFrame]:
        """Every frame from ``start`` to ``end`` seconds, after one seek to the key frame before ``start``
        (``index`` -1, as :meth:`frames_at`).  ``frames_decoded`` counts the frames decoded to reach them."""
        for frame in self._after_seek(start):
            if frame.time > end:
                return
            if frame.time >= start:
                yield frame

    def _after_seek(self, target: float, scalers: dict | None = None) -> Iterator[DecodedFrame]:
        """The frames from the key frame before ``target`` on.  A stream that cannot seek (a raw H.264 file, no
        index) is decoded from its start when nothing was decoded yet (``_UNSEEKABLE_MAX_FRAMES`` at most), and
        yields nothing otherwise."""
        stream = self._stream
        tb = stream.time_base or Fraction(1, 90000)
        start = self._start_pts() or 0
        scalers = {} if scalers is None else scalers
        if not self._seekable:
            if self.frames_decoded == 0:
                yield from itertools.islice(self.frames(), _UNSEEKABLE_MAX_FRAMES)
            return
        try:
            self._container.seek(int(target / tb) + start, stream=stream, backward=True)
        except av.error.FFmpegError as exc:
            self.errors.append(f"seek: {_ffmpeg_cause(exc)}")
            self._seekable = False
            return
        for frame in self._raw_frames(skip_before=int((target - _RUNUP_MARGIN) / tb) + start):
            if frame.pts is None:
                continue
            self.frames_decoded += 1
            rotation = _normalise_rotation(getattr(frame, "rotation", 0))
            self._rotation = rotation
            yield DecodedFrame(-1, float((frame.pts - start) * tb), frame, rotation, _display_size(stream, rotation),
                               scalers)

    # --- context manager ------------------------------------------------------------------
    def close(self) -> None:
        for gen in self._generators:
            gen.close()
        self._generators.clear()
        self._container.close()
        self._close_source()

    def _close_source(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
