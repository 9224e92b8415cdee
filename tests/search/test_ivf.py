"""The inverted-file engine: filled from stored parts, it holds what faiss.IndexIVFPQ builds from the vectors
itself (the same lists, the same ids in them, the same codes) and answers with the same distances; with codes of
the residuals (what builds write) and with codes of the vectors (inverted files written before)."""

from __future__ import annotations

import faiss
import numpy as np
import pyarrow.parquet as pq_io
import pytest

from vidseek.quantize.ivf import CoarseQuantizer, IVFConfig, default_nlist, train_coarse
from vidseek.quantize.pq import PQConfig, ProductQuantizer
from vidseek.search.engines import FlatEngine, IVFEngine
from vidseek.store.codes import CodeRows, open_vectors, write_codes_part


def data(n=20000, d=32, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(64, d)).astype(np.float32)
    x = centres[rng.integers(0, 64, n)] + 0.4 * rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module", params=[True, False], ids=["residual", "vectors"])
def stored(tmp_path_factory, request):
    """Two parts written by the index's writer, rows in a shuffled order, with their lists and vectors; PQ codes
    of the residuals (codebooks trained on residuals) or of the vectors."""
    x = data()
    coarse = CoarseQuantizer(train_coarse(x[:8000], 64, threads=1), residual=request.param)
    train = coarse.residuals(x[:8000]) if coarse.residual else x[:8000]
    pq = ProductQuantizer(x.shape[1], PQConfig(m=8)).train(train, threads=1)
    folder = tmp_path_factory.mktemp("ivf")
    parts = []
    rng = np.random.default_rng(1)
    for i, rows in enumerate(np.array_split(rng.permutation(len(x)), 2)):
        rows = np.sort(rows)
        cr = CodeRows(rows * 7 + 1, rows // 50, rows % 50, (rows % 50) * 0.5, coarse.encoded(pq, x[rows]), x[rows],
                      coarse.assign(x[rows]))
        write_codes_part(str(folder / "codes"), str(folder / "vectors"), f"part-{i:05d}", cr)
        t = pq_io.read_table(folder / "codes" / f"part-{i:05d}.parquet")
        kf = t.column("kf_id").to_numpy()
        stored_rows = (kf - 1) // 7  # this test's row numbers, in the stored order
        codes = np.frombuffer(t.column("code").combine_chunks().buffers()[1], np.uint8).reshape(-1, pq.m)
        vec = open_vectors(folder / "vectors" / f"part-{i:05d}.npy", t.num_rows, x.shape[1])
        parts.append((stored_rows, t.column("list").to_numpy(), codes, t, vec))
    return x, pq, coarse, parts


def test_parts_are_sorted_by_list_with_their_vectors(stored):
    x, pq, coarse, parts = stored
    for rows, lists, codes, _, vec in parts:
        assert (np.diff(lists) >= 0).all()
        np.testing.assert_array_equal(lists, coarse.assign(x[rows]))
        np.testing.assert_array_equal(codes, coarse.encoded(pq, x[rows], lists))
        if coarse.residual:  # a residual code is of the vector minus its list's centroid
            np.testing.assert_array_equal(codes, pq.encode(x[rows] - coarse.centroids[lists]))
        np.testing.assert_array_equal(vec, x[rows].astype(np.float16))


def test_lists_and_distances_equal_faiss_ivfpq(stored):
    x, pq, coarse, parts = stored
    live = np.ones(len(x), bool)
    ours = IVFEngine(pq, coarse, [(r, li, c) for r, li, c, _, _ in parts], live, nprobe=8)
    ref = faiss.IndexIVFPQ(coarse.flat_index(), pq.d, coarse.nlist, pq.m, 8)
    ref.by_residual = coarse.residual
    faiss.copy_array_to_vector(pq.centroids.ravel(), ref.pq.centroids)
    ref.is_trained = True
    ref.add_with_ids(x, np.arange(len(x), dtype=np.int64))
    assert len(ours) == ref.ntotal == len(x)
    for li in range(coarse.nlist):
        n = ref.invlists.list_size(li)
        assert ours.index.invlists.list_size(li) == n
        ids_ref = faiss.rev_swig_ptr(ref.invlists.get_ids(li), n).copy()
        ids_ours = faiss.rev_swig_ptr(ours.index.invlists.get_ids(li), n).copy()
        assert sorted(ids_ref) == sorted(ids_ours)
        codes_ref = faiss.rev_swig_ptr(ref.invlists.get_codes(li), n * pq.m).reshape(n, pq.m)
        codes_ours = faiss.rev_swig_ptr(ours.index.invlists.get_codes(li), n * pq.m).reshape(n, pq.m)
        np.testing.assert_array_equal(codes_ref[np.argsort(ids_ref)], codes_ours[np.argsort(ids_ours)])
    q = x[::997] + 0.05
    ref.nprobe = 8
    fd, fi = ref.search(q, 10)
    d, ids = ours.search(q, 10)
    np.testing.assert_allclose(d, fd, rtol=1e-5, atol=1e-5)
    for a, b, dd in zip(ids, fi, fd):
        assert {i for i, di in zip(b, dd) if di < dd[-1] - 1e-5} <= set(a)


def exhaustive_adc(q, x, pq, coarse, parts, live, k):
    """Squared distances of each query to every live row's reconstruction (its list's centroid, for residual
    codes, plus its decoded code), the k nearest: what scanning every list must give."""
    rows = np.concatenate([r for r, *_ in parts])
    lists = np.concatenate([li for _, li, *_ in parts])
    recon = pq.decode(np.concatenate([c for _, _, c, *_ in parts]))
    if coarse.residual:
        recon = recon + coarse.centroids[lists]
    keep = live[rows]
    d = ((q[:, None, :] - recon[keep][None]) ** 2).sum(-1)
    order = np.argsort(d, axis=1)[:, :k]
    return np.take_along_axis(d, order, 1), rows[keep][order]


