"""`GET /api/duplicates`: the collection's copies (vidseek.search.dups).  The costly part, every key frame's
matches, is found in the server's process once per generation and kept until the index changes; the pairs at a
threshold are then made from them in milliseconds."""

from __future__ import annotations

import threading

from ..errors import VidseekError
from ..search.dups import LOCAL_MAX_KEYFRAMES, DupsConfig, Pair, keyframe_matches, pairs_of
from ..store.layout import keyframe_id


class DuplicateCache:
    def __init__(self, max_keyframes: int = LOCAL_MAX_KEYFRAMES):
        self.max_keyframes = max_keyframes
        self._lock = threading.Lock()  # one computation at a time; later requests wait for it and share it
        self._key: int | None = None  # the generation whose matches are held
        self._matches = None

    def pairs(self, generation, min_score: float) -> list[Pair]:
        index = generation.index
        if len(index) > self.max_keyframes:
            raise VidseekError(None, f"the index has {len(index):,} key frames: too many to compare here (more than "
                                     f"{self.max_keyframes:,}); run `vidseek dups {index.path}` (Spark) instead")
        with self._lock:
            if generation.number != self._key:
                self._matches = keyframe_matches(index, index.table.live_rows(), DupsConfig())
                self._key = generation.number
            matches = self._matches
        return pairs_of(matches, index.video_paths, DupsConfig(min_score=min_score))


def thumbnail_url(path: str, frame: int) -> str | None:
    return f"/api/keyframes/{keyframe_id(path, frame)}/thumbnail" if frame >= 0 else None
