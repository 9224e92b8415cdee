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
    from .video.export import export_video

    video, target, config, threads = job
    return export_video(video, target, config, threads=threads)


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
# build / add / remove / compact / info
# --------------------------------------------------------------------------------------------
def _add_spark_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Spark")
    g.add_argument("--master", metavar="URL",
                   help="Spark master: local[*] (default, or $VIDSEEK_SPARK_MASTER), local[N], spark://host:port, yarn...")
    g.add_argument("--partitions", type=int, metavar="N",
                   help="extraction partitions (default: 2 per core, at most one per file)")
    g.add_argument("--driver-memory", default="1g", metavar="SIZE",
                   help="Spark driver JVM heap (default: %(default)s; in local mode it runs the tasks' JVM side too)")
    g.add_argument("--executor-memory", metavar="SIZE", help="Spark executor memory on a cluster (default: Spark's)")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    from .features.backbones import BACKBONES, DEFAULT_BACKBONE, DEFAULT_IMAGE_SIZE

    g = p.add_argument_group("features and quantisation")
    g.add_argument("--backbone", default=DEFAULT_BACKBONE, choices=sorted(BACKBONES),
                   help="CNN: effnet-lite0 (default; weights ship with the package) or vgg16 (the method's "
                        "original; needs ImageNet weights, see --weights)")
    g.add_argument("--weights", metavar="PATH", help="backbone weights file (vgg16: a torchvision state dict)")
    g.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE, metavar="PX",
                   help="longer side of images fed to the CNN, aspect kept (default: %(default)s)")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where the CNN runs")
    g.add_argument("--dim", type=int, default=128, metavar="M",
                   help="descriptor dimension after PCA-whitening (default: %(default)s; capped by the key frames "
                        "available)")
    g.add_argument("--pq-m", type=int, default=16, metavar="M", help="PQ sub-vectors = bytes per code (default: %(default)s)")
    g.add_argument("--pq-bits", type=int, default=8, metavar="B", help="bits per sub-vector code (default: %(default)s)")
    g.add_argument("--sample", type=int, default=65536, metavar="N",
                   help="vectors the PQ codebooks are trained on (default: %(default)s)")
    g.add_argument("--whiten-sample", type=int, default=4096, metavar="N",
                   help="PWA vectors the whitening is fitted on (default: %(default)s)")
    g.add_argument("--seed", type=int, default=1234, help="k-means seed (default: %(default)s)")


def build_config_from_args(args: argparse.Namespace):
    from .engine.build import BuildConfig
    from .engine.session import SparkConfig
    from .features.model import FeatureConfig
    from .features.whitening import WhiteningConfig
    from .quantize.pq import PQConfig

    features = FeatureConfig(
        backbone=getattr(args, "backbone", "effnet-lite0"),
        weights=getattr(args, "weights", None),
        device=getattr(args, "device", "auto"),
        image_size=getattr(args, "image_size", 384),
        whitening=WhiteningConfig(dim=getattr(args, "dim", 128)),
    )
    return BuildConfig(
        keyframes=keyframe_config_from_args(args),
        features=features,
        pq=PQConfig(m=getattr(args, "pq_m", 16), nbits=getattr(args, "pq_bits", 8), seed=getattr(args, "seed", 1234)),
        sample=getattr(args, "sample", 65536),
        whiten_sample=getattr(args, "whiten_sample", 4096),
        partitions=args.partitions,
        spark=SparkConfig(master=args.master, driver_memory=args.driver_memory, executor_memory=args.executor_memory),
        keep_staging=getattr(args, "keep_staging", False),
        chunk_files=getattr(args, "chunk_files", 512),
        quiet=args.quiet,
    )


def _print_report(report, verb: str, dt: float) -> None:
    for path, cause in report.failed:
        _eprint(f"error: {path}: {cause}")
    for path, cause in report.skipped:
        _eprint(f"skipped: {path}: {cause}")
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in report.stages.items())
    _eprint(
        f"{verb}: {report.ok} file(s) indexed, {len(report.failed)} failed, {len(report.skipped)} skipped; "
        f"{report.keyframes} key frames in the index, {report.bytes_on_disk / 1e6:.1f} MB on disk, "
        f"generation {report.generation}; {dt:.1f} s" + (f" ({stages})" if stages else "")
    )


def cmd_build(args: argparse.Namespace) -> int:
    from .engine.build import build_index

    t0 = time.perf_counter()
    report = build_index(args.inputs, args.index, build_config_from_args(args))
    _print_report(report, "built", time.perf_counter() - t0)
    return _exit_code(report.ok, report.failed + report.skipped, args.strict)


