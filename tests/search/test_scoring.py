"""The background level of a query: the fast path (the closest few hundred background frames) gives what a full
sort gives, with many videos in the background and with few (where it must fall back to the full sort)."""

from __future__ import annotations

import numpy as np
import pytest

from vidseek.search.scoring import Background, ScoreConfig


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def full_sort_level(bg: Background, s: np.ndarray) -> float:
    return min(bg._level_of(s, np.argsort(-s, kind="stable"), complete=True), 0.99)


@pytest.mark.parametrize("videos", [1000, 3])  # many videos; three videos hold every frame (the fallback)
def test_levels_equal_a_full_sort(videos):
    rng = np.random.default_rng(videos)
    vectors = unit(rng.normal(size=(4096, 32)).astype(np.float32))
    bg = Background(vectors, rng.integers(0, videos, 4096), ScoreConfig())
    queries = unit(np.concatenate([vectors[:20] + 0.1 * rng.normal(size=(20, 32)), rng.normal(size=(20, 32))]).astype(np.float32))
    expected = [full_sort_level(bg, s) for s in (bg.vectors @ queries.T).T]
    np.testing.assert_allclose(bg.levels(queries), expected, rtol=0, atol=1e-6)
    one_by_one = np.minimum([bg._level(s) for s in queries @ bg.vectors.T], 0.99).astype(np.float32)
    assert np.array_equal(bg.levels(queries), one_by_one)  # the batched path takes the same frames in the same order


def test_reference_pictures_raise_the_level_of_their_look_alikes_only():
    """A query close to the reference pictures (documents, windows, tables) is measured against them: its level
    rises; a query unlike them keeps its level; reference pictures never stand for one of the collection's videos."""
    rng = np.random.default_rng(5)
    vectors = unit(rng.normal(size=(2000, 32)).astype(np.float32))
    videos = rng.integers(0, 200, 2000)
    direction = unit(rng.normal(size=32).astype(np.float32))
    reference = unit(direction + 0.3 * rng.normal(size=(50, 32)).astype(np.float32) / np.sqrt(32))
    plain, calibrated = Background(vectors, videos), Background(vectors, videos, reference=reference)
    look_alike = unit(direction + 0.3 * rng.normal(size=(1, 32)).astype(np.float32) / np.sqrt(32))
    other = unit(rng.normal(size=(1, 32)).astype(np.float32))
    assert calibrated.levels(look_alike)[0] > plain.levels(look_alike)[0] + 0.3
    assert calibrated.levels(other)[0] == pytest.approx(plain.levels(other)[0], abs=0.05)
    assert set(calibrated.videos[len(vectors):]).isdisjoint(videos) and (calibrated.videos[len(vectors):] < 0).all()
    assert len(set(calibrated.videos[len(vectors):].tolist())) == len(reference)  # each one a video of its own
