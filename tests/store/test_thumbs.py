"""Thumbnails by key-frame id (store.thumbs): the sidecar format, and a real index that finds every thumbnail
without reading a key-frames file."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from vidseek.errors import StoreError
from vidseek.search.index import Index
from vidseek.store import thumbs as thumbs_mod
from vidseek.store.layout import read_manifest, write_manifest
from vidseek.store.thumbs import STRIDE, ThumbFile, encode_thumbs, thumbs_file_for


def sidecar(tmp_path, ids, videos, blobs, stride=STRIDE):
    path = tmp_path / "t.bin"
    path.write_bytes(encode_thumbs(np.asarray(ids), np.asarray(videos), blobs, stride=stride))
    return path


@pytest.mark.parametrize("n, stride", [(0, 256), (1, 256), (255, 256), (256, 256), (1000, 256), (1000, 7)])
def test_every_id_is_found_and_no_other(tmp_path, n, stride):
    rng = np.random.default_rng(n)
    ids = rng.choice(np.arange(-2**62, 2**62, 2**40, dtype=np.int64), n, replace=False)  # unsorted, signed
    videos = rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64)
    blobs = [rng.bytes(int(s)) for s in rng.integers(0, 300, n)]
    f = ThumbFile(sidecar(tmp_path, ids, videos, blobs, stride))
    for i in rng.permutation(n):
        assert f.find(int(ids[i])) == (int(videos[i]), blobs[i])
    for absent in (-2**63, 2**63 - 1, 1, -1):
        assert f.find(absent) is None
    assert len(f.fence) == -(-n // stride)  # what stays in memory: one id per stride


def test_a_damaged_sidecar_is_named(tmp_path):
    path = sidecar(tmp_path, [3, 1, 2], [7, 7, 8], [b"a", b"bb", b"ccc"])
    data = path.read_bytes()
    path.write_bytes(data[:-1])
    with pytest.raises(StoreError, match="t.bin: thumbnails file is corrupt or truncated"):
        ThumbFile(path)
    path.write_bytes(b"NOTTHUMB" + data[8:])
    with pytest.raises(StoreError, match="t.bin: thumbnails file is corrupt"):
        ThumbFile(path)
    with pytest.raises(StoreError, match="missing"):
        ThumbFile(tmp_path / "gone.bin")


def test_a_built_index_finds_every_thumbnail_without_reading_key_frame_files(shared_index, monkeypatch):
    man = read_manifest(shared_index)
    assert sorted(man.files["thumbs"]) == sorted(thumbs_file_for(rel) for rel in man.files["keyframes"])
    expected = {}
    for rel in man.files["keyframes"]:
        t = pq.read_table(shared_index / rel, columns=["kf_id", "thumb"])
        expected.update(zip(t.column("kf_id").to_pylist(), t.column("thumb").to_pylist()))
    index = Index.open(shared_index, device="cpu")

    def no_scan(*args, **kwargs):
        raise AssertionError("a key-frames file was read")

    monkeypatch.setattr(thumbs_mod, "read_table", no_scan)
    assert len(expected) == len(index) > 100
    for kf_id, jpeg in expected.items():
        assert index.thumbnail(kf_id) == jpeg
    with pytest.raises(KeyError):
        index.thumbnail(12345)


def test_an_index_without_sidecars_scans_as_before(shared_index, tmp_path):
    idx = tmp_path / "old"
    shutil.copytree(shared_index, idx)
    man = read_manifest(idx)
    for rel in man.files.pop("thumbs"):
        (idx / rel).unlink()
        man.checksums.pop(rel)
    write_manifest(idx, man)
    kf = pq.read_table(idx / man.files["keyframes"][0], columns=["kf_id", "thumb"]).slice(0, 1).to_pylist()[0]
    assert Index.open(idx, device="cpu").thumbnail(kf["kf_id"]) == kf["thumb"]
