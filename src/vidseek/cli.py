"""The ``vidseek`` command line: one program, one sub-command per job.

Exit codes: 0 success; 1 nothing could be done (bad arguments, every input failed, a missing
index...); 3 with ``--strict``, when some inputs failed and the rest succeeded.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from . import __version__
from .errors import VidseekError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PARTIAL = 3


def _eprint(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def _progress(total: int, desc: str, unit: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=quiet or None, file=sys.stderr, dynamic_ncols=True)


# --------------------------------------------------------------------------------------------
# keyframes
# --------------------------------------------------------------------------------------------
def _add_keyframe_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("video summary")
    g.add_argument("--max-gap", type=float, default=2.0, metavar="S",
                   help="longest time between two key frames inside one shot, seconds (default: %(default)s)")
    g.add_argument("--threshold", type=float, default=3.0, metavar="R",
                   help="adaptive cut threshold: a frame's content change over its neighbours' mean "
                        "(default: %(default)s; lower finds more cuts)")
    g.add_argument("--min-content", type=float, default=15.0, metavar="V",
                   help="smallest HSV content change (0-255) that can be a cut (default: %(default)s)")
    g.add_argument("--analysis-size", type=int, default=384, metavar="PX",
                   help="longer side of key-frame images, pixels (default: %(default)s)")


def keyframe_config_from_args(args: argparse.Namespace):
    from .video import DetectorConfig, KeyframeConfig

    return KeyframeConfig(
        detector=DetectorConfig(adaptive_threshold=args.threshold, min_content=args.min_content),
        max_gap=args.max_gap,
        analysis_size=args.analysis_size,
    )


def _safe_name(path: Path, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", path.name) or "video"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def _keyframes_job(job: tuple) -> tuple[int, float, int, int]:
    """Worker: summarise one video and write its folder; returns (frames, duration, shots, key frames)."""
    from .video import summarise
    from .video.export import write_summary

    video, target, config, threads = job
    summary = summarise(video, config, threads=threads)
    write_summary(summary, target)
    return summary.frames, summary.duration, len(summary.shots), len(summary.keyframes)


def cmd_keyframes(args: argparse.Namespace) -> int:
    from .inputs import discover
    from .parallel import default_jobs, map_files

    config = keyframe_config_from_args(args)
    found = discover(args.videos)
    failures = list(found.problems)
    for path, cause in found.problems:
        _eprint(f"error: {path}: {cause}")
    single = len(args.videos) == 1 and len(found.files) == 1 and not Path(args.videos[0]).is_dir()
    out_root = Path(args.out)
    taken: set[str] = set()
    jobs = args.jobs or default_jobs()
    threads = 1 if jobs > 1 and len(found.files) > 1 else 0
    work = [(v, out_root if single else out_root / _safe_name(v, taken), config, threads) for v in found.files]
    done = frames = 0
    t0 = time.perf_counter()
    bar = _progress(len(work), "keyframes", "video", args.quiet or single)
    for job, result, error in map_files(_keyframes_job, work, jobs):
        video, target = job[0], job[1]
        bar.update(1)
        if error is not None:
            failures.append((str(video), error))
            bar.write(f"error: {video}: {error}", file=sys.stderr)
            continue
        n, duration, n_shots, n_kf = result
        done += 1
        frames += n
        if not args.quiet:
            bar.write(f"{video}: {n} frames, {duration:.2f} s, {n_shots} shots, {n_kf} key frames -> {target}",
                      file=sys.stderr)
    bar.close()
    dt = time.perf_counter() - t0
    _eprint(
        f"done: {done} video(s) summarised, {len(failures)} failed, {frames} frames decoded "
        f"in {dt:.1f} s ({frames / max(dt, 1e-9):.0f} frames/s)"
    )
    return _exit_code(done, failures, args.strict)


def _exit_code(done: int, failures: list, strict: bool) -> int:
    if done == 0:
        return EXIT_FAILED
    if failures and strict:
        return EXIT_PARTIAL
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidseek",
        description="Content-based video retrieval: find where an image or a clip appears in a collection of "
        "videos, and at what time.",
    )
    parser.add_argument("--version", action="version", version=f"vidseek {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "keyframes",
        help="extract shots and key frames of videos into a folder",
        description="Detect shots and pick key frames. For one video, writes DIR/shots.csv "
        "(shot,start_frame,start_time,end_frame,end_time), DIR/keyframes.csv (shot,frame,time,file) and the "
        "key-frame JPEGs; for several videos or a folder, one sub-folder per video. Frame numbers are 0-based "
        "in decode order, times are seconds from the start of the video.",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO_OR_DIR", help="video files or folders (searched recursively)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--strict", action="store_true", help=f"exit with code {EXIT_PARTIAL} if any input failed")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or per-video lines")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="videos processed in parallel (default: one per CPU core)")
    _add_keyframe_options(p)
    p.set_defaults(func=cmd_keyframes)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except VidseekError as exc:
        _eprint(f"error: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _eprint("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
