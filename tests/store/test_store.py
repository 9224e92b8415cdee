"""The store: atomic replacement, model files with errors that name them, the one dataset reader."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidseek.atomic import atomic_path, write_text
from vidseek.errors import ModelError, StoreError
from vidseek.features.whitening import PCAWhitening, WhiteningConfig
from vidseek.quantize.pq import PQConfig, ProductQuantizer
from vidseek.store.layout import Manifest
from vidseek.store.model_files import load_pq, load_reference, load_whitening, save_pq, save_reference, save_whitening
from vidseek.store.reader import indexed_paths, read_dataset


def test_atomic_path_replaces_whole_files_or_nothing(tmp_path):
    target = tmp_path / "f.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
    with atomic_path(target, sync=True) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".txt" and tmp != target
        tmp.write_text("new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_model_files_round_trip_and_name_the_broken_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 16)).astype(np.float32)
    pq_ = ProductQuantizer(16, PQConfig(m=4, nbits=4)).train(x)
    save_pq(pq_, tmp_path / "pq.npz")
    back = load_pq(tmp_path / "pq.npz")
    assert np.array_equal(back.centroids, pq_.centroids) and back.config == pq_.config
    w = PCAWhitening(WhiteningConfig(dim=8)).fit(x)
    save_whitening(w, tmp_path / "w.npz")
    wb = load_whitening(tmp_path / "w.npz")
    assert np.array_equal(wb.projection, w.projection) and wb.n_train == 300
    (tmp_path / "pq.json").unlink()
    with pytest.raises(ModelError, match="pq.json: codebook file missing"):
        load_pq(tmp_path / "pq.npz")
    (tmp_path / "w.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="w.npz: whitening file is corrupt"):
        load_whitening(tmp_path / "w.npz")


def test_reference_file_round_trip_absent_and_damaged(tmp_path):
    """The calibration's reference descriptors: reloaded as saved (float16), None for an index built without
    them, and a damaged or mismatched file is one error naming it."""
    path = tmp_path / "reference.npz"
    assert load_reference(path, 8) is None
    v = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    save_reference(v, path)
    np.testing.assert_allclose(load_reference(path, 8), v, atol=1e-2)
    with pytest.raises(ModelError, match=r"reference.npz: reference descriptors file is corrupt \(shape"):
        load_reference(path, 16)  # another index's dimension
    path.write_bytes(b"")
    with pytest.raises(ModelError, match="reference.npz: reference descriptors file is corrupt"):
        load_reference(path, 8)
    path.unlink()
    with pytest.raises(ModelError, match="reference.npz: reference descriptors file missing"):
        load_reference(path, 8)  # its .json left alone


def test_reader_reads_listed_files_only_and_drops_removed_videos(tmp_path):
    (tmp_path / "videos" / "gen=1").mkdir(parents=True)
    pq.write_table(pa.table({"video_id": [1, 2, 3], "path": ["/a", "/b", "/c"]}), tmp_path / "videos/gen=1/p0.parquet")
    pq.write_table(pa.table({"video_id": [9], "path": ["/unlisted"]}), tmp_path / "videos/gen=1/p1.parquet")
    man = Manifest(files={"videos": ["videos/gen=1/p0.parquet"], "keyframes": [], "codes": []}, removed=[2])
    assert read_dataset(tmp_path, man, "videos").num_rows == 3
    assert read_dataset(tmp_path, man, "videos", live=True).column("path").to_pylist() == ["/a", "/c"]
    assert indexed_paths(tmp_path, man) == {"/a": 1, "/c": 3}
    assert read_dataset(tmp_path, man, "codes") is None
    man.files["videos"].append("videos/gen=1/missing.parquet")
    with pytest.raises(StoreError, match="missing.parquet: index file listed in the manifest is missing"):
        read_dataset(tmp_path, man, "videos")


def test_vectors_from_a_binary_column_whole_sliced_chunked_or_ragged():
    from vidseek.store.schemas import vectors_from_column

    x = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    col = pa.array([r.tobytes() for r in x], pa.binary())
    assert np.array_equal(vectors_from_column(col, 8), x)
    assert np.array_equal(vectors_from_column(col.slice(100, 50), 8), x[100:150])
    assert np.array_equal(vectors_from_column(pa.chunked_array([col.slice(0, 7), col.slice(7)]), 8), x)
    h = x.astype(np.float16)
    assert np.array_equal(vectors_from_column(pa.array([r.tobytes() for r in h]), 8, np.float16), h)
    assert vectors_from_column(col.slice(0, 0), 8).shape == (0, 8)
    with pytest.raises(ValueError):  # a value of the wrong size is not silently reshaped
        vectors_from_column(pa.array([b"\0" * 32, b"\0" * 28]), 8)
