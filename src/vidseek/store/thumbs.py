"""Thumbnails by key-frame id, without scanning the key-frame files.

Each key-frames part ``keyframes/gen=N/NAME.parquet`` has a sidecar ``thumbs/gen=N/NAME.bin`` written with it:

    header   8 s magic "VSTHUMB1", uint64 rows n, uint32 stride, uint32 0
    fence    int64 ids[0], ids[stride], ids[2 stride], ...  (read at open: 8 bytes per ``stride`` key frames)
    ids      int64 x n, the key-frame ids, sorted
    videos   int64 x n, their video ids
    offsets  uint64 x (n + 1), where each JPEG starts in the data
    data     the JPEGs, one after the other

A lookup is a binary search in each part's fence (memory), then one read of at most ``stride`` ids, then the
JPEG: a few small ``pread`` calls per part, whatever the size of the collection.  An index written before the
sidecars existed has none: its parts are scanned as before.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import StoreError
from .codes import _write_atomic
from .layout import Manifest
from .reader import parquet_errors, read_table

THUMBS = "thumbs"
MAGIC = b"VSTHUMB1"
HEADER = struct.Struct("<8sQII")
STRIDE = 256


def thumbs_file_for(keyframes_rel: str) -> str:
    """keyframes/gen=N/part-00003-x.parquet -> thumbs/gen=N/part-00003-x.bin"""
    parts = keyframes_rel.split("/")
    return "/".join([THUMBS, *parts[1:-1], parts[-1].rsplit(".", 1)[0] + ".bin"])


def encode_thumbs(kf_ids: np.ndarray, video_ids: np.ndarray, jpegs: list[bytes], stride: int = STRIDE) -> bytes:
    """The sidecar's bytes for one part's key frames (any order; they are sorted by id here)."""
    kf_ids = np.asarray(kf_ids, np.int64)
    order = np.argsort(kf_ids, kind="stable")
    ids = kf_ids[order]
    blobs = [jpegs[i] or b"" for i in order.tolist()]
    offsets = np.zeros(len(blobs) + 1, np.uint64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    return b"".join([HEADER.pack(MAGIC, len(ids), stride, 0), ids[::stride].tobytes(), ids.tobytes(),
                     np.asarray(video_ids, np.int64)[order].tobytes(), offsets.tobytes(), *blobs])


def write_thumbs_for(keyframes_path: str, thumbs_dir: str) -> str:
    """Read one key-frames part and write its sidecar into ``thumbs_dir`` (atomically); returns the file."""
    from pyarrow import parquet as pq_io

    path = Path(keyframes_path)
    with parquet_errors(path):
        t = pq_io.read_table(path, columns=["kf_id", "video_id", "thumb"])
    return write_thumbs_table(t, thumbs_dir, path.name.rsplit(".", 1)[0])


def write_thumbs_table(t: pa.Table, thumbs_dir: str, name: str) -> str:
    data = encode_thumbs(t.column("kf_id").to_numpy(), t.column("video_id").to_numpy(), t.column("thumb").to_pylist())
    return _write_atomic(thumbs_dir, f"{name}.bin", lambda f, fs: f.write(data))


class ThumbFile:
    """One sidecar, opened: the fence in memory, everything else read on demand."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._f = open(path, "rb", buffering=0)
        except FileNotFoundError:
            raise StoreError(path, "index file listed in the manifest is missing") from None
        head = self._f.read(HEADER.size)
        size = os.fstat(self._f.fileno()).st_size
        if len(head) < HEADER.size or HEADER.unpack(head)[0] != MAGIC:
            raise StoreError(path, "thumbnails file is corrupt (bad header)")
        _, self.n, self.stride, _ = HEADER.unpack(head)
        fence_n = -(-self.n // self.stride) if self.stride else 0
        self.ids_at = HEADER.size + 8 * fence_n
        self.videos_at = self.ids_at + 8 * self.n
        self.offsets_at = self.videos_at + 8 * self.n
        self.data_at = self.offsets_at + 8 * (self.n + 1)
        if self.stride == 0 or size < self.data_at or size != self.data_at + int(self._u64(self.n)):
            raise StoreError(path, f"thumbnails file is corrupt or truncated ({size} bytes)")
        self.fence = np.frombuffer(os.pread(self._f.fileno(), 8 * fence_n, HEADER.size), np.int64)

    def _u64(self, row: int) -> int:
        return int(np.frombuffer(os.pread(self._f.fileno(), 8, self.offsets_at + 8 * row), np.uint64)[0])

    def find(self, kf_id: int) -> tuple[int, bytes] | None:
        """(video id, JPEG) of a key frame in this part, or None."""
        block = int(np.searchsorted(self.fence, kf_id, side="right")) - 1
        if block < 0:
            return None
        start = block * self.stride
        count = min(self.stride, self.n - start)
        ids = np.frombuffer(os.pread(self._f.fileno(), 8 * count, self.ids_at + 8 * start), np.int64)
        pos = int(np.searchsorted(ids, kf_id))
        if pos == count or ids[pos] != kf_id:
            return None
        row = start + pos
        fd = self._f.fileno()
        video = int(np.frombuffer(os.pread(fd, 8, self.videos_at + 8 * row), np.int64)[0])
        lo, hi = np.frombuffer(os.pread(fd, 16, self.offsets_at + 8 * row), np.uint64).tolist()
        return video, os.pread(fd, int(hi - lo), self.data_at + int(lo))


class Thumbnails:
    """The thumbnails of one generation: sidecars where the manifest lists them, a scan of the part otherwise."""

    def __init__(self, index: Path, man: Manifest):
        self.index = index
        listed = set(man.files.get(THUMBS, []))
        self.parts = [(rel, thumbs_file_for(rel) if thumbs_file_for(rel) in listed else None)
                      for rel in man.files["keyframes"]]
        self._open: dict[str, ThumbFile] = {}

    def find(self, kf_id: int, live=lambda video_id: True) -> tuple[int, bytes] | None:
        """(video id, JPEG) of the key frame ``kf_id`` of a video that is ``live`` (a file removed and added again
        before a compaction has its key-frame ids twice: the removed rows are passed over)."""
        for rel, side in self.parts:
            found = self._sidecar(side).find(kf_id) if side else self._scan(rel, kf_id)
            if found is not None and live(found[0]):
                return found
        return None

    def _sidecar(self, rel: str) -> ThumbFile:
        if rel not in self._open:  # opened on first use (a race opens it twice; both are the same file)
            self._open[rel] = ThumbFile(self.index / rel)
        return self._open[rel]

    def _scan(self, rel: str, kf_id: int) -> tuple[int, bytes] | None:
        t = read_table(self.index, rel, ["kf_id", "video_id", "thumb"])
        pos = np.flatnonzero(t.column("kf_id").to_numpy() == kf_id)
        if not len(pos):
            return None
        return int(t.column("video_id")[int(pos[0])].as_py()), t.column("thumb")[int(pos[0])].as_py()
