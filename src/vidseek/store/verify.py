"""`vidseek verify`: every file the manifest lists exists, has the recorded sha256 and can be read."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq_io

from .remote import readable_index
from .layout import DATASETS, file_sha256, read_manifest


def verify_index(index: str | os.PathLike) -> tuple[int, list[tuple[str, str]]]:
    """(files checked, problems as (path, cause)).  A missing or corrupt manifest raises StoreError."""
    index = readable_index(index)
    man = read_manifest(index)
    problems: list[tuple[str, str]] = []
    listed = [r for d in DATASETS for r in man.files.get(d, [])]
    for rel in listed:
        if rel not in man.checksums:
            problems.append((str(index / rel), "listed in the manifest without a checksum"))
    checked = 0
    for rel, digest in sorted(man.checksums.items()):
        path = index / rel
        checked += 1
        if not path.is_file():
            problems.append((str(path), "missing"))
            continue
        actual = file_sha256(path)
        if actual != digest:
            problems.append((str(path), f"checksum mismatch (sha256 {actual[:12]}, manifest says {digest[:12]})"))
            continue
        try:
            if path.suffix == ".parquet":
                pq_io.ParquetFile(path).metadata
            elif path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".npy":
                import numpy as np

                np.load(path, mmap_mode="r").shape
            elif path.suffix == ".npz":
                import numpy as np

                with np.load(path) as z:
                    [z[k].shape for k in z.files]
        except Exception as exc:  # noqa: BLE001 - any read failure is a finding
            problems.append((str(path), f"unreadable ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"))
    for name in ("features.json", "pq.npz", "whitening.npz"):
        path = index / man.model_dir / name
        if not path.is_file() and (str(path), "missing") not in problems:
            problems.append((str(path), "missing"))
    return checked, problems
