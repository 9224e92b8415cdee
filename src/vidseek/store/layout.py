"""The index folder.

    IDX/manifest.json                 the only entry point: written atomically, last
    IDX/model/gen=N/                  features.json, whitening.npz|json, pq.npz|json (the fitted model)
    IDX/videos/gen=N/part-*.parquet   one row per input file: id, path, kind, status, error, duration...
    IDX/keyframes/gen=N/part-*.parquet  one row per key frame: id, video_id, frame, time, shot, thumbnail
    IDX/codes/gen=N/part-*.parquet    id, video_id, frame, time, inverted list, PQ code (fixed-size binary, m bytes)
    IDX/vectors/gen=N/part-*.npy      the whitened vectors of the codes part of the same name (float16)
    IDX/thumbs/gen=N/part-*.bin       the thumbnails of the key-frames part of the same name, by id (store.thumbs)
    IDX/.staging/                     work in progress of an interrupted or running build (resumable)
    IDX/.lock                         held while a process writes the index

Readers only read the files the manifest lists, so files of a build that was interrupted, or of a
newer generation still being written, are invisible until the manifest names them.  A manifest
records a sha256 per file (``vidseek verify``).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import StoreError
from ..hashing import file_sha256
from ..atomic import atomic_path, crash_point

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
DATASETS = ("videos", "keyframes", "codes", "vectors", "thumbs")
SUFFIX = {"vectors": ".npy", "thumbs": ".bin"}  # the others: .parquet


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def stable_id(*parts: object) -> int:
    """A signed 64-bit id from a hash of ``parts`` (the same on every machine and run)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def readded_video_ids(paths: list[str], removed: list[int]) -> dict[int, int]:
    """Ids for files that were removed and are added again before a compaction: their own id (``stable_id(path)``)
    still marks the old rows as removed, so the new rows get a fresh one.  {own id: fresh id}, empty for others."""
    taken = set(removed)
    out = {}
    for path in paths:
        own = stable_id(path)
        if own in taken:
            n = 1
            while stable_id(path, "re-added", n) in taken:
                n += 1
            out[own] = stable_id(path, "re-added", n)
            taken.add(out[own])
    return out


def keyframe_id(path: str, frame: int) -> int:
    """A key frame's id: the same for a file and frame number wherever and whenever it is indexed."""
    return stable_id(path, frame)


@dataclass
class Manifest:
    format_version: int = FORMAT_VERSION
    generation: int = 0
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)
    model_dir: str = ""  # relative, e.g. model/gen=1
    files: dict[str, list[str]] = field(default_factory=lambda: {d: [] for d in DATASETS})
    checksums: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    removed: list[int] = field(default_factory=list)  # video ids removed, until a compaction drops them
    counts: dict[str, int] = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # build parameters and library versions

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def read_manifest(index: str | os.PathLike) -> Manifest:
    index = Path(index)
    path = index / MANIFEST
    if not index.is_dir():
        raise StoreError(index, "no such index folder")
    if not path.is_file():
        raise StoreError(index, "not a vidseek index (no manifest.json; an interrupted first build leaves none)")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(path, f"manifest is corrupt ({exc})") from None
    if raw.get("format_version") != FORMAT_VERSION:
        raise StoreError(path, f"index format {raw.get('format_version')} is not supported by this vidseek "
                               f"(reads format {FORMAT_VERSION}); rebuild the index")
    try:
        man = Manifest(**raw)
    except TypeError as exc:
        raise StoreError(path, f"manifest has unexpected fields ({exc})") from None
    for d in DATASETS:  # an index written before a dataset existed has none of it
        man.files.setdefault(d, [])
    return man


def write_manifest(index: str | os.PathLike, manifest: Manifest) -> None:
    """Atomically replace IDX/manifest.json (write, fsync, rename, fsync the folder): the commit point."""
    manifest.updated = now_iso()
    with atomic_path(Path(index) / MANIFEST, sync=True) as tmp:
        tmp.write_text(manifest.to_json())
        crash_point("manifest")  # fault injection (tests): die before the rename


def checksum_files(index: Path, rel_paths: list[str]) -> dict[str, str]:
    return {p: file_sha256(index / p) for p in rel_paths}


def parquet_files(index: Path, folder: str, suffix: str = ".parquet") -> list[str]:
    """Relative paths of the part files under ``index/folder`` (sorted)."""
    root = index / folder
    return sorted(str(p.relative_to(index)) for p in root.rglob(f"*{suffix}") if not p.name.startswith((".", "_")))


def generation_files(index: Path, gen: int) -> dict[str, list[str]]:
    """The part files of every dataset written for generation ``gen``."""
    return {d: parquet_files(index, f"{d}/gen={gen}", SUFFIX.get(d, ".parquet")) for d in DATASETS}


class IndexLock:
    """An exclusive, non-blocking lock on IDX/.lock for processes that write the index."""

    def __init__(self, index: str | os.PathLike):
        self.path = Path(index) / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> "IndexLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            self.fd = None
            raise StoreError(self.path.parent, f"another vidseek process (pid {holder}) is writing this index; "
                                               f"wait for it to finish") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
