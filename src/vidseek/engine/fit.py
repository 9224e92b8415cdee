"""The build's model fits: PWA part channels (stage 0), PCA-whitening (stage 2), PQ codebooks (stage 3).

Each works on a bounded, deterministic sample, so neither its memory nor its result depends on how
Spark partitions or schedules the work.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq_io

from ..errors import VidseekError
from ..features.model import FeatureConfig, FeatureModel
from ..features.whitening import PCAWhitening, WhiteningConfig, array_blocks
from ..quantize.ivf import CoarseQuantizer
from ..quantize.pq import PQConfig, ProductQuantizer
from ..features.reference import reference_pictures
from ..store.model_files import REFERENCE_FILE, save_model, save_reference
from ..store.schemas import PAIR_SCHEMA, SAMPLE_SCHEMA, spark_schema
from . import tasks
from .config import BuildConfig, task_params
from .samples import file_blocks, write_edited_sample, write_whiten_sample
from .session import default_parallelism, job_progress

log = logging.getLogger(__name__)


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
    save_model(model, backbone_dir)  # backbone only: what the sampling tasks load
    sums = np.zeros((0, model.backbone.channels))
    failures: list[tuple[str, str]] = []
    for group in _sample_files(files, cfg):
        most = max(1, min(64, cfg.parts_frames // max(1, len(group))))
        params = task_params(cfg, backbone_dir, sample_every=cfg.keyframes.max_gap, sample_most=most)
        list_path = folder.parent / "inputs" / "parts.parquet"
        list_path.parent.mkdir(parents=True, exist_ok=True)
        pq_io.write_table(pa.table({"path": group}), list_path)
        df = spark.read.parquet(str(list_path)).repartition(min(len(group), 2 * default_parallelism(spark)))
        with job_progress(spark, "sample frames", quiet=cfg.quiet):
            rows = (df.mapInArrow(tasks.sample_partition(params), spark_schema(SAMPLE_SCHEMA))
                    .toArrow().sort_by([("path", "ascending"), ("sample", "ascending")]))
        failures += [(r["path"], r["error"]) for r in rows.filter(pc.is_null(rows.column("sums"))).to_pylist()]
        rows = rows.filter(pc.is_valid(rows.column("sums")))
        if rows.num_rows:
            part = np.frombuffer(b"".join(rows.column("sums").to_pylist()), np.float64).reshape(rows.num_rows, -1)
            sums = np.concatenate([sums, part])[: cfg.parts_frames]
        if len(sums) >= 2:
            break
    if len(sums) == 0:
        raise VidseekError(None, "no file could be indexed: " + "; ".join(f"{p}: {e}" for p, e in failures[:5]))
    if len(sums) == 1:  # one still image: no variance to rank channels by; the first ones serve
        log.info("one frame only: the PWA part channels are the first %d", cfg.features.pwa.n_parts)
        sums = np.concatenate([sums, sums])
    model.fit_parts(sums)
    save_model(model, folder)
    return model


def fit_whitening(spark, ok_df, model: FeatureModel, cfg: BuildConfig, m: int, staging: Path,
                  parts_dir: Path) -> tuple[FeatureModel, int]:
    """Fit whitening on the PWA vectors of the ``whiten_sample`` rows with the smallest ids (deterministic),
    streamed from disk (see :mod:`vidseek.engine.samples`); with ``cfg.learn_whitening``, learned from them
    and edited copies of the same key frames (a Spark job: :func:`tasks.edited_partition`).  Returns the model
    and the PQ ``m`` to use (fewer sub-vectors when a tiny collection caps the dimension)."""
    path, ids = write_whiten_sample(ok_df, staging, cfg.whiten_sample, model.pwa_dim)
    n = len(ids)
    cap = max(1, min(cfg.features.whitening.dim, n - 1, model.pwa_dim))
    if cap >= m:
        dim = cap - cap % m
    else:
        dim, m = cap, cap  # tiny collection: one dimension per sub-vector
    wc = cfg.features.whitening
    model.config = FeatureConfig(**{**asdict(model.config), "pwa": model.config.pwa,
                                    "whitening": WhiteningConfig(dim=dim, shrink=wc.shrink, whiten=wc.whiten,
                                                                 pair_ridge=wc.pair_ridge)})
    blocks = file_blocks(path, n, model.pwa_dim)
    pairs = None
    if n < 2:  # one key frame: fit on it twice (PCA needs two rows)
        one = next(blocks())[0][:1]
        blocks, n = array_blocks(np.concatenate([one, one])), 2
    elif cfg.learn_whitening and wc.whiten:
        copies = max(1, min(cfg.edit_copies, cfg.edit_pairs // n))
        with job_progress(spark, f"{copies} edited copies of {n} key frames", quiet=cfg.quiet):
            epath = write_edited_sample(ok_df, ids, tasks.edited_partition(task_params(cfg, parts_dir,
                                                                                      edit_copies=copies)),
                                        spark_schema(PAIR_SCHEMA), staging, model.pwa_dim * copies)
        pairs = file_blocks(epath, n, model.pwa_dim * copies)
    model.whitening = PCAWhitening(model.config.whitening).fit_blocks(blocks, n, model.pwa_dim, pairs=pairs)
    return model, m


SAMPLE_DIR = "pq_sample"
RESIDUAL_DIR = "pq_sample_residuals"


def embed_reference(model: FeatureModel, n: int, folder: Path) -> None:
    """Descriptors of ``n`` synthetic reference pictures (:mod:`vidseek.features.reference`) with the fitted
    model, beside it: the search calibrates its scores on them too.  On the driver: a few seconds."""
    if n <= 0:
        return
    t0 = time.perf_counter()
    save_reference(model.embed(reference_pictures(n)), folder / REFERENCE_FILE)
    log.info("reference pictures: %d embedded in %.1f s", n, time.perf_counter() - t0)


def write_sample(spark, whitened_dir: Path, staging: Path, cfg: BuildConfig, n: int) -> Path:
    """The training sample of the quantisers (the first ``cfg.sample`` key frames by id), one Parquet file."""
    n_train = min(n, cfg.sample)
    if n_train < 39 << cfg.pq.nbits:
        log.info("note: %d key frames train the %d-centroid PQ codebooks; %d or more give better ones "
                 "(a small collection is searched exactly anyway)", n_train, 1 << cfg.pq.nbits, 39 << cfg.pq.nbits)
    sample_dir = staging / SAMPLE_DIR
    df = spark.read.parquet(str(whitened_dir)).orderBy("kf_id").limit(cfg.sample)
    df.coalesce(1).write.mode("overwrite").parquet(str(sample_dir))
    return next(sample_dir.glob("*.parquet"))


def train_ivf(spark, sample_file: Path, d: int, cfg: BuildConfig, nlist: int) -> tuple[CoarseQuantizer, Path]:
    """The coarse quantiser of an inverted-file index (one Spark task's k-means on the training sample), and the
    sample's residuals from it, written by that task beside the sample: what the PQ codebooks are trained on."""
    residual_file = sample_file.parent.with_name(RESIDUAL_DIR) / "residuals.parquet"
    params = json.dumps({"d": d, "nlist": nlist, "niter": cfg.ivf.niter, "seed": cfg.ivf.seed,
                         "sample_path": str(sample_file), "residual_path": str(residual_file)})
    with job_progress(spark, "train inverted file", unit="task", quiet=cfg.quiet):
        raw = spark.sparkContext.parallelize([0], 1).map(lambda _: tasks.train_coarse_task(params)).collect()[0]
    return CoarseQuantizer(np.frombuffer(raw, np.float32).reshape(nlist, d), residual=True), residual_file


def train_pq(spark, sample_file: Path, d: int, cfg: BuildConfig, m: int) -> ProductQuantizer:
    """One k-means task per sub-space of the training sample (vectors, or their residuals), in parallel."""
    pqc = PQConfig(m=m, nbits=cfg.pq.nbits, niter=cfg.pq.niter, seed=cfg.pq.seed)
    params = json.dumps({"d": d, "m": m, "nbits": pqc.nbits, "niter": pqc.niter, "seed": pqc.seed,
                         "sample_path": str(sample_file)})
    rdd = spark.sparkContext.parallelize(range(m), m)
    with job_progress(spark, "train PQ", unit="sub-space", quiet=cfg.quiet):
        results = dict(rdd.map(lambda j: tasks.train_subspace(j, params)).collect())
    k = 1 << pqc.nbits
    pq = ProductQuantizer(d, pqc)
    pq.set_centroids(np.stack([np.frombuffer(results[j], np.float32).reshape(k, d // m) for j in range(m)]))
    return pq
