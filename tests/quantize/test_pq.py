"""Our PQ against faiss.IndexPQ: reconstruction error and recall@10 on the same data and m/nbits."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from vidseek.quantize.pq import PQConfig, ProductQuantizer
from vidseek.store.model_files import load_pq, save_pq


def clustered(n, d, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(64, d)).astype(np.float32)
    x = centres[rng.integers(0, 64, n)] + 0.3 * rng.normal(size=(n, d)).astype(np.float32)
    return x.astype(np.float32)


@pytest.mark.parametrize("m", [8, 16])
def test_pq_matches_faiss_index_pq(m):
    d, nbits = 64, 8
    train, base, queries = clustered(20000, d, 0), clustered(20000, d, 1), clustered(200, d, 2)
    ours = ProductQuantizer(d, PQConfig(m=m, nbits=nbits)).train(train)
    ref = faiss.IndexPQ(d, m, nbits)
    ref.train(train)
    ref.add(base)
    codes = ours.encode(base)
    mse_ours = float(((ours.decode(codes) - base) ** 2).sum(axis=1).mean())
    mse_faiss = float(((ref.reconstruct_n(0, len(base)) - base) ** 2).sum(axis=1).mean())
    assert mse_ours <= mse_faiss * 1.02, (mse_ours, mse_faiss)

    exact = faiss.IndexFlatL2(d)
    exact.add(base)
    _, gt = exact.search(queries, 10)
    tables = ours.distance_tables(queries)
    dist = np.stack([tables[i][np.arange(m), codes].sum(axis=1) for i in range(len(queries))])
    ours_top = np.argsort(dist, axis=1)[:, :10]
    _, faiss_top = ref.search(queries, 10)

    def recall(top):
        return np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, gt)])

    assert recall(ours_top) >= recall(faiss_top) - 0.02, (recall(ours_top), recall(faiss_top))


def test_adc_tables_equal_direct_distances():
    d, m = 32, 4
    x = clustered(3000, d, 3)
    pq = ProductQuantizer(d, PQConfig(m=m)).train(x)
    codes = pq.encode(x[:50])
    q = x[100:103]
    t = pq.distance_tables(q)
    adc = np.stack([t[i][np.arange(m), codes].sum(axis=1) for i in range(3)])
    direct = ((q[:, None, :] - pq.decode(codes)[None]) ** 2).sum(-1)
    np.testing.assert_allclose(adc, direct, rtol=1e-4, atol=1e-4)


def test_small_training_sets_and_persistence(tmp_path):
    x = clustered(100, 16, 4)  # fewer points than 256 centroids: every point is a centroid
    pq = ProductQuantizer(16, PQConfig(m=4)).train(x)
    assert np.allclose(pq.decode(pq.encode(x)), x)
    save_pq(pq, tmp_path / "pq.npz")
    back = load_pq(tmp_path / "pq.npz")
    assert np.array_equal(back.centroids, pq.centroids) and np.array_equal(back.encode(x), pq.encode(x))
    with pytest.raises(ValueError, match="not divisible"):
        ProductQuantizer(10, PQConfig(m=4))
    with pytest.raises(ValueError, match="shape"):
        pq.encode(np.zeros((2, 15), np.float32))


def test_batched_encoder_equals_per_subspace_reference():
    x = clustered(5000, 64, 5)
    pq = ProductQuantizer(64, PQConfig(m=16)).train(x[:3000])
    a, b = pq.encode(x), pq.encode_numpy(x)
    # the same codes, except where two centroids are equally near up to float rounding (the two encoders sum in
    # different orders, and BLAS kernels differ between CPUs): there either choice is a nearest centroid
    rows, cols = np.nonzero(a != b)
    assert len(rows) <= 5, len(rows)
    for r, j in zip(rows, cols):
        sub = pq.subvectors(x[r : r + 1], j)[0]
        da, db = (((pq.centroids[j][c] - sub) ** 2).sum() for c in (a[r, j], b[r, j]))
        assert np.isclose(da, db, rtol=1e-5, atol=1e-6)


def test_kmeans_does_not_depend_on_the_order_of_its_sample():
    """A build reads its training sample in key-frame id order, and the ids hash the videos' paths: the same videos
    in another folder give the same sample in another order, and must give the same codebooks."""
    from vidseek.quantize.kmeans import kmeans

    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 8)).astype(np.float32)
    x[100:110] = x[0]  # equal rows too
    first = kmeans(x, 64, niter=8, seed=11, threads=1)
    assert np.array_equal(first, kmeans(x[rng.permutation(len(x))], 64, niter=8, seed=11, threads=1))
    assert not np.array_equal(first, kmeans(x, 64, niter=8, seed=12, threads=1))  # the seed still matters
