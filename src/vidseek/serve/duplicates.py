"""`GET /api/duplicates`: the collection's copies (vidseek.search.dups).  The costly part, every key frame's
matches, is found in the server's process once per generation and kept until the index changes; the pairs at a
threshold are then made from them in milliseconds.  Segments at or above the default threshold (those the page
shows) are placed frame by frame (vidseek.search.refine) once each and kept with the matches; weaker ones, returned
only when the caller lowers ``min_score``, are as found from the key frames.  Doubtful segments checked with local
features (vidseek.search.dups_check) are remembered the same way."""

from __future__ import annotations

import threading

from ..errors import VidseekError
from ..search.dups import LOCAL_MAX_KEYFRAMES, DupsConfig, Pair, best_first, keyframe_matches, pairs_of
from ..search.dups_check import PairChecker
from ..search.refine import DenseFrames, dense_model, refine_config, refine_pair
from ..search.scoring import DEFAULT_MIN_SCORE
from ..store.layout import keyframe_id


class DuplicateCache:
    def __init__(self, max_keyframes: int = LOCAL_MAX_KEYFRAMES):
        self.max_keyframes = max_keyframes
        self._lock = threading.Lock()  # one computation at a time; later requests wait for it and share it
        self._key: int | None = None  # the generation whose matches are held
        self._matches = None
        self._frames: DenseFrames | None = None  # frames decoded around segments, of the generation held
        self._placed: dict = {}  # segments placed frame by frame, of the generation held
        self._checker: PairChecker | None = None  # doubtful segments checked, of the generation held

    def pairs(self, generation, min_score: float) -> list[Pair]:
        index = generation.index
        if len(index) > self.max_keyframes:
            raise VidseekError(None, f"the index has {len(index):,} key frames: too many to compare here (more than "
                                     f"{self.max_keyframes:,}); run `vidseek dups {index.path}` (Spark) instead")
        with self._lock:
            if generation.number != self._key:
                self._matches = keyframe_matches(index, index.table.live_rows(), DupsConfig())
                cfg = refine_config(DupsConfig())
                self._frames, self._placed = DenseFrames(dense_model(index.model, cfg.image_size), cfg), {}
                self._checker = PairChecker(index.video_paths, durations=index.video_durations)
                self._key = generation.number
            pairs = pairs_of(self._matches, index.video_paths, DupsConfig(min_score=min_score), self._checker.confirm)
            durations = index.path_durations
            return best_first([refine_pair(self._frames, p, durations, self._placed, DEFAULT_MIN_SCORE)
                               for p in pairs])


def thumbnail_url(path: str, frame: int) -> str | None:
    return f"/api/keyframes/{keyframe_id(path, frame)}/thumbnail" if frame >= 0 else None
