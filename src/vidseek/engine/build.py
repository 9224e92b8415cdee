"""The index build as Spark jobs: extraction, model fit (PWA parts, whitening, distributed PQ), encoding.

Stages (``vidseek build``):
0. parts    PWA part channels, fitted on frames sampled by seeking in a few files spread over the input
1. extract  videos -> key frames -> CNN -> PWA vectors, one Spark task per partition of the file list,
            written in chunks to IDX/.staging/extract/ (a re-run skips the chunks already written)
2. whiten   PCA-whitening fitted on a sample of PWA vectors (driver, streamed from disk), applied by Spark
3. pq       one k-means per sub-space, in parallel Spark tasks, on a sample of whitened vectors
   (ivf)    an inverted-file index (``--ivf``, automatic for big collections) also trains its coarse k-means in a task
4. encode   every partition encoded to m-byte codes by Spark (range-partitioned by inverted list); key frames beside
5. commit   model, datasets and finally the manifest (atomic rename) of a new generation

``vidseek add`` runs 1, 2 (apply only) and 4 with the model of the current index.
Nothing here relies on driver-only state: executors get the models by path and write their own output.
The index format itself (schemas, manifest, commits, remove/compact) belongs to :mod:`vidseek.store`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from functools import partial
from pathlib import Path

import pyarrow as pa

from .. import __version__
from ..errors import StoreError, VidseekError
from ..inputs import discover
from ..storage import canonical, is_uri
from ..store.remote import writable_index
from ..atomic import crash_point
from ..store.commit import collect_garbage, commit, write_videos_table
from ..store.codes import VECTORS
from ..store.layout import (DATASETS, MANIFEST, IndexLock, Manifest, generation_files, parquet_files, read_manifest,
                             readded_video_ids)
from ..store.model_files import IVF_FILE, PQ_FILE, load_model, save_ivf, save_model, save_pq
from ..store.reader import indexed_paths
from ..store.thumbs import THUMBS, write_thumbs_for
from ..store.schemas import KEYFRAMES_COLUMNS, WHITENED_SCHEMA, spark_schema
from . import tasks
from .encode import encode_whitened
from .config import BuildConfig, BuildReport, fingerprint, task_params
from .extract import extracted, run_extraction
from ..quantize.ivf import IVF_AUTO_MIN
from .fit import embed_reference, fit_parts, fit_whitening, train_ivf, train_pq, write_sample
from .session import job_progress, spark_session

log = logging.getLogger(__name__)

STAGING = ".staging"
_LEFTOVERS = {STAGING, ".lock"}  # what an interrupted first build leaves in an index folder


def _prepare_staging(index: Path, cfg: BuildConfig) -> Path:
    staging = index / STAGING
    fp = fingerprint(cfg)
    stamp = staging / "fingerprint"
    if staging.exists() and (not stamp.exists() or stamp.read_text() != fp):
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fp)
    return staging


def _next_generation(index: Path) -> tuple[Manifest | None, int]:
    try:
        old = read_manifest(index)
    except StoreError:
        if (index / MANIFEST).exists():
            raise
        return None, 1
    return old, old.generation + 1


def _check_target(index: Path) -> bool:
    """Refuse a folder that holds something other than an index; returns whether the folder is new."""
    if not index.exists():
        return True
    if not index.is_dir():
        raise StoreError(index, "exists and is not a folder; choose a new or empty folder for the index")
    names = {p.name for p in index.iterdir()}
    if names and MANIFEST not in names and not names <= _LEFTOVERS:
        raise StoreError(index, "folder exists and is not a vidseek index (it holds other files); "
                                "choose a new or empty folder for the index")
    return not names


def _whiten(spark, ok_df, cfg: BuildConfig, model_dir: Path, whitened_dir: Path) -> None:
    params = task_params(cfg, model_dir)
    with job_progress(spark, "whiten", quiet=cfg.quiet):
        (ok_df.select("kf_id", "video_id", "frame", "time", "pwa").mapInArrow(tasks.whiten_partition(params), spark_schema(WHITENED_SCHEMA))
         .write.mode("overwrite").parquet(str(whitened_dir)))


def _write_outputs(spark, files_df, ok_df, whitened_dir: Path, index: Path, gen: int, cfg: BuildConfig,
                   model_dir: Path) -> pa.Table:
    """Encode (Spark) and write codes, vectors, key frames and videos of generation ``gen``; returns the videos.

    In an inverted-file index (the model has a coarse quantiser) every row gets its list first, and the rows are
    range-partitioned by list, so each codes part holds one range of lists, sorted (:mod:`vidseek.store.codes`).
    """
    from pyspark.sql import functions as F

    for d in DATASETS:
        shutil.rmtree(index / d / f"gen={gen}", ignore_errors=True)
    params = task_params(cfg, model_dir, pq_path=str(model_dir / PQ_FILE), ivf_path=str(model_dir / IVF_FILE),
                         out_dir=str(index / "codes" / f"gen={gen}"), vectors_dir=str(index / VECTORS / f"gen={gen}"))
    encode_whitened(spark, whitened_dir, params, (model_dir / IVF_FILE).exists(), cfg.quiet)
    with job_progress(spark, "write key frames", quiet=cfg.quiet):
        ok_df.select(*KEYFRAMES_COLUMNS).write.mode("overwrite").parquet(str(index / "keyframes" / f"gen={gen}"))
        _write_thumbs(spark, index, gen)
    counts = ok_df.groupBy("video_id").agg(F.count("kf_id").alias("keyframes"))
    videos = (files_df.select("video_id", "path", "kind", "status", "error", "duration", "frames")
              .join(counts, "video_id", "left").fillna(0, subset=["keyframes"])).toArrow().sort_by("path")
    write_videos_table(videos, index, gen)
    return videos


def _renumber_videos(df, ids: dict[int, int]):
    from pyspark.sql import functions as F

    col = F.col("video_id")
    for own, fresh in ids.items():
        col = F.when(F.col("video_id") == F.lit(own), F.lit(fresh)).otherwise(col)
    return df.withColumn("video_id", col.cast("long"))


def _write_thumbs(spark, index: Path, gen: int) -> None:
    """One task per key-frames part writes the part's thumbnails sidecar (store.thumbs): tasks read their own part."""
    parts = [str(index / rel) for rel in parquet_files(index, f"keyframes/gen={gen}")]
    if parts:
        out = str(index / THUMBS / f"gen={gen}")
        spark.sparkContext.parallelize(parts, len(parts)).foreach(partial(write_thumbs_for, thumbs_dir=out))


