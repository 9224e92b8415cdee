"""Video summary: shots and key frames of one video, in one streaming pass.

Per decoded frame
1. a small copy (``detect_size`` px on the longer side) gives its HSV planes and brightness;
2. :class:`~vidseek.video.detector.AdaptiveCutDetector` decides hard cuts from content scores;
3. runs of black frames (dim and flat: :func:`~vidseek.video.detector.is_dark`; a dim frame with content, a night
   shot or credits, is not black) are boundaries too: the cut is placed in the middle of the run (a fade out /
   fade in), except at the very start or end of the video;
4. each shot is split into segments of at most ``max_gap`` seconds, closed early (but not before ``min_gap``)
   when the picture drifts ``drift_threshold`` away from the segment's first frame, so key frames follow
   content; candidate frames are sampled every ``sample_every`` seconds inside a segment, and the segment's key
   frame is the candidate nearest its middle among the well-lit ones (never a black or half-faded frame);
5. a key frame nearly identical to the previous key frame of the same shot is dropped, unless that one is
   ``keep_every`` seconds old or more (slow and still shots keep key frames every few seconds).

Only the candidates of the current segment are held in memory, and :class:`KeyframeStream` hands each
key frame out as soon as its segment closes, so memory does not grow with the length of the video
(:func:`summarise` collects everything, for callers that want a list).
"""

from __future__ import annotations

import io
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
from PIL import Image

from ..errors import InputError
from .decode import DecodedFrame, VideoInfo, VideoReader
from .detector import AdaptiveCutDetector, DetectorConfig, content_score, is_dark, rgb_to_hsv


@dataclass(frozen=True)
class KeyframeConfig:
    """Parameters of the video summary (defaults tuned on the shared test clips)."""

    detector: DetectorConfig = DetectorConfig()
    detect_size: int = 96  # longer side of the frames the detector looks at
    analysis_size: int = 384  # longer side of the key-frame images handed to the features stage
    thumb_size: int = 192  # longer side of the JPEG thumbnail
    thumb_quality: int = 80
    max_gap: float = 2.0  # seconds: at most this long between key frames inside a shot
    sample_every: float = 0.2  # seconds between candidate frames
    min_shot: float = 0.4  # seconds: a cut closer than this to the previous boundary is ignored,
    min_shot_frames: int = 15  # ... and so is one closer than this many frames (PySceneDetect's default)
    dedupe_threshold: float = 3.0  # mean abs difference (0..255) on 16x16 grey: below is a duplicate
    min_gap: float = 0.5  # seconds: ... and at least this long, even when the picture drifts fast (a ceiling)
    drift_threshold: float = 12.0  # mean abs difference (0..255) on 16x16 grey from the segment's first frame
    # above which a segment closes early (the picture has moved on: key frames follow content); inf: fixed segments
    keep_every: float = 4.0  # seconds: a duplicate is kept anyway this long after the last key frame (a floor,
    # so a still or slow shot keeps a key frame every few seconds and times in it stay right)
    time_limit: float = 900.0  # seconds of wall time per file before it is given up (checked between frames)


@dataclass(frozen=True)
class Shot:
    index: int
    start_frame: int
    start_time: float
    end_frame: int  # inclusive
    end_time: float  # time of the last frame of the shot


@dataclass
class KeyFrame:
    video: str
    shot: int
    frame: int  # 0-based, decode order
    time: float  # seconds from the start of the video
    image: np.ndarray  # upright RGB uint8 at analysis resolution
    thumbnail: bytes = field(repr=False, default=b"")  # JPEG


@dataclass
class VideoSummary:
    info: VideoInfo
    shots: list[Shot]
    keyframes: list[KeyFrame]
    frames: int  # decoded frames
    duration: float  # time of the last frame
    decode_errors: list[str]


@dataclass
class _Candidate:
    frame: DecodedFrame  # still undecoded to RGB: only the chosen one is converted
    brightness: float

    @property
    def time(self) -> float:
        return self.frame.time


def encode_jpeg(image: np.ndarray, max_side: int, quality: int) -> bytes:
    pil = Image.fromarray(image)
    if max(pil.size) > max_side:
        pil.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _tiny_grey(image: np.ndarray) -> np.ndarray:
    grey = Image.fromarray(image).convert("L").resize((16, 16), Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.float32)


