"""Positions of 64-bit ids in a fixed set, found by an open-addressing hash table in numpy arrays.

Opening an index maps every key frame's video id (a 63-bit hash of its path) to that video's position in the
table's sorted ids.  ``np.searchsorted`` took about 110 ms per million key frames here (100,023 videos: a binary
search of cache misses per row); this hash table 35-60 ms (one multiply and one or two gathers per row).
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of id * 2^64/phi


class IdPositions:
    """Called with ids: each one's position in the ``ids`` given at construction, -1 for an id not among them."""

    def __init__(self, ids: np.ndarray):
        ids = np.ascontiguousarray(ids, np.int64)
        bits = max(4, int(np.ceil(np.log2(max(1, len(ids)) * 4))))  # at most a quarter of the slots used
        self._shift, self._mask = np.uint64(64 - bits), (1 << bits) - 1
        self._keys = np.zeros(1 << bits, np.int64)
        self._vals = np.full(1 << bits, -1, np.int64)  # -1: an empty slot
        slot = self._slots(ids)
        todo = np.arange(len(ids))
        while len(todo):  # linear probing, all ids at once: one id per free slot each round, the rest move on
            s = slot[todo]
            free = self._vals[s] < 0
            _, first = np.unique(s[free], return_index=True)
            won = todo[free][first]
            self._keys[slot[won]], self._vals[slot[won]] = ids[won], won
            placed = np.zeros(len(ids), bool)
            placed[won] = True
            todo = todo[~placed[todo]]
            slot[todo] = (slot[todo] + 1) & self._mask

    def _slots(self, ids: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((ids.view(np.uint64) * _GOLDEN) >> self._shift).astype(np.int64)

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        ids = np.ascontiguousarray(ids, np.int64)
        out = np.full(len(ids), -1, np.int64)
        slot = self._slots(ids)
        todo = np.arange(len(ids))
        while len(todo):  # until each id is found or meets an empty slot
            s = slot[todo]
            v = self._vals[s]
            hit = (v >= 0) & (self._keys[s] == ids[todo])
            out[todo[hit]] = v[hit]
            on = (v >= 0) & ~hit
            todo = todo[on]
            slot[todo] = (s[on] + 1) & self._mask
        return out
