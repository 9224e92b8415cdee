"""Summary of an index for `vidseek info`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..storage import is_uri
from .remote import readable_index
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
    source, index = str(index), readable_index(index)
    man = read_manifest(index)
    model = index / man.model_dir
    features = _json(model / "features.json")
    return {
        "path": source if is_uri(source) else str(index),
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
        "search": search_info(index, man),
    }


def search_info(index: Path, man) -> dict:
    """How the index is searched and the memory an opened index holds for its key frames (an estimate:
    :func:`resident_estimate`; the model and a fixed background sample come on top)."""
    from .codes import VECTORS

    ivf = _json(index / man.model_dir / "ivf.json") if (index / man.model_dir / "ivf.json").exists() else None
    pq = _json(index / man.model_dir / "pq.json")
    n = int(man.counts.get("keyframes", 0))
    in_memory = not man.files.get(VECTORS) and n > 0  # an index from before vectors files
    per = resident_estimate(pq["m"], ivf is not None, pq["d"] if in_memory else 0)
    codes_of = "residuals" if ivf and ivf.get("residual") else "vectors"
    return {"engine": "ivf" if ivf else "flat", "nlist": ivf["nlist"] if ivf else 0, "codes_of": codes_of,
            "resident_bytes_per_keyframe": per,
            "resident_bytes": per * n + (ivf["nlist"] * ivf["d"] * 4 if ivf else 0), "vectors": "on disk"
            if not in_memory else "in memory"}


def resident_estimate(m: int, ivf: bool, d_in_memory: int = 0) -> int:
    """Bytes per key frame of an opened index: the engine's codes and 8-byte row numbers (a flat index's
    exhaustive scanner and faiss.IndexPQ each hold the codes), 12 bytes of video/time/frame, 2 of cached score
    level, and float16 vectors only where they are held in memory (``d_in_memory``)."""
    return (m + 8 if ivf else 2 * m + 8) + 12 + 2 + 2 * d_in_memory


def list_videos(index: str | os.PathLike) -> list[dict]:
    """One dict per indexed file (removed ones left out), in path order."""
    from .reader import read_dataset

    index = readable_index(index)
    man = read_manifest(index)
    t = read_dataset(index, man, "videos", ["video_id", "path", "status", "duration", "frames", "keyframes", "error"], live=True)
    return [] if t is None else t.sort_by("path").to_pylist()