class _Summariser:
    """The streaming state machine behind :func:`summarise`."""

    def __init__(self, video: str, config: KeyframeConfig):
        self.video = video
        self.cfg = config
        self.shots: list[Shot] = []
        self.outbox: deque[KeyFrame] = deque()  # key frames decided and not yet handed out
        self.n_keyframes = 0
        self.shot_start: tuple[int, float] | None = None  # (frame, time) of the current shot
        self.segment_start: float | None = None
        self.segment_tiny: np.ndarray | None = None  # 16x16 grey of the segment's first candidate
        self.candidates: list[_Candidate] = []
        self.last_sample_time = -np.inf
        self.last_kf_tiny: np.ndarray | None = None  # of the current shot
        self.last_kf_time = -np.inf
        self.dark_run_start: tuple[int, float] | None = None
        self.seen_light = False  # a non-dark frame was seen (a leading black run is no boundary)
        self.last: tuple[int, float] = (0, 0.0)
        self.fallback: _Candidate | None = None  # first frame, used only if the video is all black

    # -- events --------------------------------------------------------------------------
    def frame(self, f: DecodedFrame, is_cut: bool, dark: bool, brightness: float, tiny: np.ndarray) -> None:
        if self.shot_start is None:
            self._open_shot(f.index, f.time)
            self.fallback = _Candidate(f, brightness)
        if dark:
            if self.dark_run_start is None:
                self.dark_run_start = (f.index, f.time)
            self.last = (f.index, f.time)
            return
        if self.dark_run_start is not None:
            self._end_dark_run(f)
        elif is_cut:
            # a cut too close to the previous boundary or cut candidate is merged into it (like
            # PySceneDetect's flash filter): a burst of changes (strobe, colour cycling) is one shot
            ref_frame, ref_time = self.last_event
            self.last_event = (f.index, f.time)
            if f.time - ref_time >= self.cfg.min_shot and f.index - ref_frame >= self.cfg.min_shot_frames:
                self._close_shot(*self.last)
                self._open_shot(f.index, f.time)
        self.seen_light = True
        self._maybe_sample(f, brightness, tiny)
        self.last = (f.index, f.time)

    def finish(self) -> None:
        if self.shot_start is None:
            return
        if not self.n_keyframes and not self.candidates and self.fallback is not None:
            self.candidates = [self.fallback]  # an all-black video still gets one key frame
        self._close_shot(*self.last)

    # -- shots -----------------------------------------------------------------------------
    def _open_shot(self, frame: int, time: float) -> None:
        self.shot_start = (frame, time)
        self.last_event = (frame, time)
        self.segment_start = time
        self.segment_tiny = None
        self.candidates = []
        self.last_sample_time = -np.inf
        self.last_kf_tiny = None
        self.last_kf_time = -np.inf

    def _close_shot(self, end_frame: int, end_time: float) -> None:
        self._flush_segment()
        self.shots.append(Shot(len(self.shots), self.shot_start[0], self.shot_start[1], end_frame, end_time))

    def _end_dark_run(self, f: DecodedFrame) -> None:
        """A black run just ended at the previous frame: a boundary in its middle, unless leading."""
        run_start_frame, run_start_time = self.dark_run_start
        self.dark_run_start = None
        if not self.seen_light:
            return
        run_end_frame, _ = self.last
        mid = (run_start_frame + run_end_frame + 1) // 2
        # the frames of the run are not held; their times are interpolated between the ends
        if run_end_frame > run_start_frame:
            frac = (mid - run_start_frame) / (run_end_frame - run_start_frame)
            mid_time = run_start_time + frac * (self.last[1] - run_start_time)
        else:
            mid_time = run_start_time
        if mid <= self.shot_start[0]:
            return
        prev_frame = mid - 1
        prev_time = run_start_time if prev_frame <= run_start_frame else mid_time
        self._close_shot(prev_frame, prev_time)
        self._open_shot(mid, mid_time)

    # -- key frames ------------------------------------------------------------------------
    def _maybe_sample(self, f: DecodedFrame, brightness: float, tiny: np.ndarray) -> None:
        length = f.time - self.segment_start
        drifted = (self.segment_tiny is not None and length >= self.cfg.min_gap - 1e-9
                   and float(np.abs(tiny - self.segment_tiny).mean()) > self.cfg.drift_threshold)
        if self.candidates and (length >= self.cfg.max_gap or drifted):
            self._flush_segment()
            self.segment_start = f.time
            self.segment_tiny = None
        if not self.candidates or f.time - self.last_sample_time >= self.cfg.sample_every - 1e-9:
            self.candidates.append(_Candidate(f, brightness))
            self.last_sample_time = f.time
            if self.segment_tiny is None:
                self.segment_tiny = tiny

    def _flush_segment(self) -> None:
        if not self.candidates:
            return
        cands = self.candidates
        self.candidates = []
        brightest = max(c.brightness for c in cands)
        lit = [c for c in cands if c.brightness >= 0.5 * brightest]
        middle = (cands[0].time + cands[-1].time) / 2
        best = min(lit, key=lambda c: (abs(c.time - middle), c.frame.index))
        image = best.frame.rgb(self.cfg.analysis_size)
        tiny = _tiny_grey(image)
        if (self.last_kf_tiny is not None and best.time - self.last_kf_time < self.cfg.keep_every - 1e-9
                and np.abs(tiny - self.last_kf_tiny).mean() < self.cfg.dedupe_threshold):
            return
        self.last_kf_tiny, self.last_kf_time = tiny, best.time
        thumb = encode_jpeg(image, self.cfg.thumb_size, self.cfg.thumb_quality)
        self.outbox.append(KeyFrame(self.video, len(self.shots), best.frame.index, best.time, image, thumb))
        self.n_keyframes += 1


