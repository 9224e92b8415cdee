"""Summary of an index for `vidseek info`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import StoreError
from .layout import read_manifest


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise StoreError(path, "model file missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(path, f"model file is corrupt ({exc})") from None


def index_info(index: str | os.PathLike) -> dict:
    index = Path(index).absolute()
    man = read_manifest(index)
    model = index / man.model_dir
    features = _json(model / "features.json")
    return {
        "path": str(index),
        "generation": man.generation,
        "created": man.created,
        "updated": man.updated,
        "counts": man.counts,
        "removed": len(man.removed),
        "files": {k: len(v) for k, v in man.files.items()},
        "model": {
            "backbone": features["backbone"],
            "pwa": {k: v for k, v in features["pwa"].items() if k != "channels"},
            "pwa_channels": features["pwa"]["channels"],
            "whitening": features["whitening"],
            "pq": _json(model / "pq.json"),
            "versions": features.get("versions", {}),
        },
        "params": man.params,
    }


def list_videos(index: str | os.PathLike) -> list[dict]:
    """One dict per indexed file (removed ones left out), in path order."""
    from .reader import read_dataset

    index = Path(index).absolute()
    man = read_manifest(index)
    t = read_dataset(index, man, "videos", ["path", "status", "duration", "frames", "keyframes", "error"], live=True)
    return [] if t is None else t.sort_by("path").to_pylist()