def test_all_lists_probed_equals_exhaustive_adc_and_removed_rows_are_left_out(stored):
    x, pq, coarse, parts = stored
    live = np.ones(len(x), bool)
    live[::3] = False  # rows of removed videos
    triples = [(r, li, c) for r, li, c, _, _ in parts]
    ivf = IVFEngine(pq, coarse, triples, live, nprobe=coarse.nlist)
    assert len(ivf) == live.sum()
    q = x[1::1001]
    d1, r1 = ivf.search(q, 20)
    d2, r2 = exhaustive_adc(q, x, pq, coarse, parts, live, 20)
    np.testing.assert_allclose(d1, d2, rtol=1e-4, atol=1e-4)
    assert live[r1].all() and (r1[:, 0] == r2[:, 0]).all()
    if not coarse.residual:  # codes of the vectors: the flat engine scans the same codes
        flat = FlatEngine(pq, triples, live)
        d3, r3 = flat.search(q, 20)
        assert len(flat) == live.sum() and live[r3].all()
        np.testing.assert_allclose(d1, d3, rtol=1e-5, atol=1e-5)
    few = ivf.search(q, 20, nprobe=1)[1]
    assert (few >= 0).any() and not np.array_equal(few, r1)  # one list is not the whole collection


def test_nlist_rule_and_switch():
    assert default_nlist(1_000_000) == 4096 and default_nlist(10_000_000) == 16384 and default_nlist(1) == 1
    cfg = IVFConfig()
    assert not cfg.enabled(1000) and cfg.enabled(10_000_000)
    assert IVFConfig(mode="on").enabled(10) and not IVFConfig(mode="off").enabled(10**9)
    assert IVFConfig(mode="on", nlist=64).lists_for(20) == 20  # never more lists than key frames
    with pytest.raises(ValueError, match="auto, on or off"):
        IVFConfig(mode="yes").enabled(1)
    with pytest.raises(ValueError, match="1 or more"):
        IVFConfig(mode="on", nlist=-4).lists_for(100)


def test_vector_file_reads_rows_in_any_order_and_refuses_a_short_file(stored, tmp_path):
    from vidseek.errors import StoreError

    x, _, _, parts = stored
    rows, _, _, _, vec = parts[0]
    pick = np.array([5, 0, 5, len(rows) - 1])
    np.testing.assert_array_equal(vec[pick], x[rows[pick]].astype(np.float16))
    mask = np.zeros(len(rows), bool)
    mask[[1, 3]] = True
    np.testing.assert_array_equal(vec[mask], x[rows[[1, 3]]].astype(np.float16))
    with pytest.raises(IndexError):
        vec[[len(rows)]]
    short = tmp_path / "short.npy"
    short.write_bytes(vec.path.read_bytes()[:-2])
    with pytest.raises(StoreError, match="corrupt or truncated"):
        open_vectors(short, len(rows), x.shape[1])


def test_a_few_queries_together_get_the_answers_each_gets_alone():
    """A picture and its mirror go through one call; with 16,384 lists faiss's default parallel mode answered the
    first of 2 or 3 queries on 2+ threads with one id repeated k times."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40000, 32)).astype(np.float32)
    coarse = CoarseQuantizer(x[rng.choice(len(x), 16384, replace=False)], residual=True)
    lists = coarse.assign(x)
    pq = ProductQuantizer(32, PQConfig(m=8)).train(coarse.residuals(x[:8000], lists[:8000]), threads=1)
    rows = np.arange(len(x))
    engine = IVFEngine(pq, coarse, [(rows, lists, coarse.encoded(pq, x, lists))], nprobe=32)
    q = x[:5] + 0.05
    alone = np.stack([engine.search(q[i : i + 1], 10)[1][0] for i in range(5)])
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        for nq in (2, 3, 5):
            assert (engine.search(q[:nq], 10)[1] == alone[:nq]).all()
    finally:
        faiss.omp_set_num_threads(threads)
    assert (alone[:, 0] == np.arange(5)).all()  # each query's own vector first


def test_an_inverted_file_saved_before_residual_codes_opens_with_codes_of_the_vectors(tmp_path):
    import json

    from vidseek.store.model_files import load_ivf, save_ivf

    c = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    save_ivf(CoarseQuantizer(c, residual=True), tmp_path / "ivf.npz")
    assert load_ivf(tmp_path / "ivf.npz").residual
    meta = json.loads((tmp_path / "ivf.json").read_text())
    del meta["residual"]  # as written before residual codes
    (tmp_path / "ivf.json").write_text(json.dumps(meta))
    old = load_ivf(tmp_path / "ivf.npz")
    assert not old.residual and np.array_equal(old.centroids, c)


@pytest.mark.parametrize("text", ['{"nlist": 4, "d": 8, "residual": "no"}', '{"nlist": 5, "d": 8, "residual": true}', ""])
def test_a_corrupt_inverted_file_description_is_one_clear_error(tmp_path, text):
    from vidseek.errors import ModelError
    from vidseek.store.model_files import load_ivf, save_ivf

    save_ivf(CoarseQuantizer(np.zeros((4, 8), np.float32), residual=True), tmp_path / "ivf.npz")
    (tmp_path / "ivf.json").write_text(text)
    with pytest.raises(ModelError, match=r"ivf\.(npz|json).*(corrupt)"):
        load_ivf(tmp_path / "ivf.npz")
