"""The sub-commands: each parses nothing and computes nothing itself, it calls the library and reports."""

from __future__ import annotations

import argparse
import json
import logging
import time

from ..errors import VidseekError
from ..logs import NOTICE
from .output import fmt_time, write_rows

log = logging.getLogger("vidseek.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PARTIAL = 3


def exit_code(done: int, failures: list, strict: bool) -> int:
    if done == 0:
        return EXIT_FAILED
    if failures and strict:
        return EXIT_PARTIAL
    return EXIT_OK


# -- keyframes -------------------------------------------------------------------------------------
def cmd_keyframes(args: argparse.Namespace) -> int:
    from ..progress import Progress
    from ..video.batch import summarise_videos
    from .parser import keyframe_config

    single = len(args.videos) == 1
    progress = Progress("keyframes", unit="video", quiet=args.quiet or single)
    t0 = time.perf_counter()
    count = [0]

    def on_result(video, result, error) -> None:
        count[0] += 1
        progress.update(count[0])
        if error is not None:
            log.error("%s: %s", video, error)
            return
        for cause in result.decode_errors[:1]:
            log.warning("%s: partly damaged, %d frame(s) could not be decoded (%s)", video,
                        len(result.decode_errors), cause)
        log.info("%s: %d frames, %.2f s, %d shots, %d key frames -> %s", video, result.frames, result.duration,
                 result.shots, result.keyframes, result.out)

    report = summarise_videos(args.videos, args.out, keyframe_config(args), args.jobs, on_result)
    progress.close()
    for path, cause in report.problems:  # arguments that were no media (the others were reported as they failed)
        log.error("%s: %s", path, cause)
    dt = time.perf_counter() - t0
    log.log(NOTICE, "done: %d video(s) summarised, %d failed, %d frames decoded in %.1f s (%.0f frames/s)",
                len(report.done), len(report.failed) + len(report.problems), report.frames, dt, report.frames / max(dt, 1e-9))
    return exit_code(len(report.done), report.failed + report.problems, args.strict)


# -- build / add / remove / compact ----------------------------------------------------------------
def _print_report(report, verb: str, dt: float) -> None:
    for path, cause in report.failed:
        log.error("%s: %s", path, cause)
    for path, cause in report.skipped:
        log.log(NOTICE, "skipped: %s: %s", path, cause)
    for path in report.already_indexed:
        log.log(NOTICE, "skipped: %s: already in the index", path)
    for path, note in report.warnings:
        log.warning("%s: %s", path, note)
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in report.stages.items())
    log.log(NOTICE, "%s: %d file(s) indexed, %d failed, %d skipped; %d key frames in the index, %.1f MB on disk, "
                "generation %d; %.1f s%s", verb, report.ok, len(report.failed),
                len(report.skipped) + len(report.already_indexed), report.keyframes, report.bytes_on_disk / 1e6,
                report.generation, dt, f" ({stages})" if stages else "")


def cmd_build(args: argparse.Namespace) -> int:
    from ..engine.build import build_index
    from .parser import build_config

    t0 = time.perf_counter()
    report = build_index(args.inputs, args.index, build_config(args))
    _print_report(report, "built", time.perf_counter() - t0)
    return exit_code(report.ok, report.failed + report.skipped, args.strict)


def cmd_add(args: argparse.Namespace) -> int:
    from ..engine.build import add_to_index
    from .parser import build_config

    t0 = time.perf_counter()
    report = add_to_index(args.inputs, args.index, build_config(args))
    _print_report(report, "added", time.perf_counter() - t0)
    if report.files == 0:  # nothing new: fine if everything given is indexed already
        return EXIT_OK if report.already_indexed and not report.skipped else EXIT_FAILED
    return exit_code(report.ok, report.failed + report.skipped, args.strict)


def cmd_remove(args: argparse.Namespace) -> int:
    from ..store.commit import remove_from_index

    removed, missing = remove_from_index(args.videos, args.index)
    for p in removed:
        log.info("removed: %s", p)
    for p in missing:
        log.error("%s: not in the index", p)
    log.log(NOTICE, "%d removed, %d not found; run `vidseek compact %s` to reclaim space", len(removed), len(missing),
                args.index)
    return EXIT_OK if removed or not missing else EXIT_FAILED