def _no_file_indexed(files_df) -> VidseekError:
    failures = files_df.filter("status != 'ok'").select("path", "error").limit(5).toArrow().to_pylist()
    return VidseekError(None, "no file could be indexed: " + "; ".join(f"{r['path']}: {r['error']}" for r in failures))


def build_index(inputs: list[str], index: str | os.PathLike, cfg: BuildConfig = BuildConfig()) -> BuildReport:
    """Build (or rebuild) the index at ``index`` (a folder or an ``s3://`` URI) from videos, images and folders."""
    if is_uri(str(index)):
        with writable_index(index, new=True) as local:
            return build_index(inputs, local, cfg)
    index = Path(index).absolute()
    report = BuildReport()
    found = discover(inputs, images=True)
    report.skipped = list(found.problems)
    files = [str(p) for p in found.files]
    report.files = len(files)
    if not files:
        causes = "; ".join(f"{p}: {c}" for p, c in found.problems[:5])
        raise VidseekError(None, "no video or image files found" + (f" ({causes})" if causes else " in the given paths"))
    new_folder = _check_target(index)
    index.mkdir(parents=True, exist_ok=True)
    try:
        with IndexLock(index):
            man, videos = _build_locked(index, files, cfg, report)
    except VidseekError:
        if new_folder and not (index / MANIFEST).exists():
            shutil.rmtree(index, ignore_errors=True)  # nothing was indexed: leave no empty index behind
        raise
    _fill_report(report, videos, man)
    return report