def cmd_add(args: argparse.Namespace) -> int:
    from .engine.build import add_to_index

    t0 = time.perf_counter()
    report = add_to_index(args.inputs, args.index, build_config_from_args(args))
    _print_report(report, "added", time.perf_counter() - t0)
    if report.files == 0:
        return EXIT_OK if report.skipped and all(c == "already in the index" for _, c in report.skipped) else EXIT_FAILED
    return _exit_code(report.ok, report.failed + report.skipped, args.strict)


def cmd_remove(args: argparse.Namespace) -> int:
    from .engine.build import remove_from_index

    removed, missing = remove_from_index(args.videos, args.index)
    for p in removed:
        _eprint(f"removed: {p}")
    for p in missing:
        _eprint(f"error: {p}: not in the index")
    _eprint(f"{len(removed)} removed, {len(missing)} not found; run `vidseek compact {args.index}` to reclaim space")
    return EXIT_OK if removed or not missing else EXIT_FAILED


def cmd_compact(args: argparse.Namespace) -> int:
    from .engine.build import compact_index

    r = compact_index(args.index)
    _eprint(f"compacted: {r['bytes_before'] / 1e6:.2f} MB -> {r['bytes_after'] / 1e6:.2f} MB")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    import json

    from .store.info import index_info

    info = index_info(args.index)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"index       {info['path']}")
        print(f"generation  {info['generation']} (updated {info['updated']})")
        print(f"videos      {info['counts']['videos']} indexed, {info['counts']['failed']} failed at build, "
              f"{info['removed']} removed")
        print(f"key frames  {info['counts']['keyframes']}")
        print(f"size        {info['counts']['bytes'] / 1e6:.2f} MB")
        b = info["model"]["backbone"]
        print(f"backbone    {b['name']} at {b['image_size']} px, weights sha256 {b['weights_sha256'][:16]}")
        p = info["model"]["pwa"]
        print(f"PWA         N={p['n_parts']} parts, alpha={p['alpha']}, beta={p['beta']}")
        w = info["model"]["whitening"]
        print(f"whitening   {w['in_dim']} -> {w['out_dim']} dims (shrink {w['shrink']}, fitted on {w['n_train']})")
        q = info["model"]["pq"]
        print(f"PQ          m={q['m']} x {q['nbits']} bits ({q['m'] * q['nbits'] // 8} bytes per key frame), "
              f"d={q['d']}, seed {q['seed']}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# search
# --------------------------------------------------------------------------------------------
def _fmt_time(t: float) -> str:
    m, s = divmod(max(t, 0.0), 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:06.3f}" if h else f"{m:02d}:{s:06.3f}"


def cmd_search(args: argparse.Namespace) -> int:
    import json

    if args.queries_dir:
        return _cmd_search_batch(args)
    if not args.queries:
        raise VidseekError(None, "give at least one QUERY (image or clip), or --queries DIR")
    from .search import Index
    from .search.engine import hits_json

    index = Index.open(args.index, device=args.device, weights=args.weights)
    out, failed = [], 0
    for q in args.queries:
        try:
            hits = index.search(q, k=args.top, refine=args.refine, flip=not args.no_flip)
        except VidseekError as exc:
            _eprint(f"error: {exc}")
            failed += 1
            out.append({"query": str(q), "results": [], "error": exc.cause})
            continue
        out.append(hits_json(str(q), hits))
        if not args.json:
            print(f"{q}:")
            if not hits:
                print("  (no results)")
            for rank, h in enumerate(hits, 1):
                print(f"  {rank:>2}. {h.score:6.3f}  {_fmt_time(h.time)}  frame {h.frame:<7d} {h.video}")
    if args.json:
        print(json.dumps(out, indent=2))
    if failed == len(args.queries):
        return EXIT_FAILED
    return EXIT_PARTIAL if failed and args.strict else EXIT_OK


def _cmd_search_batch(args: argparse.Namespace) -> int:
    from .engine.batch_search import batch_search
    from .engine.session import SparkConfig

    if not args.spark:
        _eprint("note: --queries runs as a Spark job (add --spark to say so explicitly)")
    if not args.out:
        raise VidseekError(None, "--queries DIR needs --out RESULTS.parquet")
    n_queries, n_rows, failures = batch_search(
        args.index, args.queries_dir, args.out, k=args.top, refine=args.refine, flip=not args.no_flip,
        spark=SparkConfig(master=args.master), quiet=args.quiet)
    for path, cause in failures:
        _eprint(f"error: {path}: {cause}")
    _eprint(f"searched {n_queries} queries ({len(failures)} failed): {n_rows} result rows -> {args.out}")
    return EXIT_OK if n_queries > len(failures) else EXIT_FAILED


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve.app import ServeConfig, serve

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        _eprint(f"warning: serving on {args.host}: anyone who can reach this address can search and stream the videos")
    _eprint(f"vidseek: serving {args.index} on http://{args.host}:{args.port}/ (API docs at /docs); Ctrl+C stops")
    serve(ServeConfig(index=args.index, max_upload_mb=args.max_upload_mb, workers=args.workers, device=args.device),
          host=args.host, port=args.port)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from .store.verify import verify_index

    checked, problems = verify_index(args.index)
    for path, cause in problems:
        _eprint(f"error: {path}: {cause}")
    if problems:
        _eprint(f"verify: {len(problems)} problem(s) in {checked} file(s) of {args.index}")
        return EXIT_FAILED
    _eprint(f"verify: ok, {checked} file(s) match the checksums in the manifest")
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

    p = sub.add_parser(
        "build",
        help="build an index from videos, images and folders (Spark)",
        description="Extract key frames, compute PWA features, fit whitening and product quantisation, and encode "
        "everything, as Spark jobs (local[*] by default). Folders are searched recursively for videos and images "
        "(an image is a one-frame item at time 0). An existing index is replaced only when the new one is complete; "
        "an interrupted build resumes where it stopped when run again with the same settings.",
    )
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_DIR")
    p.add_argument("--index", required=True, metavar="IDX", help="index folder (created)")
    p.add_argument("--strict", action="store_true", help=f"exit with code {EXIT_PARTIAL} if any input failed")
    p.add_argument("--keep-staging", action="store_true", help="keep IDX/.staging (PWA vectors) after the build")
    p.add_argument("--chunk-files", type=int, default=512, metavar="N",
                   help="files per extraction job; an interrupted build redoes at most one chunk (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    _add_model_options(p)
    _add_spark_options(p)
    _add_keyframe_options(p)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "add",
        help="add videos to an index with its existing model (no re-training)",
        description="Index more files with the index's model and codebooks, as a new generation; the index stays "
        "readable throughout and switches atomically. Files already in the index are skipped.",
    )
    p.add_argument("index", metavar="IDX")
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_DIR")
    p.add_argument("--strict", action="store_true", help=f"exit with code {EXIT_PARTIAL} if any input failed")
    p.add_argument("-q", "--quiet", action="store_true")
    _add_spark_options(p)
    _add_keyframe_options(p)
    p.set_defaults(func=cmd_add, keep_staging=False)

    p = sub.add_parser("remove", help="remove videos from an index",
                       description="Removed videos never appear in results from then on; `vidseek compact` "
                                   "reclaims their space.")
    p.add_argument("index", metavar="IDX")
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("compact", help="rewrite an index without removed videos, reclaiming space")
    p.add_argument("index", metavar="IDX")
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("verify", help="check an index's files against the checksums in its manifest")
    p.add_argument("index", metavar="IDX")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("info", help="counts, model parameters and sizes of an index")
    p.add_argument("index", metavar="IDX")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "search",
        help="find where images or clips appear in the indexed videos",
        description="Each QUERY is an image (jpg/png/webp/bmp) or a video clip. Results: best first, one entry per "
        "video, with the time (seconds from the start of that video) of the best-matching key frame, or for a clip "
        "where the clip starts. Runs in this process (no Spark); --queries DIR --spark runs a batch as a Spark job.",
    )
    p.add_argument("index", metavar="IDX")
    p.add_argument("queries", nargs="*", metavar="QUERY")
    p.add_argument("-k", "--top", type=int, default=10, metavar="K", help="videos per query (default: %(default)s)")
    p.add_argument("--json", action="store_true",
                   help='stdout: one JSON array, an object per query: {"query", "results": [{"video", "score", '
                        '"time", "frame"}]}')
    p.add_argument("--refine", type=int, default=256, metavar="R",
                   help="re-rank the best R key frames by exact similarity (default: %(default)s; 0: PQ only)")
    p.add_argument("--no-flip", action="store_true", help="do not also search the mirror image of each query")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--weights", metavar="PATH", help="backbone weights, if the index's backbone needs a file")
    p.add_argument("--strict", action="store_true", help=f"exit with code {EXIT_PARTIAL} if any query failed")
    g = p.add_argument_group("batch search on Spark")
    g.add_argument("--queries", dest="queries_dir", metavar="DIR", help="folder of query images and clips")
    g.add_argument("--spark", action="store_true", help="run the batch as a Spark job")
    g.add_argument("--out", metavar="RESULTS.parquet", help="batch results (query, rank, video, score, time, frame)")
    g.add_argument("--master", metavar="URL", help="Spark master (default: local[*])")
    g.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("serve", help="HTTP API and web page to search an index",
                       description="Serve a search page at / and a JSON API (OpenAPI docs at /docs). Binds to "
                                   "127.0.0.1 unless told otherwise.")
    p.add_argument("index", metavar="IDX")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument("--max-upload-mb", type=float, default=50.0, metavar="MB",
                   help="largest query upload; larger ones get HTTP 413 (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="searches run at once (default: %(default)s)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=cmd_serve)
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