def cmd_compact(args: argparse.Namespace) -> int:
    from ..store.commit import compact_index

    r = compact_index(args.index)
    log.log(NOTICE, "compacted: %.2f MB -> %.2f MB", r["bytes_before"] / 1e6, r["bytes_after"] / 1e6)
    return EXIT_OK


# -- reading an index ------------------------------------------------------------------------------
def cmd_verify(args: argparse.Namespace) -> int:
    from ..store.verify import verify_index

    checked, problems = verify_index(args.index)
    for path, cause in problems:
        log.error("%s: %s", path, cause)
    if problems:
        log.log(NOTICE, "verify: %d problem(s) in %d file(s) of %s", len(problems), checked, args.index)
        return EXIT_FAILED
    log.log(NOTICE, "verify: ok, %d file(s) match the checksums in the manifest", checked)
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from ..store.info import index_info

    info = index_info(args.index)
    if args.format == "json":
        print(json.dumps(info, indent=2))
        return EXIT_OK
    c, m = info["counts"], info["model"]
    b, p, w, q = m["backbone"], m["pwa"], m["whitening"], m["pq"]
    rows = [
        ("index", info["path"]),
        ("generation", f"{info['generation']} (updated {info['updated']})"),
        ("videos", f"{c['videos']} indexed, {c['failed']} failed at build, {info['removed']} removed"),
        ("key frames", c["keyframes"]),
        ("size", f"{c['bytes'] / 1e6:.2f} MB"),
        ("backbone", f"{b['name']} at {b['image_size']} px, weights sha256 {b['weights_sha256'][:16]}"),
        ("PWA", f"N={p['n_parts']} parts, alpha={p['alpha']}, beta={p['beta']}"),
        ("whitening", f"{w['in_dim']} -> {w['out_dim']} dims (shrink {w['shrink']}, fitted on {w['n_train']})"),
        ("PQ", f"m={q['m']} x {q['nbits']} bits ({q['m'] * q['nbits'] // 8} bytes per key frame), d={q['d']}, "
               f"seed {q['seed']}"),
        ("search", _search_line(info["search"])),
    ]
    write_rows([{"field": k, "value": v} for k, v in rows], ("field", "value"), args.format)
    return EXIT_OK


def _search_line(s: dict) -> str:
    how = (f"inverted file, {s['nlist']} lists, codes of the {s['codes_of']}" if s["engine"] == "ivf"
           else "flat (every code scanned)")
    return (f"{how}; about {s['resident_bytes'] / 1e6:.1f} MB in memory when opened "
            f"({s['resident_bytes_per_keyframe']} B per key frame, vectors {s['vectors']}; model not counted)")


def cmd_videos(args: argparse.Namespace) -> int:
    from ..store.info import list_videos

    rows = list_videos(args.index)
    if not args.all:
        rows = [r for r in rows if r["status"] == "ok"]
    write_rows(rows, ("path", "status", "duration", "frames", "keyframes", "error"), args.format)
    return EXIT_OK


# -- dups ------------------------------------------------------------------------------------------
def cmd_dups(args: argparse.Namespace) -> int:
    import sys
    from dataclasses import replace

    from ..atomic import atomic_path
    from ..engine.dups import duplicates
    from ..engine.session import SparkConfig
    from ..search.dups import DupsConfig, to_rows

    cfg = replace(DupsConfig(), min_score=args.min_score, min_duration=args.min_duration,
                  transforms=args.transforms, refine=args.refine)
    if not args.check:
        cfg = replace(cfg, check_from=1.0)
    t0 = time.perf_counter()
    pairs = duplicates(args.index, cfg, spark=args.spark, spark_config=SparkConfig(master=args.master),
                       quiet=args.quiet)
    log.log(NOTICE, "%d pair(s) of videos share footage (score %s or more), found in %.1f s", len(pairs),
            args.min_score, time.perf_counter() - t0)

    def write(out) -> None:
        if args.format == "json":
            out.write(json.dumps([p.to_json() for p in pairs], indent=2) + "\n")
            return
        rows = to_rows(pairs)
        if args.format == "table":
            for r in rows:
                r.update(a_at=f"{fmt_time(r['a_start'])}-{fmt_time(r['a_end'])}",
                         b_at=f"{fmt_time(r['b_start'])}-{fmt_time(r['b_end'])}")
            write_rows(rows, ("pair_score", "score", "a_at", "b_at", "a", "b"), "table",
                       ("pair", "segment", "in a", "in b", "a", "b"), out=out)
        else:
            write_rows(rows, ("a", "b", "pair_score", "a_start", "a_end", "b_start", "b_end", "score"), "csv", out=out)

    if args.out:
        with atomic_path(args.out) as tmp, open(tmp, "w", newline="") as f:
            write(f)
    else:
        write(sys.stdout)
    return EXIT_OK


