"""Videos and the index in object storage, against a real S3-protocol server (moto) on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from media import VIDEOS, assert_same_index, run_cli, running_server
from vidseek.eval.queries import grab_frames
from vidseek.eval.s3server import loopback_s3, make_bucket
from vidseek.serve.objects import byte_range

BUCKET = "vids"
IDX = f"s3://{BUCKET}/collection/idx"
CLIP = f"s3://{BUCKET}/incoming/counter.mp4"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The server's environment (AWS_* variables) with a bucket holding one video."""
    import pyarrow.fs as pafs

    from vidseek.storage import S3Settings

    folder = tmp_path_factory.mktemp("s3")
    with loopback_s3(folder / "moto.log") as env, pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        make_bucket(env, BUCKET)
        pafs.copy_files(str(VIDEOS / "pyscenedetect/counter.mp4"), CLIP.removeprefix("s3://"),
                        source_filesystem=pafs.LocalFileSystem(), destination_filesystem=S3Settings.from_env().filesystem())
        yield env


@pytest.fixture(scope="module")
def s3_index(s3, small_inputs, tmp_path_factory):
    """The small input set built into the bucket (Spark local[2]), as `local_index` is built on local disk."""
    env = {**s3, "VIDSEEK_CACHE": str(tmp_path_factory.mktemp("cache"))}
    r = run_cli("build", small_inputs, "--index", IDX, "--master", "local[2]", "-q", env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return IDX


def objects(prefix: str) -> list[str]:
    from vidseek.storage import list_objects

    return [o.removeprefix(prefix + "/") for o in list_objects(prefix)]


def pointer() -> bytes:
    from vidseek.storage import open_object

    with open_object(f"{IDX}/LATEST") as f:
        return f.read()


@pytest.mark.slow
def test_an_index_in_the_bucket_equals_the_one_on_local_disk(s3_index, local_index, tmp_path, monkeypatch):
    from vidseek.store.remote import RemoteIndex

    names = objects(IDX)
    assert "LATEST" in names and [n for n in names if n.startswith("manifests/gen-00000001-")]
    assert not [n for n in names if n.startswith((".staging", ".lock", "manifest.json"))], names
    copy = RemoteIndex(IDX).pull(tmp_path / "copy")  # every file checked against the manifest's sha256
    assert_same_index(copy, local_index[0])
    r = run_cli("info", IDX, "--format", "json", env={"VIDSEEK_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 0 and json.loads(r.stdout)["path"] == IDX


@pytest.mark.slow
def test_a_video_in_the_bucket_is_added_searched_streamed_and_removed(s3_index, tmp_path):
    env = {"VIDSEEK_CACHE": str(tmp_path / "cache")}
    r = run_cli("add", IDX, CLIP, "--master", "local[2]", "-q", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    (_, frame), = grab_frames(VIDEOS / "pyscenedetect/counter.mp4", [2.0], max_side=320)
    Image.fromarray(frame).save(query := tmp_path / "q.jpg")

    def top(cache: str = env["VIDSEEK_CACHE"]) -> list[dict]:
        r = run_cli("search", IDX, query, "--format", "json", env={"VIDSEEK_CACHE": cache})
        assert r.returncode == 0, r.stderr[-2000:]
        return json.loads(r.stdout)[0]["results"]

    hits = top()
    assert hits[0]["video"] == CLIP  # decoded from the bucket by the Spark task, as a stream

    # served: the page's player streams the video from the bucket, with ranges
    with running_server(IDX, tmp_path / "serve.log", env=env) as base:
        videos = httpx.get(base + "/api/videos").json()["items"]
        url = base + next(v["stream_url"] for v in videos if v["path"] == CLIP)
        local = (VIDEOS / "pyscenedetect/counter.mp4").read_bytes()
        part = httpx.get(url, headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206 and part.content == local[100:1100]
        assert part.headers["content-range"] == f"bytes 100-1099/{len(local)}"
        whole = httpx.get(url)
        assert whole.status_code == 200 and whole.content == local
        assert httpx.get(url, headers={"Range": f"bytes={len(local)}-"}).status_code == 416

    # a writer killed with everything uploaded but the pointer: readers keep the old generation
    before = pointer()
    r = run_cli("remove", IDX, CLIP, env={**env, "VIDSEEK_CRASH_AT": "pointer"})
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    assert pointer() == before and ".lock" in objects(IDX)
    assert top(str(tmp_path / "fresh-cache"))[0]["video"] == CLIP
    # the next writer takes over the dead process's lock, commits, and deletes the orphan manifest
    r = run_cli("remove", IDX, CLIP, env=env)
    assert r.returncode == 0 and "took over the lock" in r.stderr, r.stderr[-2000:]
    assert CLIP not in [h["video"] for h in top()]
    names = objects(IDX)
    assert ".lock" not in names and len([n for n in names if n.startswith("manifests/")]) == 2, names

    # a lock held by a running process: refused in one line naming the lock
    from vidseek.store.remote import RemoteIndex

    remote = RemoteIndex(IDX)
    held = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": 0, "token": "x"}).encode()
    assert remote.put_if(".lock", held, None)
    r = run_cli("compact", IDX, env=env)
    assert r.returncode != 0 and f"delete {IDX}/.lock" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    remote.delete(".lock")

    # a new index under a prefix that holds other objects, and writes to an index that does not exist: refused
    r = run_cli("build", VIDEOS / "opencv/tree.avi", "--index", CLIP.rsplit("/", 1)[0], env=env)
    assert r.returncode == 1 and "holds other objects (counter.mp4)" in r.stderr, r.stderr[-2000:]
    r = run_cli("remove", f"s3://{BUCKET}/nowhere", CLIP, env=env)
    assert r.returncode == 1 and f"{BUCKET}/nowhere: not a vidseek index" in r.stderr, r.stderr[-2000:]
    assert objects(CLIP.rsplit("/", 1)[0]) == ["counter.mp4"]  # the lock taken to look is gone again

    # an object damaged in the bucket: a fresh reader refuses it, naming the object
    codes = next(n for n in objects(IDX) if n.startswith("codes/"))
    remote.upload_bytes(codes, b"not parquet")
    r = run_cli("search", IDX, query, env={"VIDSEEK_CACHE": str(tmp_path / "third-cache")})
    assert r.returncode == 1 and f"{IDX}/{codes}: checksum mismatch" in r.stderr

    # a damaged or empty pointer, and one naming a manifest that is not there: readers and writers refuse in one
    # line naming the object, and a writer leaves the pointer as it was and no lock behind
    good = pointer()
    gone = json.dumps({"manifest": "manifests/gen-99-missing.json"}).encode()
    for body, cause in ((b"{not json", "pointer is corrupt"), (b"", "pointer is corrupt"),
                        (gone, "the manifest LATEST names is missing")):
        remote.upload_bytes("LATEST", body)
        for args in (("info", IDX), ("compact", IDX)):
            r = run_cli(*args, env={**env, "VIDSEEK_CACHE": str(tmp_path / "fourth-cache")})
            assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and cause in r.stderr, r.stderr
        assert pointer() == body and ".lock" not in objects(IDX)
    remote.upload_bytes("LATEST", good)


def test_byte_ranges():
    from fastapi import HTTPException

    assert byte_range(None, 100) is None and byte_range("bytes=0-9,20-29", 100) is None
    assert byte_range("bytes=10-19", 100) == (10, 19) and byte_range("bytes=90-", 100) == (90, 99)
    assert byte_range("bytes=-5", 100) == (95, 99) and byte_range("bytes=50-500", 100) == (50, 99)
    for bad in ("bytes=100-", "bytes=20-10", "bytes=-0"):
        with pytest.raises(HTTPException):
            byte_range(bad, 100)
    assert np.all([byte_range(f"bytes={i}-{i}", 100) == (i, i) for i in range(100)])


def test_an_unreachable_service_is_one_line(tmp_path):
    from vidseek.eval.s3server import s3_env
    from vidseek.net import free_port

    env = {**s3_env(f"http://127.0.0.1:{free_port()}"), "VIDSEEK_CACHE": str(tmp_path)}
    for args in (("info", IDX), ("search", IDX, VIDEOS / "../images/skimage/chelsea.png")):
        r = run_cli(*args, env=env, timeout=120)
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stderr.startswith(f"error: {IDX}/LATEST: object storage refused"), r.stderr


def test_keyframes_and_discovery_read_the_bucket(s3, tmp_path):
    from vidseek.inputs import discover

    found = discover([f"s3://{BUCKET}/incoming/", f"s3://{BUCKET}/nothing-here"])
    assert found.files == [CLIP] and found.problems == [(f"s3://{BUCKET}/nothing-here", "no such object or prefix")]
    r = run_cli("keyframes", CLIP, "--out", tmp_path / "kf")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "kf" / "keyframes.csv").is_file() and list((tmp_path / "kf").glob("frame*.jpg"))
    r = run_cli("keyframes", f"s3://{BUCKET}/incoming/gone.mp4", "--out", tmp_path / "none")
    assert r.returncode != 0 and f"s3://{BUCKET}/incoming/gone.mp4: no such object or prefix" in r.stderr, r.stderr
    assert not (tmp_path / "none").exists()


def test_a_writer_renews_its_lock_and_a_lock_another_host_stopped_renewing_is_taken_over(s3, monkeypatch, caplog):
    from vidseek.errors import StoreError
    from vidseek.store.remote import RemoteIndex
    from vidseek.store.remote_lock import LOCK, LockKeeper, acquire_lock, release_lock

    remote = RemoteIndex(f"s3://{BUCKET}/locks/idx")
    monkeypatch.setenv("VIDSEEK_LOCK_LEASE", "1.2")
    keeper = acquire_lock(remote).start()
    first = json.loads(remote.get(LOCK)[0])
    time.sleep(3.5)  # three leases: the lock is rewritten every 0.2 s, so the service sees it fresh
    body, _, age = remote.get_aged(LOCK)
    assert age <= 1.0 and json.loads(body)["token"] == first["token"] and json.loads(body)["renewed"] > first["renewed"]
    with pytest.raises(StoreError, match="is writing this index"):  # this host, a running process that renews it
        acquire_lock(remote)
    release_lock(remote, keeper)
    assert remote.get(LOCK) is None and keeper.lost is None

    # another host's lock: refused while its lease runs, taken over once it has not been rewritten for longer
    theirs = json.dumps({"host": "elsewhere.example", "pid": 4242, "since": 0, "lease": 1, "token": "theirs"}).encode()
    their_etag = remote.put_if(LOCK, theirs, None)
    assert their_etag
    with pytest.raises(StoreError, match=r"pid 4242 on elsewhere.example.*or for its lease to run out") as refused:
        acquire_lock(remote)
    assert len(str(refused.value).splitlines()) == 1
    time.sleep(2.5)
    with caplog.at_level("WARNING"):
        keeper = acquire_lock(remote)
    assert "took over the lock" in caplog.text and "not renewed for" in caplog.text
    assert json.loads(remote.get(LOCK)[0])["token"] == keeper.token
    # the old holder, had it only stalled, finds its lock gone at its next renewal and must not publish
    stalled = LockKeeper(remote, "theirs", 1.0, 0.0, their_etag)
    stalled.renew()
    assert stalled.lost
    with pytest.raises(StoreError, match="lost the writer lock"):
        stalled.check()
    release_lock(remote, keeper)

    # this host, a running process (the pid of a dead writer, reused) that does not rewrite it: taken once stale
    ours = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": 0, "lease": 1, "token": "reused"})
    assert remote.put_if(LOCK, ours.encode(), None)
    with pytest.raises(StoreError, match="is writing this index"):
        acquire_lock(remote)
    time.sleep(2.5)
    release_lock(remote, acquire_lock(remote))

    # a lock without a lease (written by an earlier vidseek) gets the default one: a fresh one is refused
    monkeypatch.delenv("VIDSEEK_LOCK_LEASE")
    assert remote.put_if(LOCK, json.dumps({"host": "elsewhere.example", "pid": 1, "since": 0}).encode(), None)
    with pytest.raises(StoreError, match="is writing this index"):
        acquire_lock(remote)
    remote.delete(LOCK)
    monkeypatch.setenv("VIDSEEK_LOCK_LEASE", "soon")
    with pytest.raises(StoreError, match="VIDSEEK_LOCK_LEASE must be a number of seconds"):
        acquire_lock(remote)
