"""Writing a video summary to a folder: key-frame JPEGs, shots.csv and keyframes.csv."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

from PIL import Image

from ..atomic import atomic_path
from .keyframes import KeyFrame, KeyframeConfig, KeyframeStream

SHOTS_COLUMNS = ("shot", "start_frame", "start_time", "end_frame", "end_time")
KEYFRAMES_COLUMNS = ("shot", "frame", "time", "file")


def export_video(video: str | os.PathLike, out_dir: str | os.PathLike, config: KeyframeConfig = KeyframeConfig(),
                 threads: int = 0, quality: int = 90) -> tuple[int, float, int, int, list[str]]:
    """Summarise ``video`` into ``out_dir``, writing each key frame as it is found (memory stays bounded).

    Returns (frames decoded, duration, shots, key frames, decode errors skipped over).
    """
    out = Path(out_dir)
    with KeyframeStream(video, config, threads) as stream:  # an unreadable file fails here, before any output
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        try:
            rows = [_write_keyframe(kf, out, quality) for kf in stream]
        except BaseException:
            if created:  # failed part-way: leave nothing behind
                shutil.rmtree(out, ignore_errors=True)
            raise
    _write_tables(out, stream.shots, rows)
    return stream.frames, stream.duration, len(stream.shots), len(rows), stream.errors


def _write_keyframe(kf: KeyFrame, out: Path, quality: int) -> tuple:
    name = f"frame{kf.frame:06d}.jpg"
    with atomic_path(out / name) as tmp:
        Image.fromarray(kf.image).save(tmp, format="JPEG", quality=quality)
    return (kf.shot, kf.frame, f"{kf.time:.3f}", name)


def _write_tables(out: Path, shots: list, rows: list[tuple]) -> None:
    _write_csv(
        out / "shots.csv",
        SHOTS_COLUMNS,
        [(s.index, s.start_frame, f"{s.start_time:.3f}", s.end_frame, f"{s.end_time:.3f}") for s in shots],
    )
    _write_csv(out / "keyframes.csv", KEYFRAMES_COLUMNS, rows)


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