# -- search and serve ------------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace) -> int:
    if args.queries_dir:
        return _search_batch(args)
    if not args.queries:
        raise VidseekError(None, "give at least one QUERY (image or clip), or --queries DIR")
    from ..search import Index, hits_json
    from ..search.timing import TimeConfig
    from ..search.verify import VerifyConfig

    index = Index.open(args.index, device=args.device, weights=args.weights, nprobe=args.nprobe,
                       time_config=TimeConfig(hits=0 if args.keyframe_times else TimeConfig.hits),
                       verify_config=VerifyConfig(hits=0 if args.no_verify else VerifyConfig.hits))
    out, rows, failed = [], [], 0
    for q in args.queries:
        try:
            hits = index.search(q, k=args.top, refine=args.refine, flip=not args.no_flip,
                                min_score=None if args.all else args.min_score)
        except VidseekError as exc:
            log.error("%s", exc)
            failed += 1
            out.append({"query": str(q), "results": [], "error": exc.cause})
            continue
        out.append(hits_json(str(q), hits))
        if not hits and args.format == "table":
            log.log(NOTICE, "%s: no match (no video scores %s or more; --all shows the closest)", q, args.min_score)
        rows += [{"query": str(q), "rank": i, "score": round(h.score, 3), "time": fmt_time(h.time),
                  "seconds": round(h.time, 3), "frame": h.frame, "video": h.video} for i, h in enumerate(hits, 1)]
    if args.format == "json":
        print(json.dumps(out, indent=2))
    elif args.format == "csv":
        write_rows(rows, ("query", "rank", "score", "seconds", "frame", "video"), "csv")
    else:
        write_rows(rows, ("query", "rank", "score", "time", "frame", "video"), "table")
    if failed == len(args.queries):
        return EXIT_FAILED
    return EXIT_PARTIAL if failed and args.strict else EXIT_OK


def _search_batch(args: argparse.Namespace) -> int:
    from ..engine.batch_search import batch_search
    from ..engine.session import SparkConfig

    if not args.spark:
        log.log(NOTICE, "note: --queries runs as a Spark job (add --spark to say so explicitly)")
    if not args.out:
        raise VidseekError(None, "--queries DIR needs --out RESULTS.parquet")
    n_queries, n_rows, failures = batch_search(
        args.index, args.queries_dir, args.out, k=args.top, refine=args.refine, flip=not args.no_flip,
        min_score=None if args.all else args.min_score, nprobe=args.nprobe,
        spark=SparkConfig(master=args.master), quiet=args.quiet, place=not args.keyframe_times,
        verify=not args.no_verify)
    for path, cause in failures:
        log.error("%s: %s", path, cause)
    log.log(NOTICE, "searched %d queries (%d failed): %d result rows -> %s", n_queries, len(failures), n_rows, args.out)
    return EXIT_OK if n_queries > len(failures) else EXIT_FAILED


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from ..serve.app import ServeConfig, serve
    from ..serve.auth import MIN_TOKEN_CHARS, TOKEN_ENV, choose_token, is_loopback

    token = choose_token(args.host, args.token or os.environ.get(TOKEN_ENV), args.no_auth)
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        log.warning("the token has %d characters: a short token can be guessed (use %d or more, e.g. "
                    "python -c 'import secrets; print(secrets.token_urlsafe(32))')", len(token), MIN_TOKEN_CHARS)
    if token is None and not is_loopback(args.host):
        log.warning("serving on %s with no access control (--no-auth): anyone who can reach this address can "
                    "search and stream the videos", args.host)
    log.log(NOTICE, "vidseek: serving %s on http://%s:%d/ (API docs at /docs%s); Ctrl+C stops", args.index, args.host,
            args.port, ", a token is needed" if token else "")
    serve(ServeConfig(index=args.index, max_upload_mb=args.max_upload_mb, workers=args.workers, device=args.device,
                      nprobe=args.nprobe, reload_interval=args.reload_interval, token=token,
                      keyframe_times=args.keyframe_times, verify=not args.no_verify),
          host=args.host, port=args.port)
    return EXIT_OK
