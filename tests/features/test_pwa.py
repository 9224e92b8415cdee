"""PWA against a direct transcription of the formulas; whitening: determinism, persistence, rank cap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidseek.features.pwa import PWAConfig, pwa_aggregate, pwa_numpy_reference, select_parts
from vidseek.features.whitening import PCAWhitening, WhiteningConfig
from vidseek.store.model_files import load_whitening, save_whitening


@pytest.mark.parametrize("cfg", [PWAConfig(), PWAConfig(n_parts=3, alpha=1.0, beta=1.0), PWAConfig(n_parts=5, alpha=3.0, beta=0.5)])
def test_pwa_matches_numpy_transcription(cfg):
    rng = np.random.default_rng(0)
    maps = np.maximum(rng.normal(size=(3, 40, 5, 7)), 0).astype(np.float32)
    maps[1, 4] = 0.0  # an all-zero selected channel must not give NaNs
    channels = np.array(sorted(rng.choice(40, size=min(cfg.n_parts, 40), replace=False)))
    ours = pwa_aggregate(torch.from_numpy(maps), channels, cfg).numpy()
    assert ours.shape == (3, len(channels) * 40)
    for i in range(3):
        ref = pwa_numpy_reference(maps[i].astype(np.float64), channels, cfg)
        np.testing.assert_allclose(ours[i], ref, rtol=1e-4, atol=1e-6)
    assert np.all(np.isfinite(ours))


def test_part_selection_takes_largest_variance_channels():
    rng = np.random.default_rng(1)
    sums = rng.normal(size=(50, 10)) * np.array([1, 9, 2, 8, 3, 7, 4, 6, 5, 0.5])
    assert select_parts(sums, 3).tolist() == [1, 3, 5]
    assert select_parts(sums, 25).tolist() == list(range(10))  # N capped by C
    with pytest.raises(ValueError):
        select_parts(sums[:1], 3)


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)) @ rng.normal(size=(8, d)) + 0.1 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_whitening_is_deterministic_and_reloads_bit_exactly(tmp_path):
    x = _data(200, 64)
    a = PCAWhitening(WhiteningConfig(dim=16)).fit(x)
    b = PCAWhitening(WhiteningConfig(dim=16)).fit(x.copy())
    assert np.array_equal(a.projection, b.projection)
    save_whitening(a, tmp_path / "w.npz")
    c = load_whitening(tmp_path / "w.npz")
    assert np.array_equal(a.transform(x), c.transform(x))
    y = a.transform(x)
    assert y.shape == (200, 16) and np.allclose(np.linalg.norm(y, axis=1), 1, atol=1e-5)


def test_whitening_caps_dim_by_training_set_and_gram_path_agrees():
    x = _data(30, 100)  # fewer samples than dimensions: Gram-matrix path
    w = PCAWhitening(WhiteningConfig(dim=256)).fit(x)
    assert w.out_dim <= 29
    # the same subspace as the covariance path (run on a copy padded with zero-variance duplicates)
    cov = np.cov(x.astype(np.float64), rowvar=False)
    lam = np.sort(np.linalg.eigvalsh(cov))[::-1][: w.out_dim]
    np.testing.assert_allclose(w.eigenvalues, lam, rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError):
        w.transform(np.zeros((2, 99)))


def test_whitening_rows_do_not_depend_on_the_batch_they_come_in():
    """BLAS picks kernels by the shape of a product (a 1-row product is a gemv, a large one is split
    differently), so a plain ``x @ P.T`` gives a row other bits in another batch; a build must not depend on
    how Spark happens to batch rows."""
    rng = np.random.default_rng(3)
    x = _data(1000, 2000, seed=4)
    w = PCAWhitening(WhiteningConfig(dim=128)).fit(_data(400, 2000, seed=5))
    whole = w.transform(x)
    for size in (1, 3, 64, 100, 999):
        parts = np.concatenate([w.transform(x[s : s + size]) for s in range(0, len(x), size)])
        assert np.array_equal(parts, whole), size
    order = rng.permutation(len(x))
    assert np.array_equal(w.transform(x[order]), whole[order])


def test_whitening_fit_does_not_depend_on_blas_threads():
    """LAPACK's QR gave other bits with 1 and 2 OpenBLAS threads; the fit must not (a build's driver runs it)."""
    import subprocess
    import sys

    code = ("import hashlib, numpy as np\n"
            "from vidseek.features.whitening import PCAWhitening, WhiteningConfig\n"
            "x = np.random.default_rng(1).standard_normal((300, 4000)).astype(np.float32)\n"
            "w = PCAWhitening(WhiteningConfig(dim=64)).fit(x / np.linalg.norm(x, axis=1, keepdims=True))\n"
            "print(hashlib.sha256(w.projection.tobytes() + w.mean.tobytes()).hexdigest())\n")
    digests = set()
    for threads in ("1", "2"):
        env = {**__import__("os").environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        digests.add(r.stdout.strip())
    assert len(digests) == 1


def test_learned_whitening_pools_every_edited_copy_of_a_row():
    """Pairs given as several copies per row (one after the other) are all learned from: two identical copies
    are one copy counted twice, and the direction the edits move rows along is what the whitening damps."""
    from vidseek.features.whitening import array_blocks

    x = _data(300, 64)
    rng = np.random.default_rng(1)
    u = rng.normal(size=64).astype(np.float32)
    u /= np.linalg.norm(u)
    edits = [x + rng.normal(0, 0.3, (300, 1)).astype(np.float32) * u for _ in range(2)]

    def fit(pairs):
        return PCAWhitening(WhiteningConfig(dim=16)).fit_blocks(array_blocks(x), 300, 64, pairs=array_blocks(pairs))

    one, twice = fit(edits[0]), fit(np.concatenate([edits[0], edits[0]], axis=1))
    assert twice.n_pairs == 600 and one.n_pairs == 300
    assert np.allclose(one.projection, twice.projection, atol=1e-5)
    both = fit(np.concatenate(edits, axis=1))
    plain = PCAWhitening(WhiteningConfig(dim=16)).fit(x)
    gain = lambda w: np.linalg.norm(w.projection @ u) / np.linalg.norm(w.projection, axis=1).mean()  # noqa: E731
    assert gain(both) < 0.5 * gain(plain)
