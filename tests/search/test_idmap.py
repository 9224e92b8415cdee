"""The video-id lookup an opened index fills its table with: the same positions as a binary search."""

from __future__ import annotations

import numpy as np

from vidseek.search.idmap import IdPositions


def reference(ids: np.ndarray, q: np.ndarray) -> np.ndarray:
    pos = np.minimum(np.searchsorted(ids, q), max(len(ids) - 1, 0))
    return np.where(ids[pos] == q, pos, -1) if len(ids) else np.full(len(q), -1)


def test_positions_equal_a_binary_search_over_sorted_ids():
    rng = np.random.default_rng(0)
    ids = np.unique(rng.integers(-(2**63), 2**63 - 1, 5000, dtype=np.int64))
    q = np.concatenate([ids[rng.integers(0, len(ids), 20000)], rng.integers(-(2**63), 2**63 - 1, 500, dtype=np.int64),
                        ids[:3], ids[-3:]])
    got = IdPositions(ids)(q)
    np.testing.assert_array_equal(got, reference(ids, q))
    assert (got[:20000] >= 0).all() and (got[20000:20500] == -1).mean() > 0.99


def test_ids_that_share_hash_slots_are_all_found():
    """200 ids in runs of 10 that hash to the same slot of the table (1,024 slots for 200 ids): each run is
    probed past its neighbours', and every id is still found at its own place."""
    rng = np.random.default_rng(1)
    pool = rng.integers(-(2**63), 2**63 - 1, 200_000, dtype=np.int64)
    with np.errstate(over="ignore"):
        slots = (pool.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - 10)
    chosen = [pool[slots == s][:10] for s in range(100, 120)]  # 20 neighbouring slots, 10 ids each
    ids = np.unique(np.concatenate(chosen))
    assert len(ids) == 200
    table = IdPositions(ids)
    assert len(np.unique(table._slots(ids))) == 20  # the collisions this test is about
    np.testing.assert_array_equal(table(ids), np.arange(len(ids)))
    np.testing.assert_array_equal(table(ids[::-1]), np.arange(len(ids))[::-1])
    others = pool[(slots >= 100) & (slots < 120)][-50:]
    others = others[~np.isin(others, ids)]
    assert len(others) and (table(others) == -1).all()


def test_an_empty_set_finds_nothing():
    assert IdPositions(np.zeros(0, np.int64))(np.array([0, 5], np.int64)).tolist() == [-1, -1]
    assert IdPositions(np.array([3], np.int64))(np.zeros(0, np.int64)).tolist() == []