class KeyframeStream:
    """Key frames of one video as they are decided, in one decoding pass; memory stays bounded.

    >>> with KeyframeStream("film.mp4") as stream:
    ...     for kf in stream:
    ...         ...
    ...     stream.shots, stream.frames, stream.duration, stream.errors  # complete once exhausted

    ``threads``: decoder threads (0 = FFmpeg's choice, about one per core; 1 when several videos are
    processed in parallel processes, which uses the cores better).  Raises
    :class:`vidseek.errors.InputError` for files that cannot be decoded at all (on opening, or while
    iterating: a file with no decodable frame, or the per-file time limit).
    """

    def __init__(self, path: str | os.PathLike, config: KeyframeConfig = KeyframeConfig(), threads: int = 0):
        self.path = path
        self.cfg = config
        self._state = _Summariser(os.path.abspath(path), config)
        self._reader = VideoReader(path, threads=threads)
        self.info: VideoInfo | None = None
        self.frames = 0
        self.errors: list[str] = []
        self.finished = False

    @property
    def shots(self) -> list[Shot]:
        return self._state.shots

    @property
    def duration(self) -> float:
        """Time of the last frame seen (the video's duration once the stream is exhausted)."""
        return self._state.last[1]

    def __iter__(self) -> Iterator[KeyFrame]:
        cfg, state = self.cfg, self._state
        detector = AdaptiveCutDetector(cfg.detector)
        pending: dict[int, tuple[DecodedFrame, bool, float]] = {}
        prev_hsv: np.ndarray | None = None
        prev_dark = True
        deadline = time.monotonic() + cfg.time_limit
        for f in self._reader.frames():
            if time.monotonic() > deadline:
                raise InputError(self.path, f"gave up after {cfg.time_limit:g} s (per-file time limit)")
            small = f.thumb_rgb(cfg.detect_size)
            brightness = float(small.mean())
            dark = is_dark(small, cfg.detector)
            hsv = rgb_to_hsv(small)
            score = None
            if prev_hsv is not None and not dark and not prev_dark and prev_hsv.shape == hsv.shape:
                score = content_score(prev_hsv, hsv)
            prev_hsv, prev_dark = hsv, dark
            pending[f.index] = (f, dark, brightness, _tiny_grey(small))
            decided = detector.push(score)
            if decided is not None:
                _feed(state, pending, decided)
            while state.outbox:
                yield state.outbox.popleft()
        for decided in detector.flush():
            _feed(state, pending, decided)
        state.finish()
        while state.outbox:
            yield state.outbox.popleft()
        self.info = self._reader.info
        self.frames = self._reader.frames_decoded
        self.errors = list(self._reader.errors)
        self.finished = True

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> "KeyframeStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def summarise(path: str | os.PathLike, config: KeyframeConfig = KeyframeConfig(), threads: int = 0) -> VideoSummary:
    """Decode ``path`` once and return its shots and all its key frames (see :class:`KeyframeStream`).

    Raises :class:`vidseek.errors.InputError` for files that cannot be decoded at all.
    """
    with KeyframeStream(path, config, threads) as stream:
        keyframes = list(stream)
    return VideoSummary(stream.info, stream.shots, keyframes, stream.frames, stream.duration, stream.errors)


def _feed(state: _Summariser, pending: dict, decided: tuple[int, bool]) -> None:
    index, is_cut = decided
    f, dark, brightness, tiny = pending.pop(index)
    state.frame(f, is_cut, dark, brightness, tiny)
