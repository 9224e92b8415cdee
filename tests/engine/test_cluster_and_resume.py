"""The same build on a real Spark standalone cluster (two worker JVMs on loopback), and after kill -9."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from media import IMAGES, assert_same_index, run_cli
from vidseek.store.layout import file_sha256, read_manifest

QUERY = IMAGES / "skimage/chelsea.png"


@pytest.fixture()
def standalone_cluster(tmp_path):
    from vidseek.engine.standalone import loopback_cluster

    with loopback_cluster(tmp_path / "cluster", workers=2, cores=1) as url:
        yield url


@pytest.mark.slow
def test_a_standalone_cluster_with_other_chunking_and_threads_builds_the_same_index(standalone_cluster, small_inputs,
                                                                                  local_index, tmp_path):
    """The reference index is built on local[2] with default chunking and all cores for BLAS and torch on the
    driver; this one on two worker JVMs of one core each, one file per extraction chunk, one partition,
    single-threaded BLAS and torch on the driver, so Spark hands the rows to the whitening and encoding tasks in
    other batches on other executors: bit for bit the same index."""
    idx = tmp_path / "cluster-idx"
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    r = run_cli("build", small_inputs, "--index", idx, "--master", standalone_cluster, "--chunk-files", "1",
                "--partitions", "1", timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert read_manifest(idx).params["master"] == standalone_cluster
    assert_same_index(idx, local_index[0])


def wait_for(pred, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False


def assert_untouched(idx, manifest_before: bytes, answer_before: list, when: str) -> None:
    """The previous index: the same manifest, every file it names intact, the same answer to a search."""
    assert (idx / "manifest.json").read_bytes() == manifest_before, when
    man = read_manifest(idx)
    for rel, digest in man.checksums.items():
        assert file_sha256(idx / rel) == digest, (when, rel)
    assert answer(idx) == answer_before, when


def answer(idx) -> list:
    from vidseek.search import Index

    return [(h.video, round(h.score, 5), h.time) for h in Index.open(idx, device="cpu").search(QUERY, k=5)]


@pytest.mark.slow
def test_kill_9_and_crashes_keep_the_old_index_and_the_next_build_resumes(small_inputs, local_index, tmp_path):
    """A rebuild killed during extraction, then one that dies with every new file written but the manifest
    (whitening and PQ training write only to the staging folder, as extraction does): the old index stays whole
    and searchable each time, and the next build resumes and ends with the index a clean build makes."""
    idx = tmp_path / "idx"
    shutil.copytree(local_index[0], idx, ignore=shutil.ignore_patterns(".staging"))
    manifest_before, answer_before = (idx / "manifest.json").read_bytes(), answer(idx)
    args = [sys.executable, "-m", "vidseek", "build", str(small_inputs), "--index", str(idx), "--master", "local[2]",
            "--chunk-files", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    extract = idx / ".staging" / "extract"
    assert wait_for(lambda: len(list(extract.glob("*/_SUCCESS"))) >= 2, 300), proc.stderr.read().decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert_untouched(idx, manifest_before, answer_before, "kill -9 during extraction")

    r = run_cli("build", small_inputs, "--index", idx, "--master", "local[2]", timeout=900,
                env={"VIDSEEK_CRASH_AT": "manifest"})
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr[-2000:])
    assert "resume: " in r.stderr and "already extracted" in r.stderr
    assert_untouched(idx, manifest_before, answer_before, "crash before the manifest")

    r = run_cli("build", small_inputs, "--index", idx, "--master", "local[2]", "-q", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert read_manifest(idx).generation == 2
    assert_same_index(idx, local_index[0])
    assert not (idx / ".staging").exists()