def _build_locked(index: Path, files: list[str], cfg: BuildConfig, report: BuildReport) -> tuple[Manifest, pa.Table]:
    old, gen = _next_generation(index)
    staging = _prepare_staging(index, cfg)
    t0 = time.perf_counter()
    spark = spark_session(cfg.spark)
    report.stages["spark start"] = time.perf_counter() - t0

    t = time.perf_counter()
    parts_dir = staging / "model"
    if (parts_dir / "features.json").exists():
        model = load_model(parts_dir, weights=cfg.features.weights, device=cfg.features.device)
    else:
        log.info("stage 0/4: choosing %d PWA part channels on frames sampled from up to %d file(s)",
                 cfg.features.pwa.n_parts, cfg.parts_videos)
        model = fit_parts(spark, files, cfg, parts_dir)
    report.stages["parts"] = time.perf_counter() - t

    t = time.perf_counter()
    log.info("stage 1/4: extracting key frames and PWA features of %d file(s) (CNN on %s)", len(files),
             json.loads(task_params(cfg, parts_dir))["device"])
    run_extraction(spark, files, cfg, staging, parts_dir)
    files_df, ok_df = extracted(spark, staging, files)
    report.stages["extract"] = time.perf_counter() - t
    n_ok_rows = ok_df.count()
    if n_ok_rows == 0:
        raise _no_file_indexed(files_df)

    t = time.perf_counter()
    log.info("stage 2/4: fitting %s on %d of %d key frames", "learned whitening" if cfg.learn_whitening else
             "PCA-whitening", min(n_ok_rows, cfg.whiten_sample), n_ok_rows)
    model, m = fit_whitening(spark, ok_df, model, cfg, cfg.pq.m, staging, parts_dir)
    wmodel_dir = staging / "model-whitened"
    save_model(model, wmodel_dir)
    embed_reference(model, cfg.reference, wmodel_dir)
    whitened_dir = staging / "whitened"
    _whiten(spark, ok_df, cfg, wmodel_dir, whitened_dir)
    report.stages["whiten"] = time.perf_counter() - t

    crash_point("whiten")
    t = time.perf_counter()
    log.info("stage 3/4: training PQ, %d sub-spaces x %d centroids, on %d vectors", m, 1 << cfg.pq.nbits,
             min(n_ok_rows, cfg.sample))
    sample = write_sample(spark, whitened_dir, staging, cfg, n_ok_rows)
    if cfg.ivf.nlist and not cfg.ivf.enabled(n_ok_rows):
        log.warning("note: --nlist %d not used: a flat index (%d key frames; --ivf auto builds an inverted file from "
                    "%d on, --ivf on always)", cfg.ivf.nlist, n_ok_rows, IVF_AUTO_MIN)
    if cfg.ivf.enabled(n_ok_rows):  # the lists first: the codebooks are trained on the residuals from them
        nlist = cfg.ivf.lists_for(n_ok_rows)
        log.info("inverted file: %d lists (coarse k-means on %d vectors); PQ of the residuals", nlist,
                 min(n_ok_rows, cfg.sample))
        coarse, sample = train_ivf(spark, sample, model.dim, cfg, nlist)
        save_ivf(coarse, wmodel_dir / IVF_FILE)
    pq = train_pq(spark, sample, model.dim, cfg, m)
    save_pq(pq, wmodel_dir / PQ_FILE)
    report.stages["pq train"] = time.perf_counter() - t
    crash_point("pq")

    t = time.perf_counter()
    log.info("stage 4/4: encoding and writing the index")
    model_rel = f"model/gen={gen}"
    shutil.rmtree(index / model_rel, ignore_errors=True)
    shutil.copytree(wmodel_dir, index / model_rel)
    videos = _write_outputs(spark, files_df, ok_df, whitened_dir, index, gen, cfg, index / model_rel)
    report.stages["encode"] = time.perf_counter() - t
    crash_point("encode")

    new_files = generation_files(index, gen)
    nlist = cfg.ivf.lists_for(n_ok_rows) if cfg.ivf.enabled(n_ok_rows) else 0
    params = {"backbone": model.backbone.describe(), "dim": model.dim, "pq_m": m, "pq_nbits": cfg.pq.nbits, "nlist": nlist,
              "sample": cfg.sample, "master": cfg.spark.resolved_master, "vidseek": __version__}
    man = commit(index, old, gen, model_rel, new_files, keep_old=False, params=params, removed=[])
    collect_garbage(index, man)
    if not cfg.keep_staging:
        shutil.rmtree(staging, ignore_errors=True)
    return man, videos


def _fill_report(report: BuildReport, videos: pa.Table, man: Manifest) -> None:
    for row in videos.to_pylist():
        if row["status"] == "ok":
            report.ok += 1
            if row["error"]:
                report.warnings.append((row["path"], row["error"]))
        else:
            report.failed.append((row["path"], row["error"]))
    report.keyframes = man.counts.get("keyframes", 0)
    report.bytes_on_disk = man.counts.get("bytes", 0)
    report.generation = man.generation


def add_to_index(inputs: list[str], index: str | os.PathLike, cfg: BuildConfig = BuildConfig()) -> BuildReport:
    """Index more files with the existing model (no re-training) as a new generation.

    Files the index holds already are listed in ``report.already_indexed`` and not processed again.
    """
    if is_uri(str(index)):
        with writable_index(index) as local:
            return add_to_index(inputs, local, cfg)
    index = Path(index).absolute()
    report = BuildReport()
    with IndexLock(index):
        old = read_manifest(index)
        gen = old.generation + 1
        model_dir = index / old.model_dir
        known = {canonical(p) for p in indexed_paths(index, old)}
        found = discover(inputs, images=True)
        report.skipped = list(found.problems)
        files = []
        for p in map(str, found.files):
            (report.already_indexed if canonical(p) in known else files).append(p)
        report.files = len(files)
        if not files:
            report.generation = old.generation
            return report
        model = load_model(model_dir, weights=cfg.features.weights, device=cfg.features.device)
        cfg = BuildConfig(**{**cfg.__dict__, "features": model.config})
        staging = _prepare_staging(index, cfg)
        spark = spark_session(cfg.spark)
        log.info("adding %d file(s) with the index's model", len(files))
        run_extraction(spark, files, cfg, staging, model_dir)
        files_df, ok_df = extracted(spark, staging, files)
        fresh = readded_video_ids(files, old.removed)
        if fresh:  # removed, not yet compacted, added again: new rows under a fresh id
            files_df, ok_df = _renumber_videos(files_df, fresh), _renumber_videos(ok_df, fresh)
        whitened_dir = staging / "whitened"
        _whiten(spark, ok_df, cfg, model_dir, whitened_dir)
        videos = _write_outputs(spark, files_df, ok_df, whitened_dir, index, gen, cfg, model_dir)
        new_files = generation_files(index, gen)
        man = commit(index, old, gen, old.model_dir, new_files, keep_old=True, params=old.params,
                     removed=list(old.removed))
        if not cfg.keep_staging:
            shutil.rmtree(staging, ignore_errors=True)
    _fill_report(report, videos, man)
    return report
