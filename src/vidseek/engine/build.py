"""The index build as Spark jobs: extraction, model fit (PWA parts, whitening, distributed PQ), encoding.

Stages (``vidseek build``):
0. parts    PWA part channels, fitted on frames sampled by seeking in a few files spread over the input
1. extract  videos -> key frames -> CNN -> PWA vectors, one Spark task per partition of the file list,
            written in chunks to IDX/.staging/extract/ (a re-run skips the chunks already written)
2. whiten   PCA-whitening fitted on a sample of PWA vectors (driver, streamed from disk), applied by Spark
3. pq       one k-means per sub-space, in parallel Spark tasks, on a sample of whitened vectors
4. encode   every partition encoded to m-byte codes by Spark; key-frame metadata written beside
5. commit   model, datasets and finally the manifest (atomic rename) of a new generation

``vidseek add`` runs 1, 2 (apply only) and 4 with the model of the current index.
Nothing here relies on driver-only state: executors get the models by path and write their own output.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq_io

from .. import __version__
from ..errors import StoreError, VidseekError
from ..features.model import FeatureConfig, FeatureModel
from ..features.whitening import PCAWhitening, WhiteningConfig, array_blocks
from ..inputs import discover
from ..quantize.pq import PQConfig, ProductQuantizer
from ..store.layout import (
    DATASETS,
    IndexLock,
    Manifest,
    checksum_files,
    parquet_files,
    read_manifest,

    write_manifest,
)
from ..video import KeyframeConfig
from . import tasks
from .samples import file_blocks, write_whiten_sample
from .session import SparkConfig, default_parallelism, job_progress, spark_session

STAGING = ".staging"
STAGING_FORMAT = 2  # 2: key-frame rows streamed, then one row per file


def crash_point(name: str) -> None:
    """Fault injection for the interrupted-build tests: ``VIDSEEK_CRASH_AT=name`` kills this process here,
    as ``kill -9`` or a power cut would (no clean-up runs)."""
    if os.environ.get("VIDSEEK_CRASH_AT") == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class BuildConfig:
    keyframes: KeyframeConfig = field(default_factory=KeyframeConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    pq: PQConfig = field(default_factory=PQConfig)
    sample: int = 65536  # PQ training vectors (whitened)
    whiten_sample: int = 4096  # PWA vectors the whitening is fitted on
    parts_frames: int = 512  # key frames the PWA part channels are chosen on
    parts_videos: int = 8  # ... taken from this many videos spread over the input
    partitions: int | None = None  # extraction partitions (default: 2 per core, at most one per file)
    chunk_files: int = 512  # files per extraction job: the unit a resumed build skips
    batch_keyframes: int = 32  # key frames a task holds (images + features) before handing them to Spark
    spark: SparkConfig = field(default_factory=SparkConfig)
    keep_staging: bool = False
    quiet: bool = False


@dataclass
class BuildReport:
    files: int = 0
    ok: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    keyframes: int = 0
    bytes_on_disk: int = 0
    generation: int = 0
    stages: dict[str, float] = field(default_factory=dict)  # seconds


def _log(cfg: BuildConfig, msg: str) -> None:
    if not cfg.quiet:
        print(msg, file=sys.stderr, flush=True)


def _fingerprint(cfg: BuildConfig) -> str:
    """What the staged work depends on: a changed setting invalidates the staging folder."""
    f = cfg.features
    key = {"keyframes": asdict(cfg.keyframes), "backbone": f.backbone, "weights": f.weights,
           "image_size": f.image_size, "pwa": asdict(f.pwa), "version": __version__,
           "batch_keyframes": cfg.batch_keyframes, "parts": [cfg.parts_frames, cfg.parts_videos],
           "staging_format": STAGING_FORMAT}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _task_params(cfg: BuildConfig, model_dir: Path, **extra) -> str:
    return json.dumps({
        "model_dir": str(model_dir),
        "weights": cfg.features.weights,
        "device": cfg.features.device if cfg.features.device != "auto" else "cpu",
        "keyframes": asdict(cfg.keyframes),
        "torch_threads": 1,
        "decoder_threads": 1,
        "batch_keyframes": cfg.batch_keyframes,
        **extra,
    }, default=str)


# ------------------------------------------------------------------------------------------
# stage 0: PWA part channels
# ------------------------------------------------------------------------------------------
def _sample_files(files: list[str], cfg: BuildConfig) -> list[list[str]]:
    """Files to sample the PWA parts on: ``parts_videos`` spread over the input, then the rest in order
    (tried only if the first ones give fewer than two frames)."""
    step = max(1, len(files) // max(1, cfg.parts_videos))
    first = files[::step][: cfg.parts_videos]
    chosen = set(first)
    rest = [f for f in files if f not in chosen]
    return [first] + [rest[i : i + 4 * cfg.parts_videos] for i in range(0, len(rest), 4 * cfg.parts_videos)]


def fit_parts(spark, files: list[str], cfg: BuildConfig, folder: Path) -> FeatureModel:
    """Choose the PWA part channels on a bounded sample of frames spread over a few of the inputs.

    A Spark job: each task samples at most ``parts_frames / parts_videos`` frames of one file by seeking
    (never a full decode), runs the backbone (one thread, as every task) and returns the frames'
    sum-pooled responses; the driver collects these small vectors and picks the channels.
    """
    model = FeatureModel(FeatureConfig(**{**asdict(cfg.features), "pwa": cfg.features.pwa,
                                          "whitening": cfg.features.whitening}))
    backbone_dir = folder.parent / "backbone"
    model.save(backbone_dir)  # backbone only: what the sampling tasks load
    sums = np.zeros((0, model.backbone.channels))
    for group in _sample_files(files, cfg):
        most = max(1, min(64, cfg.parts_frames // max(1, len(group))))
        params = _task_params(cfg, backbone_dir, sample_every=cfg.keyframes.max_gap, sample_most=most)
        list_path = folder.parent / "inputs" / "parts.parquet"
        list_path.parent.mkdir(parents=True, exist_ok=True)
        pq_io.write_table(pa.table({"path": group}), list_path)
        df = spark.read.parquet(str(list_path)).repartition(min(len(group), 2 * default_parallelism(spark)))
        with job_progress(spark, f"sample {len(group)} file(s) for the PWA parts", quiet=cfg.quiet):
            rows = (df.mapInArrow(tasks.sample_partition(params), tasks.spark_schema(tasks.SAMPLE_SCHEMA))
                    .toArrow().sort_by([("path", "ascending"), ("sample", "ascending")]))
        if rows.num_rows:
            part = np.frombuffer(b"".join(rows.column("sums").to_pylist()), np.float64).reshape(rows.num_rows, -1)
            sums = np.concatenate([sums, part])[: cfg.parts_frames]
        if len(sums) >= 2:
            break
    if len(sums) < 2:
        raise VidseekError(None, "no readable video or image among the inputs: nothing to index")
    model.fit_parts(sums)
    model.save(folder)
    return model


# ------------------------------------------------------------------------------------------
# stage 1: extraction in resumable chunks
# ------------------------------------------------------------------------------------------
def _chunk_name(paths: list[str]) -> str:
    return "chunk-" + hashlib.sha256("\n".join(paths).encode()).hexdigest()[:16]


def done_chunks(extract_dir: Path) -> list[Path]:
    if not extract_dir.is_dir():
        return []
    return sorted(d for d in extract_dir.iterdir() if d.is_dir() and (d / "_SUCCESS").exists())


def extracted_paths(chunks: list[Path]) -> set[str]:
    done: set[str] = set()
    for d in chunks:
        for f in d.glob("*.parquet"):
            done.update(pq_io.read_table(f, columns=["path"]).column("path").to_pylist())
    return done


def run_extraction(spark, files: list[str], cfg: BuildConfig, staging: Path, model_dir: Path) -> None:
    extract_dir = staging / "extract"
    done = extracted_paths(done_chunks(extract_dir))
    pending = [p for p in files if p not in done]
    if done:
        _log(cfg, f"resume: {len(files) - len(pending)} file(s) already extracted, {len(pending)} to go")
    params = _task_params(cfg, model_dir)
    parallelism = default_parallelism(spark)
    for start in range(0, len(pending), cfg.chunk_files):
        chunk = pending[start : start + cfg.chunk_files]
        name = _chunk_name(chunk)
        list_path = staging / "inputs" / f"{name}.parquet"
        list_path.parent.mkdir(parents=True, exist_ok=True)
        pq_io.write_table(pa.table({"path": chunk}), list_path)
        parts = cfg.partitions or min(len(chunk), 2 * parallelism)
        df = spark.read.parquet(str(list_path)).repartition(parts)
        out = df.mapInArrow(tasks.extract_partition(params), tasks.spark_schema(tasks.EXTRACT_SCHEMA))
        with job_progress(spark, f"extract {start + len(chunk)}/{len(pending)} files", quiet=cfg.quiet):
            out.write.mode("overwrite").parquet(str(extract_dir / name))


# ------------------------------------------------------------------------------------------
# stages 2-4
# ------------------------------------------------------------------------------------------
def fit_whitening(ok_df, model: FeatureModel, cfg: BuildConfig, m: int, staging: Path) -> tuple[FeatureModel, int]:
    """Fit whitening on the PWA vectors of the ``whiten_sample`` rows with the smallest ids (deterministic),
    streamed from disk (see :mod:`vidseek.engine.samples`)."""
    path, n = write_whiten_sample(ok_df, staging, cfg.whiten_sample, model.pwa_dim)
    cap = max(1, min(cfg.features.whitening.dim, n - 1, model.pwa_dim))
    if cap >= m:
        dim = cap - cap % m
    else:
        dim, m = cap, cap  # tiny collection: one dimension per sub-vector
    wc = cfg.features.whitening
    model.config = FeatureConfig(**{**asdict(model.config), "pwa": model.config.pwa,
                                    "whitening": WhiteningConfig(dim=dim, shrink=wc.shrink, whiten=wc.whiten)})
    blocks = file_blocks(path, n, model.pwa_dim)
    if n < 2:  # one key frame: fit on it twice (PCA needs two rows)
        one = next(blocks())[0][:1]
        blocks, n = array_blocks(np.concatenate([one, one])), 2
    model.whitening = PCAWhitening(model.config.whitening).fit_blocks(blocks, n, model.pwa_dim)
    return model, m


def train_pq(spark, whitened_dir: Path, staging: Path, d: int, cfg: BuildConfig, m: int) -> ProductQuantizer:
    """Write the training sample once, then one k-means task per sub-space, in parallel."""
    sample_dir = staging / "pq_sample"
    df = spark.read.parquet(str(whitened_dir)).orderBy("kf_id").limit(cfg.sample)
    df.coalesce(1).write.mode("overwrite").parquet(str(sample_dir))
    sample_file = next(sample_dir.glob("*.parquet"))
    pqc = PQConfig(m=m, nbits=cfg.pq.nbits, niter=cfg.pq.niter, seed=cfg.pq.seed)
    params = json.dumps({"d": d, "m": m, "nbits": pqc.nbits, "niter": pqc.niter, "seed": pqc.seed,
                         "sample_path": str(sample_file)})
    rdd = spark.sparkContext.parallelize(range(m), m)
    with job_progress(spark, f"train PQ ({m} sub-spaces)", unit="sub-space", quiet=cfg.quiet):
        results = dict(rdd.map(lambda j: tasks.train_subspace(j, params)).collect())
    k = 1 << pqc.nbits
    pq = ProductQuantizer(d, pqc)
    pq.set_centroids(np.stack([np.frombuffer(results[j], np.float32).reshape(k, d // m) for j in range(m)]))
    return pq


# ------------------------------------------------------------------------------------------
# the commands
# ------------------------------------------------------------------------------------------
def _prepare_staging(index: Path, cfg: BuildConfig) -> Path:
    staging = index / STAGING
    fp = _fingerprint(cfg)
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
        if (index / "manifest.json").exists():
            raise
        return None, 1
    return old, old.generation + 1


def _write_outputs(spark, ok_df, whitened_dir: Path, index: Path, gen: int, pq_path: Path, cfg: BuildConfig,
                   model_dir: Path) -> None:
    """Encode (Spark) and write codes, key frames and videos of generation ``gen``."""
    params = _task_params(cfg, model_dir, pq_path=str(pq_path), out_dir=str(index / "codes" / f"gen={gen}"))
    with job_progress(spark, "encode", quiet=cfg.quiet):
        (spark.read.parquet(str(whitened_dir)).mapInArrow(tasks.encode_partition(params),
                                                          tasks.spark_schema(tasks.WRITTEN_SCHEMA))
         .collect())
        (ok_df.select("kf_id", "video_id", "frame", "time", "shot", "thumb")
         .write.mode("overwrite").parquet(str(index / "keyframes" / f"gen={gen}")))


def extracted(spark, staging: Path, files: list[str]):
    """(file rows, key-frame rows to index) of ``files`` from the staged extraction.

    Read from the staged Parquet each time they are used (never cached in memory: the JVM's memory must not
    grow with the collection); key frames of a file that failed part-way are left out.
    """
    df = spark.read.parquet(*[str(d) for d in done_chunks(staging / "extract")])
    if len(files) < 100_000:
        df = df.filter(df.path.isin(files))
    files_df = df.filter("kf_id IS NULL")
    ok_files = files_df.filter("status = 'ok'").select("video_id")
    ok_df = df.filter("kf_id IS NOT NULL").join(ok_files, "video_id", "left_semi")
    return files_df, ok_df


def _write_videos(files_df, ok_df, index: Path, gen: int) -> pa.Table:
    from pyspark.sql import functions as F

    counts = ok_df.groupBy("video_id").agg(F.count("kf_id").alias("keyframes"))
    videos = (files_df.select("video_id", "path", "kind", "status", "error", "duration", "frames")
              .join(counts, "video_id", "left").fillna(0, subset=["keyframes"]))
    table = videos.toArrow()
    table = table.sort_by("path")
    out = index / "videos" / f"gen={gen}"
    out.mkdir(parents=True, exist_ok=True)
    pq_io.write_table(table, out / "part-00000.parquet")
    return table


def _commit(index: Path, old: Manifest | None, gen: int, model_rel: str, new_files: dict[str, list[str]],
            keep_old: bool, params: dict, removed: list[int]) -> Manifest:
    files = {d: (list(old.files.get(d, [])) if (old and keep_old) else []) + new_files.get(d, []) for d in DATASETS}
    checksums = dict(old.checksums) if (old and keep_old) else {}
    for d in DATASETS:
        checksums.update(checksum_files(index, new_files.get(d, [])))
    for name in ("features.json", "whitening.npz", "whitening.json", "pq.npz", "pq.json"):
        rel = f"{model_rel}/{name}"
        if (index / rel).exists():
            checksums[rel] = checksums.get(rel) or checksum_files(index, [rel])[rel]
    checksums = {k: v for k, v in checksums.items() if k.startswith(model_rel) or any(k in files[d] for d in DATASETS)}
    man = Manifest(generation=gen, model_dir=model_rel, files=files, checksums=checksums,
                   removed=removed, params=params, created=old.created if old else Manifest().created)
    man.counts = _counts(index, man)
    write_manifest(index, man)
    return man


def _counts(index: Path, man: Manifest) -> dict[str, int]:
    removed = set(man.removed)
    n_kf = n_videos = n_failed = 0
    for rel in man.files["videos"]:
        t = pq_io.read_table(index / rel, columns=["video_id", "status"])
        for vid, st in zip(t.column("video_id").to_pylist(), t.column("status").to_pylist()):
            if vid in removed:
                continue
            n_videos += st == "ok"
            n_failed += st != "ok"
    for rel in man.files["codes"]:
        t = pq_io.read_table(index / rel, columns=["video_id"])
        n_kf += sum(1 for v in t.column("video_id").to_pylist() if v not in removed)
    size = sum((index / r).stat().st_size for d in DATASETS for r in man.files[d])
    size += sum((index / man.model_dir / f).stat().st_size for f in os.listdir(index / man.model_dir))
    return {"videos": n_videos, "failed": n_failed, "keyframes": n_kf, "bytes": size}


def collect_garbage(index: Path, man: Manifest, keep_previous: bool = True) -> None:
    """Delete data of generations the manifest no longer references.

    By default the previous generation is kept, so that a reader that opened the old manifest a moment
    ago can still read its files; ``vidseek compact`` (an explicit request for space) drops it too.
    """
    keep_gens = {man.generation, man.generation - 1} if keep_previous else {man.generation}
    referenced = {Path(r).parts[1] for d in DATASETS for r in man.files[d]} | {Path(man.model_dir).name}
    for folder in ("videos", "keyframes", "codes", "model"):
        root = index / folder
        if not root.is_dir():
            continue
        for g in root.iterdir():
            if not g.name.startswith("gen="):
                continue
            try:
                num = int(g.name[4:])
            except ValueError:
                continue
            if g.name not in referenced and num not in keep_gens:
                shutil.rmtree(g, ignore_errors=True)


def build_index(inputs: list[str], index: str | os.PathLike, cfg: BuildConfig = BuildConfig()) -> BuildReport:
    """Build (or rebuild) the index at ``index`` from videos, images and folders."""
    index = Path(index).absolute()
    report = BuildReport()
    found = discover(inputs, images=True)
    report.skipped = list(found.problems)
    files = [str(p) for p in found.files]
    report.files = len(files)
    if not files:
        raise VidseekError(None, "no video or image files found in the given paths")
    index.mkdir(parents=True, exist_ok=True)
    with IndexLock(index):
        old, gen = _next_generation(index)
        staging = _prepare_staging(index, cfg)
        t0 = time.perf_counter()
        spark = spark_session(cfg.spark)
        report.stages["spark start"] = time.perf_counter() - t0

        t = time.perf_counter()
        parts_dir = staging / "model"
        if (parts_dir / "features.json").exists():
            model = FeatureModel.load(parts_dir, weights=cfg.features.weights, device=cfg.features.device)
            model.whitening = None
        else:
            _log(cfg, f"stage 0/4: choosing {cfg.features.pwa.n_parts} PWA part channels on a sample of key frames")
            model = fit_parts(spark, files, cfg, parts_dir)
        report.stages["parts"] = time.perf_counter() - t

        t = time.perf_counter()
        _log(cfg, f"stage 1/4: extracting key frames and PWA features of {len(files)} file(s)")
        run_extraction(spark, files, cfg, staging, parts_dir)
        files_df, ok_df = extracted(spark, staging, files)
        report.stages["extract"] = time.perf_counter() - t
        n_ok_rows = ok_df.count()
        if n_ok_rows == 0:
            failures = files_df.filter("status != 'ok'").select("path", "error").limit(5).toArrow().to_pylist()
            raise VidseekError(None, "no file could be indexed: " + "; ".join(f"{r['path']}: {r['error']}" for r in failures))

        t = time.perf_counter()
        _log(cfg, f"stage 2/4: fitting PCA-whitening on {min(n_ok_rows, cfg.whiten_sample)} of {n_ok_rows} key frames")
        model, m = fit_whitening(ok_df, model, cfg, cfg.pq.m, staging)
        wmodel_dir = staging / "model-whitened"
        model.save(wmodel_dir)
        whitened_dir = staging / "whitened"
        with job_progress(spark, "whiten", quiet=cfg.quiet):
            (ok_df.select("kf_id", "video_id", "pwa").mapInArrow(tasks.whiten_partition(_task_params(cfg, wmodel_dir)),
                                                                 tasks.spark_schema(tasks.WHITENED_SCHEMA))
             .write.mode("overwrite").parquet(str(whitened_dir)))
        report.stages["whiten"] = time.perf_counter() - t

        crash_point("whiten")
        t = time.perf_counter()
        _log(cfg, f"stage 3/4: training PQ, {m} sub-spaces x {1 << cfg.pq.nbits} centroids, "
                  f"on {min(n_ok_rows, cfg.sample)} vectors")
        n_train = min(n_ok_rows, cfg.sample)
        if n_train < 39 << cfg.pq.nbits:
            _log(cfg, f"note: {n_train} key frames train the {1 << cfg.pq.nbits}-centroid PQ codebooks; "
                      f"{39 << cfg.pq.nbits} or more give better ones (small collections are searched exactly anyway)")
        pq = train_pq(spark, whitened_dir, staging, model.dim, cfg, m)
        pq.save(wmodel_dir / "pq.npz")
        report.stages["pq train"] = time.perf_counter() - t
        crash_point("pq")

        t = time.perf_counter()
        _log(cfg, "stage 4/4: encoding and writing the index")
        model_rel = f"model/gen={gen}"
        if (index / model_rel).exists():
            shutil.rmtree(index / model_rel)
        shutil.copytree(wmodel_dir, index / model_rel)
        for d in ("codes", "keyframes", "videos"):
            shutil.rmtree(index / d / f"gen={gen}", ignore_errors=True)
        _write_outputs(spark, ok_df, whitened_dir, index, gen, index / model_rel / "pq.npz", cfg, index / model_rel)
        videos = _write_videos(files_df, ok_df, index, gen)
        report.stages["encode"] = time.perf_counter() - t
        crash_point("encode")

        new_files = {d: parquet_files(index, f"{d}/gen={gen}") for d in DATASETS}
        params = {"backbone": model.backbone.describe(), "dim": model.dim, "pq_m": m, "pq_nbits": cfg.pq.nbits,
                  "sample": cfg.sample, "master": cfg.spark.resolved_master, "vidseek": __version__}
        man = _commit(index, old, gen, model_rel, new_files, keep_old=False, params=params, removed=[])
        collect_garbage(index, man)
        if not cfg.keep_staging:
            shutil.rmtree(staging, ignore_errors=True)
    _fill_report(report, videos, man)
    return report


def _fill_report(report: BuildReport, videos: pa.Table, man: Manifest) -> None:
    for row in videos.to_pylist():
        if row["status"] == "ok":
            report.ok += 1
        else:
            report.failed.append((row["path"], row["error"]))
    report.keyframes = man.counts.get("keyframes", 0)
    report.bytes_on_disk = man.counts.get("bytes", 0)
    report.generation = man.generation


def add_to_index(inputs: list[str], index: str | os.PathLike, cfg: BuildConfig = BuildConfig()) -> BuildReport:
    """Index more files with the existing model (no re-training) as a new generation."""
    index = Path(index).absolute()
    report = BuildReport()
    with IndexLock(index):
        old = read_manifest(index)
        gen = old.generation + 1
        model_dir = index / old.model_dir
        known = {os.path.realpath(p) for p in _indexed_paths(index, old)}
        found = discover(inputs, images=True)
        report.skipped = list(found.problems)
        files = []
        for p in map(str, found.files):
            if os.path.realpath(p) in known:
                report.skipped.append((p, "already in the index"))
            else:
                files.append(p)
        report.files = len(files)
        if not files:
            report.generation = old.generation
            return report
        model = FeatureModel.load(model_dir, weights=cfg.features.weights, device=cfg.features.device)
        cfg = BuildConfig(**{**cfg.__dict__, "features": model.config})
        staging = _prepare_staging(index, cfg)
        spark = spark_session(cfg.spark)
        _log(cfg, f"adding {len(files)} file(s) with the index's model")
        run_extraction(spark, files, cfg, staging, model_dir)
        files_df, ok_df = extracted(spark, staging, files)
        whitened_dir = staging / "whitened"
        with job_progress(spark, "whiten", quiet=cfg.quiet):
            (ok_df.select("kf_id", "video_id", "pwa").mapInArrow(tasks.whiten_partition(_task_params(cfg, model_dir)),
                                                                 tasks.spark_schema(tasks.WHITENED_SCHEMA))
             .write.mode("overwrite").parquet(str(whitened_dir)))
        for d in ("codes", "keyframes", "videos"):
            shutil.rmtree(index / d / f"gen={gen}", ignore_errors=True)
        _write_outputs(spark, ok_df, whitened_dir, index, gen, model_dir / "pq.npz", cfg, model_dir)
        videos = _write_videos(files_df, ok_df, index, gen)
        new_files = {d: parquet_files(index, f"{d}/gen={gen}") for d in DATASETS}
        man = _commit(index, old, gen, old.model_dir, new_files, keep_old=True, params=old.params,
                      removed=list(old.removed))
        if not cfg.keep_staging:
            shutil.rmtree(staging, ignore_errors=True)
    _fill_report(report, videos, man)
    return report


def _indexed_paths(index: Path, man: Manifest) -> dict[str, int]:
    removed = set(man.removed)
    out = {}
    for rel in man.files["videos"]:
        t = pq_io.read_table(index / rel, columns=["video_id", "path"])
        for vid, p in zip(t.column("video_id").to_pylist(), t.column("path").to_pylist()):
            if vid not in removed:
                out[p] = vid
    return out


def remove_from_index(paths: list[str], index: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Mark videos as removed (they never appear in results); returns (removed, not found)."""
    index = Path(index).absolute()
    with IndexLock(index):
        man = read_manifest(index)
        known = {}
        for path, vid in _indexed_paths(index, man).items():
            known[path] = vid
            known.setdefault(os.path.realpath(path), vid)
        removed, missing = [], []
        ids = set(man.removed)
        for p in paths:
            ap = str(Path(p).absolute())
            vid = known.get(ap, known.get(os.path.realpath(ap)))
            if vid is not None:
                ids.add(vid)
                removed.append(ap)
            else:
                missing.append(p)
        if removed:
            man.removed = sorted(ids)
            man.generation += 1
            man.counts = _counts(index, man)
            write_manifest(index, man)
    return removed, missing


def compact_index(index: str | os.PathLike) -> dict[str, int]:
    """Rewrite the datasets without removed videos into one new generation; reclaim their space."""
    index = Path(index).absolute()
    with IndexLock(index):
        man = read_manifest(index)
        before = man.counts.get("bytes", 0)
        gen = man.generation + 1
        removed = set(man.removed)
        new_files: dict[str, list[str]] = {}
        for d in DATASETS:
            tables = [pq_io.read_table(index / r) for r in man.files[d]]
            out = index / d / f"gen={gen}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            if tables:
                t = pa.concat_tables(tables, promote_options="default")
                keep = pa.array([v not in removed for v in t.column("video_id").to_pylist()])
                pq_io.write_table(t.filter(keep), out / "part-00000.parquet", compression="zstd")
            new_files[d] = parquet_files(index, f"{d}/gen={gen}")
        man = _commit(index, None, gen, man.model_dir, new_files, keep_old=False, params=man.params, removed=[])
        collect_garbage(index, man, keep_previous=False)
    return {"bytes_before": before, "bytes_after": man.counts["bytes"]}
