"""`vidseek keyframes` over many videos: one output folder per video, videos processed in parallel."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from ..inputs import discover
from ..parallel import default_jobs, map_files
from ..storage import is_uri, object_info
from .keyframes import KeyframeConfig


@dataclass
class VideoResult:
    video: str
    out: str
    frames: int
    duration: float
    shots: int
    keyframes: int
    decode_errors: list[str]


@dataclass
class BatchReport:
    done: list[VideoResult] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, cause) of videos that failed
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, cause) of arguments that are no media

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.done)


def _safe_name(path: Path | str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePosixPath(str(path)).name) or "video"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def _is_folder(arg: str | os.PathLike) -> bool:
    """A folder, or an s3:// prefix (not an object)."""
    if is_uri(str(arg)):
        return object_info(str(arg).rstrip("/")).type.name != "File"
    return Path(arg).is_dir()


def _job(job: tuple) -> VideoResult:
    """Worker (a module-level function: sent to worker processes)."""
    from .export import export_video

    video, target, config, threads = job
    frames, duration, shots, kfs, errors = export_video(video, target, config, threads=threads)
    return VideoResult(str(video), str(target), frames, duration, shots, kfs, errors)


def summarise_videos(inputs: list[str | os.PathLike], out: str | os.PathLike, config: KeyframeConfig = KeyframeConfig(),
                     jobs: int = 0, on_result: Callable[[str, VideoResult | None, str | None], None] | None = None
                     ) -> BatchReport:
    """Summarise videos and folders into ``out``: one video named alone goes to ``out`` itself, several (or a
    folder) to one sub-folder each.  ``on_result(video, result, error)`` is called as each video finishes."""
    found = discover(inputs)
    report = BatchReport(problems=list(found.problems))
    single = len(inputs) == 1 and len(found.files) == 1 and not _is_folder(inputs[0])
    out_root = Path(out)
    taken: set[str] = set()
    jobs = jobs or default_jobs()
    threads = 1 if jobs > 1 and len(found.files) > 1 else 0
    work = [(v, out_root if single else out_root / _safe_name(v, taken), config, threads) for v in found.files]
    for job, result, error in map_files(_job, work, jobs):
        if error is not None:
            report.failed.append((str(job[0]), error))
        else:
            report.done.append(result)
        if on_result is not None:
            on_result(str(job[0]), result, error)
    return report
