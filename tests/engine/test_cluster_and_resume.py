"""The same build on a real Spark standalone cluster (two worker JVMs on loopback), and after kill -9."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from media import assert_same_index, run_cli
from vidseek.store.layout import file_sha256, read_manifest


@pytest.fixture()
def standalone_cluster(tmp_path):
    from vidseek.engine.standalone import loopback_cluster

    with loopback_cluster(tmp_path / "cluster", workers=2, cores=1) as url:
        yield url


@pytest.mark.slow
def test_standalone_cluster_build_equals_local_build(standalone_cluster, small_inputs, local_index, tmp_path):
    idx = tmp_path / "cluster-idx"
    r = run_cli("build", small_inputs, "--index", idx, "--master", standalone_cluster, timeout=900)
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


@pytest.mark.slow
def test_kill_9_during_extraction_keeps_old_index_and_resumes(small_inputs, local_index, tmp_path):
    idx = tmp_path / "idx"
    shutil.copytree(local_index[0], idx, ignore=shutil.ignore_patterns(".staging"))
    manifest_before = (idx / "manifest.json").read_bytes()
    args = [sys.executable, "-m", "vidseek", "build", str(small_inputs), "--index", str(idx), "--master", "local[2]",
            "--chunk-files", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    extract = idx / ".staging" / "extract"
    assert wait_for(lambda: len(list(extract.glob("*/_SUCCESS"))) >= 2, 300), proc.stderr.read().decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # the previous index is untouched and complete
    assert (idx / "manifest.json").read_bytes() == manifest_before
    man = read_manifest(idx)
    for rel, digest in man.checksums.items():
        assert file_sha256(idx / rel) == digest, rel
    r = run_cli("build", small_inputs, "--index", idx, "--master", "local[2]", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resume: " in r.stderr and "already extracted" in r.stderr
    assert read_manifest(idx).generation == 2
    assert_same_index(idx, local_index[0])


@pytest.mark.slow
def test_build_is_bit_identical_under_other_chunking_executors_and_threads(small_inputs, local_index, tmp_path):
    """The reference index is built on local[2] with default chunking and all cores for BLAS and torch on the
    driver; this one on local[1], one file per extraction chunk, one partition, single-threaded BLAS and torch,
    so Spark hands the rows to the whitening and encoding tasks in other batches."""
    idx = tmp_path / "idx"
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    r = run_cli("build", small_inputs, "--index", idx, "--master", "local[1]", "--chunk-files", "1",
                "--partitions", "1", timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert_same_index(idx, local_index[0])
