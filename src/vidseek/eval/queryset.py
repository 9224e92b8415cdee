"""A hard, seeded query set: edited stills and clips of real videos, positives and negatives.

Every query carries its truth: the source video and the time (a still) or start (a clip) in it, and whether
the source is indexed (``positive``) or held out (a negative, which should be answered "no match").
Stills are written as PNG, clips as H.264 MP4, into one folder, with ``queries.json`` describing them, so a
set is made once and searched by any engine (the library, the CLI, a peer).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..features.augment import FAMILIES, combine
from .queries import decode_span, grab_frames, video_duration, write_clip

log = logging.getLogger(__name__)

CLIP_FAMILIES = [f for f in FAMILIES]  # every image family also applies to a clip, frame by frame
SPEEDS = (0.75, 0.8, 1.25, 1.33)  # playback speed changes (+-25%)
FRAME_RATES = (12.0, 15.0, 20.0)  # frame-rate changes


@dataclass
class HardQuery:
    id: str
    kind: str  # "image" | "clip"
    path: str  # the query file
    video: str  # source video (absolute path)
    time: float  # image: the instant; clip: where the excerpt starts in the source
    positive: bool  # the source is indexed
    edits: str  # "+"-joined family names (and "speed"/"fps" for clips)
    duration: float = 0.0  # clip: seconds of source covered
    speed: float = 1.0

    @property
    def families(self) -> list[str]:
        return self.edits.split("+") if self.edits else []


@dataclass(frozen=True)
class QuerySetConfig:
    images_per_video: int = 6
    clips_per_video: int = 3
    seed: int = 0
    max_edits: int = 3
    image_side: int = 640
    clip_side: int = 480
    min_clip: float = 2.0
    max_clip: float = 5.0
    temporal_share: float = 0.5  # share of clips that also get a speed or frame-rate change


def make_query_set(positives: list[Path], negatives: list[Path], folder: str | Path,
                   config: QuerySetConfig = QuerySetConfig()) -> list[HardQuery]:
    """Write the queries of every video into ``folder`` and return them (also saved as ``queries.json``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    out: list[HardQuery] = []
    for positive, videos in ((True, positives), (False, negatives)):
        for v in videos:
            v = Path(v).resolve()
            dur = video_duration(v)
            out += _image_queries(v, dur, positive, folder, rng, config, len(out))
            out += _clip_queries(v, dur, positive, folder, rng, config, len(out))
            log.info("queries of %s: %d so far", v.name, len(out))
    (folder / "queries.json").write_text(json.dumps([asdict(q) for q in out], indent=1))
    return out


def load_query_set(folder: str | Path) -> list[HardQuery]:
    return [HardQuery(**q) for q in json.loads((Path(folder) / "queries.json").read_text())]


def _image_queries(v: Path, dur: float, positive: bool, folder: Path, rng, cfg: QuerySetConfig,
                   n0: int) -> list[HardQuery]:
    times = sorted(float(t) for t in rng.uniform(0, max(dur, 1e-3), cfg.images_per_video))
    out = []
    for t, img in grab_frames(v, times, cfg.image_side):
        combo = combine(rng, img.shape[:2], cfg.max_edits)
        qid = f"q{n0 + len(out):04d}"
        path = folder / f"{qid}-{v.stem}.png"
        Image.fromarray(combo.apply(img)).save(path)
        out.append(HardQuery(qid, "image", str(path), str(v), t, positive, combo.label))
    return out


def _clip_queries(v: Path, dur: float, positive: bool, folder: Path, rng, cfg: QuerySetConfig,
                  n0: int) -> list[HardQuery]:
    out = []
    for _ in range(cfg.clips_per_video):
        length = float(min(rng.uniform(cfg.min_clip, cfg.max_clip), max(dur, 0.5)))
        speed, fps_out, temporal = 1.0, None, ""
        if rng.random() < cfg.temporal_share:
            if rng.random() < 0.5:
                speed, temporal = float(rng.choice(SPEEDS)), "speed"
            else:
                fps_out, temporal = float(rng.choice(FRAME_RATES)), "fps"
        span = length * speed  # seconds of source the clip covers
        start = float(rng.uniform(0, max(dur - span, 0.0)))
        frames, times = decode_span(v, start, span, cfg.clip_side)
        if len(frames) < 2:
            continue
        src_fps = (len(times) - 1) / max(times[-1] - times[0], 1e-3)
        fps = fps_out or min(src_fps, 30.0)
        combo = combine(rng, frames[0].shape[:2], cfg.max_edits)
        # output frame i shows the source at times[0] + i * speed / fps (nearest decoded frame)
        n_out = max(2, int(round((times[-1] - times[0]) / speed * fps)) + 1)
        want = times[0] + np.arange(n_out) * speed / fps
        pick = np.clip(np.searchsorted(times, want), 0, len(times) - 1)
        pick = [p - 1 if p > 0 and abs(times[p - 1] - w) < abs(times[p] - w) else p for p, w in zip(pick, want)]
        qid = f"q{n0 + len(out):04d}"
        path = folder / f"{qid}-{v.stem}.mp4"
        write_clip([combo.apply(frames[p]) for p in pick], fps, path)
        label = "+".join([combo.label] + ([temporal] if temporal else []))
        out.append(HardQuery(qid, "clip", str(path), str(v), times[0], positive, label,
                             duration=times[-1] - times[0], speed=speed))
    return out
