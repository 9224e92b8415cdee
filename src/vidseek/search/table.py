"""What an opened index keeps per key frame, in compact arrays (no Python object per key frame).

Rows are the stored rows of the codes parts, in manifest order (rows of removed videos included until a
compaction drops them; they are never searched).  Per row: its video (a small number into ``video_ids``, -1
for a removed video), time (float32 seconds) and frame (int32): 12 bytes.  The key-frame id is not held: it is
``stable_id(path, frame)`` (:func:`vidseek.store.layout.keyframe_id`), found for the few rows a result shows.
The float16 vectors stay in their files and are read for the rows asked for (re-ranking).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..store.codes import parquet_rows, read_part
from ..store.layout import Manifest, keyframe_id
from ..store.reader import check_listed, read_dataset
from .idmap import IdPositions


class KeyFrames:
    def __init__(self, d: int):
        self.d = d
        self.video_ids = np.zeros(0, np.int64)  # searchable videos (status ok, not removed), sorted
        self._position: IdPositions | None = None  # video id -> its place in video_ids (-1: not searchable)
        self.paths: dict[int, str] = {}
        self.durations: dict[int, float] = {}
        self.fps: dict[int, float] = {}
        self.video = np.zeros(0, np.int32)
        self.time = np.zeros(0, np.float32)
        self.frame = np.zeros(0, np.int32)
        self._blocks: list[np.ndarray] = []  # vectors, one block per part (files) or appended array
        self._starts = np.zeros(1, np.int64)
        self._filled = 0  # rows appended so far (the arrays may be reserved beyond)

    def __len__(self) -> int:
        return len(self.video)

    # -- building ------------------------------------------------------------------------
    def set_videos(self, ids, paths, durations, frames) -> None:
        ids = np.asarray(ids, np.int64)
        order = np.argsort(ids)
        self.video_ids = ids[order]
        self._position = None
        for vid, p, dur, nf in zip(self.video_ids.tolist(), np.asarray(paths, object)[order],
                                   np.asarray(durations, np.float64)[order], np.asarray(frames, np.float64)[order]):
            self.paths[vid] = p
            self.durations[vid] = float(dur) if np.isfinite(dur) else 0.0
            ok = np.isfinite(nf) and nf > 1 and self.durations[vid] > 0.5
            self.fps[vid] = float(nf / self.durations[vid]) if ok else 25.0

    def reserve(self, n: int) -> None:
        """Room for ``n`` more rows, so that appending parts does not copy the arrays again and again."""
        for name, dtype in (("video", np.int32), ("time", np.float32), ("frame", np.int32)):
            setattr(self, name, np.concatenate([getattr(self, name), np.zeros(n, dtype)]))

    def append(self, video_ids: np.ndarray, times: np.ndarray, frames: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Add rows (their videos must be known or they are unsearchable); returns the new rows' numbers."""
        n = len(vectors)
        first = self._filled
        if first + n > len(self):
            self.reserve(first + n - len(self))
        if self._position is None:
            self._position = IdPositions(self.video_ids)
        self.video[first : first + n] = self._position(np.asarray(video_ids, np.int64))
        self.time[first : first + n] = times
        self.frame[first : first + n] = frames
        self._filled = first + n
        self._blocks.append(vectors)
        self._starts = np.append(self._starts, self._starts[-1] + n)
        return np.arange(first, first + n)

    def release_lookup(self) -> None:
        """Drop the video-id lookup once the parts are read (16 B per slot, 4 slots per video); rows appended
        later build it again."""
        self._position = None

    def add_video(self, vid: int, path: str, duration: float, fps: float) -> None:
        """A video known to the search only (e.g. a benchmark's distractors)."""
        if vid in self.paths:
            raise ValueError(f"video {vid} exists")
        pos = int(np.searchsorted(self.video_ids, vid))
        self.video[self.video >= pos] += 1
        self.video_ids = np.insert(self.video_ids, pos, vid)
        self._position = None
        self.paths[vid], self.durations[vid], self.fps[vid] = path, duration, fps

    # -- reading -------------------------------------------------------------------------
    def live_rows(self) -> np.ndarray:
        return np.flatnonzero(self.video >= 0)

    def video_of(self, rows) -> np.ndarray:
        """Video ids of rows (searchable rows only)."""
        return self.video_ids[self.video[rows]]

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), d) float16 vectors of ``rows`` (any order), read from their blocks."""
        rows = np.asarray(rows, np.int64)
        out = np.empty((len(rows), self.d), np.float16)
        block = np.searchsorted(self._starts, rows, side="right") - 1
        for b in np.unique(block).tolist():
            sel = block == b
            local = rows[sel] - self._starts[b]
            order = np.argsort(local)  # sorted reads
            vals = np.empty((len(local), self.d), np.float16)
            vals[order] = self._blocks[b][local[order]]
            out[sel] = vals
        return out

    def keyframe_id(self, row: int) -> int:
        return keyframe_id(self.paths[int(self.video_of(row))], int(self.frame[row]))

    def moments(self, rows: np.ndarray, best: float, count: int, gap: float) -> list[tuple[float, int, int]]:
        """(time, frame, key frame id) of up to ``count`` key frames of ``rows`` (one video's, best first) at
        least ``gap`` seconds from ``best`` and from each other: other moments of a video to check."""
        times, out = [best], []
        for row in rows.tolist():
            t = round(float(self.time[row]), 6)
            if len(out) == count:
                break
            if all(abs(t - u) >= gap for u in times):
                times.append(t)
                out.append((t, int(self.frame[row]), self.keyframe_id(row)))
        return out

    def vector_bytes_resident(self) -> int:
        return sum(b.nbytes for b in self._blocks if isinstance(b, np.ndarray))


def load_keyframes(index: Path, man: Manifest, d: int, m: int, parts: list[int] | None = None
                   ) -> tuple[KeyFrames, Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray]]]:
    """The key frames of one generation, and the codes parts' searchable rows (rows, lists or None, codes) for the
    searcher, read one part at a time as the iterator is consumed (the table is complete once it is); ``parts``:
    the codes parts (numbers in manifest order) whose codes are read (default: all)."""
    check_listed(index, man)
    kfs = KeyFrames(d)
    vids = read_dataset(index, man, "videos", ["video_id", "path", "status", "duration", "frames"], live=True)
    if vids is not None:
        ok = vids.filter(vids.column("status").to_numpy(zero_copy_only=False) == "ok")
        kfs.set_videos(ok.column("video_id").to_numpy(), ok.column("path").to_pylist(),
                       ok.column("duration").to_numpy(zero_copy_only=False).astype(np.float64),
                       ok.column("frames").to_numpy(zero_copy_only=False).astype(np.float64))
    kfs.reserve(sum(parquet_rows(index / rel) for rel in man.files["codes"]))

    def stream():
        for i, rel in enumerate(man.files["codes"]):
            wanted = parts is None or i in parts
            t, lists, codes, vectors = read_part(index, man, rel, d, m, with_codes=wanted)
            rows = kfs.append(t.column("video_id").to_numpy(), t.column("time").to_numpy(),
                              t.column("frame").to_numpy(), vectors)
            del t
            keep = kfs.video[rows] >= 0  # rows of removed videos are not searched
            if wanted:
                yield rows[keep], lists[keep] if lists is not None else None, codes[keep]
        kfs.release_lookup()

    return kfs, stream()
