"""Synthetic videos for the scale bench, fitted on the real key frames of the shared index."""

import numpy as np
import pytest

from vidseek.eval.distractors import synthetic_vectors
from vidseek.eval.synthetic import VideoModel
from vidseek.search import Index


@pytest.fixture(scope="module")
def real(shared_index):
    index = Index.open(shared_index, device="cpu")
    rows = index.table.live_rows()
    return (index.table.vectors(rows).astype(np.float32), index.table.video_of(rows),
            np.asarray(index.table.time)[rows])


def nearest(q: np.ndarray, base: np.ndarray) -> np.ndarray:
    return (q @ base.T).max(axis=1)


def test_synthetic_videos_look_like_real_ones_without_copying_them(real):
    x, video, time = real
    model = VideoModel.fit(x, video, time)
    y = model.sample(400, 25, seed=1)
    assert y.shape == (10_000, x.shape[1]) and y.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1, atol=1e-5)
    # consecutive key frames of a synthetic video are as alike as real consecutive key frames
    s = np.lexsort((time, video))
    same = video[s][1:] == video[s][:-1]
    real_cos = np.median(np.sum(x[s][1:] * x[s][:-1], axis=1)[same])
    pairs = np.sum(y[1:] * y[:-1], axis=1)[np.arange(1, len(y)) % 25 != 0]
    assert abs(np.median(pairs) - real_cos) < 0.05
    # frames of different synthetic videos are no closer than frames of different real videos, on average
    other = video[:, None] != video[None, :]
    real_between = float(np.mean((x @ x.T)[other]))
    assert abs(float(np.mean(y[::25][:200] @ y[::25][200:].T)) - real_between) < 0.1
    # no synthetic key frame is a near-copy of a real one, unlike blends of real vectors
    q = x[np.random.default_rng(0).choice(len(x), 100, replace=False)]
    assert np.median(nearest(q, y)) < 0.6 < np.median(nearest(q, synthetic_vectors(x, 10_000, 1)))


def test_fitting_needs_several_videos(real):
    x, video, time = real
    one = video == video[0]
    with pytest.raises(ValueError, match="2\\+ videos"):
        VideoModel.fit(x[one], video[one], time[one])
