"""Settings of a build (one dataclass tree: the CLI takes its defaults from here) and what tasks receive."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import __version__
from ..features.config import FeatureConfig
from ..features.reference import REFERENCE_COUNT
from ..quantize.ivf import IVFConfig
from ..quantize.pq import PQConfig
from ..video import KeyframeConfig
from .session import SparkConfig

STAGING_FORMAT = 2  # 2: key-frame rows streamed, then one row per file


@dataclass
class BuildConfig:
    keyframes: KeyframeConfig = field(default_factory=KeyframeConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    pq: PQConfig = field(default_factory=PQConfig)
    ivf: IVFConfig = field(default_factory=IVFConfig)  # inverted file: auto (big collections), on, off
    sample: int = 65536  # PQ training vectors (whitened)
    whiten_sample: int = 4096  # PWA vectors the whitening is fitted on
    learn_whitening: bool = True  # learn it from those and edited copies of them (``edit_copies`` CNN passes each)
    edit_copies: int = 4  # edited copies per sampled key frame (one copy's random edits make a noisy whitening
    edit_pairs: int = 4096  # ... but at most this many copies in all (a big sample needs fewer per key frame)
    reference: int = REFERENCE_COUNT  # synthetic look-alike pictures the scores are calibrated on (0: none)
    parts_frames: int = 512  # frames the PWA part channels are chosen on
    parts_videos: int = 8  # ... sampled from this many files spread over the input
    partitions: int | None = None  # extraction partitions (default: 2 per core, at most one per file)
    chunk_files: int = 512  # files per extraction job: the unit a resumed build skips
    batch_keyframes: int = 32  # key frames a task holds (images + features) before handing them to Spark
    spark: SparkConfig = field(default_factory=SparkConfig)
    keep_staging: bool = False
    quiet: bool = False  # no progress display (messages go through logging)


@dataclass
class BuildReport:
    files: int = 0
    ok: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    already_indexed: list[str] = field(default_factory=list)  # add: files the index holds already
    warnings: list[tuple[str, str]] = field(default_factory=list)  # indexed, but e.g. partly damaged
    keyframes: int = 0
    bytes_on_disk: int = 0
    generation: int = 0
    stages: dict[str, float] = field(default_factory=dict)  # seconds


def fingerprint(cfg: BuildConfig) -> str:
    """What the staged work depends on: a changed setting invalidates the staging folder."""
    f = cfg.features
    key = {"keyframes": asdict(cfg.keyframes), "backbone": f.backbone, "weights": f.weights,
           "image_size": f.image_size, "pwa": asdict(f.pwa), "version": __version__,
           "batch_keyframes": cfg.batch_keyframes, "parts": [cfg.parts_frames, cfg.parts_videos],
           "staging_format": STAGING_FORMAT}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def task_params(cfg: BuildConfig, model_dir: Path, **extra) -> str:
    """The JSON every task of a job gets: where the model is and how to summarise and batch."""
    return json.dumps({
        "model_dir": str(model_dir),
        "weights": cfg.features.weights,
        "device": cfg.features.device if cfg.features.device != "auto" else "cpu",
        "keyframes": asdict(cfg.keyframes),
        "torch_threads": 1,
        "decoder_threads": 1,
        "batch_keyframes": cfg.batch_keyframes,
        **extra,
    }, default=str)
