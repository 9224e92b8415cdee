"""Writing a video summary to a folder: key-frame JPEGs, shots.csv and keyframes.csv."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from PIL import Image

from .keyframes import VideoSummary

SHOTS_COLUMNS = ("shot", "start_frame", "start_time", "end_frame", "end_time")
KEYFRAMES_COLUMNS = ("shot", "frame", "time", "file")


def write_summary(summary: VideoSummary, out_dir: str | os.PathLike, quality: int = 90) -> Path:
    """Write ``summary`` into ``out_dir`` (created); returns the folder.

    Files are written to temporary names and renamed, so an interrupted run never leaves a
    half-written CSV behind.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for kf in summary.keyframes:
        name = f"frame{kf.frame:06d}.jpg"
        tmp = out / (name + ".tmp")
        Image.fromarray(kf.image).save(tmp, format="JPEG", quality=quality)
        os.replace(tmp, out / name)
        rows.append((kf.shot, kf.frame, f"{kf.time:.3f}", name))
    _write_csv(
        out / "shots.csv",
        SHOTS_COLUMNS,
        [(s.index, s.start_frame, f"{s.start_time:.3f}", s.end_frame, f"{s.end_time:.3f}") for s in summary.shots],
    )
    _write_csv(out / "keyframes.csv", KEYFRAMES_COLUMNS, rows)
    return out


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)
