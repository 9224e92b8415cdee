"""Settings of ``vidseek serve`` (the command line reads its defaults here without loading the server)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeConfig:
    index: str
    max_upload_mb: float = 50.0
    workers: int = 2
    device: str = "auto"
    default_k: int = 10
    max_k: int = 100
    nprobe: int | None = None  # inverted lists per query picture (inverted-file index; None: the default)
    reload_interval: float = 2.0  # seconds between looks for a new committed generation (0: never)
    token: str | None = None  # every /api/ route needs it (None: no access control; see .auth)
    keyframe_times: bool = False  # the best hit keeps its key frame's time (not placed: vidseek.search.timing)
    verify: bool = True  # doubtful answers checked with local features (vidseek.search.verify)
