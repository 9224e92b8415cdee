"""Key-frame extraction speed and cut accuracy, vidseek vs PySceneDetect's ContentDetector.

    python bench/keyframes.py [--data ../shared/data]

Decodes and detects over every shared video with both tools (same files, same machine, one after the other) and
prints frames/s; then scores cut detection (precision / recall / F1) on the clips with a known answer:
PySceneDetect's published cuts for goldeneye-vfr-drop3 (and its rotated copy), none for counter.mp4, and for
testvideo.mp4 one cut inside each mid-video fade-to-black run.  Needs the bench extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vidseek.video import summarise  # noqa: E402

# ground truth: inclusive time ranges (s); a detected cut inside a range is a hit.  Times, not frame numbers:
# PySceneDetect numbers frames of variable-frame-rate files at the nominal rate, vidseek in decode order.
_NOMINAL = 1001 / 24000
_NTSC = 1001 / 30000
TRUTH = {
    # PySceneDetect's published cuts (frames 90, 210 at 23.976 fps), +-1 frame
    "pyscenedetect/goldeneye-vfr-drop3.mp4": [(89 * _NOMINAL, 91 * _NOMINAL), (209 * _NOMINAL, 211 * _NOMINAL)],
    "pyscenedetect/issue-134-rotate.mp4": [(89 * _NOMINAL, 91 * _NOMINAL), (209 * _NOMINAL, 211 * _NOMINAL)],
    "pyscenedetect/counter.mp4": [],
    # one cut inside each mid-video fade-to-black run (frames 180-215 and 355-397 at 29.97 fps)
    "pyscenedetect/testvideo.mp4": [(180 * _NTSC, 215 * _NTSC), (355 * _NTSC, 397 * _NTSC)],
}


def score(cuts: list[float], truth: list[tuple[float, float]]) -> tuple[int, int, int]:
    hit = set()
    tp = fp = 0
    for c in cuts:
        m = next((i for i, (a, b) in enumerate(truth) if a - 1e-3 <= c <= b + 1e-3 and i not in hit), None)
        if m is None:
            fp += 1
        else:
            hit.add(m)
            tp += 1
    return tp, fp, len(truth) - len(hit)


def f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run_vidseek(path: Path, threads: int = 0) -> tuple[int, list[float]]:
    s = summarise(path, threads=threads)
    return s.frames, [sh.start_time for sh in s.shots[1:]]


def run_vidseek_worker(path: Path) -> tuple[int, list[float]]:
    return run_vidseek(path, threads=1)


def run_pyscenedetect(path: Path) -> tuple[int, list[float]]:
    from scenedetect import ContentDetector, SceneManager, open_video

    video = open_video(str(path), backend="pyav")
    sm = SceneManager()
    sm.add_detector(ContentDetector())
    sm.detect_scenes(video, show_progress=False)
    scenes = sm.get_scene_list()
    return video.frame_number, [s[0].get_seconds() for s in scenes[1:]]


def run_all(name, files, videos_dir):
    cuts, total_frames = {}, 0
    t0 = time.perf_counter()
    if name == "vidseek, 2 processes":
        from vidseek.parallel import map_files

        for p, (n, c), err in map_files(run_vidseek_worker, files, 2):
            assert err is None, err
            total_frames += n
            cuts[str(p.relative_to(videos_dir))] = c
    else:
        fn = run_vidseek if name.startswith("vidseek") else run_pyscenedetect
        for p in files:
            n, c = fn(p)
            total_frames += n
            cuts[str(p.relative_to(videos_dir))] = c
    return total_frames, time.perf_counter() - t0, cuts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    videos_dir = Path(args.data) / "videos"
    files = sorted(p for p in videos_dir.rglob("*") if p.suffix in {".mp4", ".avi", ".mkv", ".webm"})
    import scenedetect

    print(f"{len(files)} videos from {videos_dir}; scenedetect {scenedetect.__version__} (PyAV backend)")
    results = {}
    for name in ("vidseek, 1 process", "vidseek, 2 processes", "pyscenedetect"):
        results[name] = run_all(name, files, videos_dir)
    decoded = results["vidseek, 1 process"][0]  # frames the files really hold (PyAV decode count)
    print(f"frames/s = {decoded} decoded frames / wall seconds, the same count for every tool "
          f"(PySceneDetect itself counts {results['pyscenedetect'][0]}: nominal-rate positions for VFR files)")
    print(f"{'tool':<22}{'seconds':>9}{'frames/s':>10}{'P':>7}{'R':>7}{'F1':>7}")
    for name, (frames, dt, cuts) in results.items():
        tp = fp = fn = 0
        for clip, truth in TRUTH.items():
            a, b, c = score(cuts[clip], truth)
            tp, fp, fn = tp + a, fp + b, fn + c
        p, r, f = f1(tp, fp, fn)
        print(f"{name:<22}{dt:>9.2f}{decoded / dt:>10.0f}{p:>7.2f}{r:>7.2f}{f:>7.2f}")
    for name in ("vidseek, 1 process", "vidseek, 2 processes"):
        print(f"speed-up {name} / pyscenedetect: {results['pyscenedetect'][1] / results[name][1]:.2f}x")
    print("cut times (s) per clip with a known answer (vidseek | pyscenedetect):")
    for clip in TRUTH:
        ours = [round(t, 3) for t in results["vidseek, 1 process"][2][clip]]
        theirs = [round(t, 3) for t in results["pyscenedetect"][2][clip]]
        print(f"  {clip}: {ours} | {theirs}")


if __name__ == "__main__":
    main()
