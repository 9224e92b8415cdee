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
