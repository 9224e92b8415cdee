"""ADC top-k against brute force and against faiss.IndexPQ with the same codebooks and codes."""

from __future__ import annotations

import faiss
import numpy as np

from vidseek.quantize.pq import PQConfig, ProductQuantizer
from vidseek.search.adc import ADCSearcher


def setup(n=30000, d=32, m=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, d)).astype(np.float32)
    x = centres[rng.integers(0, 50, n)] + 0.3 * rng.normal(size=(n, d)).astype(np.float32)
    pq = ProductQuantizer(d, PQConfig(m=m)).train(x[:10000])
    return x, pq, pq.encode(x), x[rng.integers(0, n, 20)] + 0.1


def test_topk_equals_brute_force_adc():
    x, pq, codes, q = setup()
    s = ADCSearcher(codes, pq, code_block=4096, query_block=7)  # blocks that do not divide the sizes
    dist, ids = s.search(q, 10)
    t = pq.distance_tables(q)
    brute = np.stack([t[i][np.arange(pq.m), codes].sum(1) for i in range(len(q))])
    for i in range(len(q)):
        np.testing.assert_allclose(dist[i], np.sort(brute[i])[:10], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(brute[i][ids[i]], dist[i], rtol=1e-5, atol=1e-5)


def test_same_results_as_faiss_index_pq():
    x, pq, codes, q = setup(seed=1)
    index = faiss.IndexPQ(pq.d, pq.m, 8)
    faiss.copy_array_to_vector(pq.centroids.ravel(), index.pq.centroids)
    index.is_trained = True
    faiss.copy_array_to_vector(codes.ravel(), index.codes)
    index.ntotal = len(codes)
    fd, fi = index.search(q, 10)
    dist, ids = ADCSearcher(codes, pq).search(q, 10)
    np.testing.assert_allclose(dist, fd, rtol=1e-4, atol=1e-4)
    # the same neighbours, except where float rounding (which differs between kernels and CPUs) may reorder
    # near-ties at the 10th distance: every code clearly inside faiss's top 10 is in ours
    for a, b, d in zip(ids, fi, fd):
        assert {i for i, di in zip(b, d) if di < d[-1] - 1e-4} <= set(a)


def test_fewer_codes_than_k_and_empty():
    _, pq, codes, q = setup(n=12000)
    dist, ids = ADCSearcher(codes[:3], pq).search(q[:2], 5)
    assert (ids[:, :3] >= 0).all() and (ids[:, 3:] == -1).all() and np.isinf(dist[:, 3:]).all()
    dist, ids = ADCSearcher(codes[:0], pq).search(q[:2], 5)
    assert (ids == -1).all()


def test_a_few_queries_get_the_same_answers_as_a_batch():
    """Calls of up to FAISS_MAX_QUERIES queries (the interactive case) go through faiss.IndexPQ; they answer
    what the blocked scan answers for the same queries in a batch, and what brute force does."""
    from vidseek.search.adc import FAISS_MAX_QUERIES

    x, pq, codes, q = setup(seed=2)
    s = ADCSearcher(codes, pq)
    batch_d, batch_i = s.search(q, 10)  # 20 queries: the blocked scan
    assert len(q) > FAISS_MAX_QUERIES and s._faiss is None
    t = pq.distance_tables(q)
    for lo, hi in ((0, 1), (1, 4), (4, 4 + FAISS_MAX_QUERIES)):
        d, i = s.search(q[lo:hi], 10)
        np.testing.assert_allclose(d, batch_d[lo:hi], rtol=1e-4, atol=1e-4)
        for row, (a, b, dd) in enumerate(zip(i, batch_i[lo:hi], batch_d[lo:hi])):
            assert {c for c, dc in zip(b, dd) if dc < dd[-1] - 1e-4} <= set(a)
            brute = t[lo + row][np.arange(pq.m), codes[a]].sum(1)
            np.testing.assert_allclose(brute, d[row], rtol=1e-5, atol=1e-5)
    assert s._faiss is not None
