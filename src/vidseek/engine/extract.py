"""Stage 1: videos -> key frames -> CNN -> PWA vectors, as Spark jobs over chunks of the file list.

Each chunk's output is a folder of Parquet parts with a ``_SUCCESS`` marker; a re-run skips the files of
finished chunks, so an interrupted build redoes at most one chunk.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq_io

from ..store.schemas import EXTRACT_SCHEMA, spark_schema
from . import tasks
from .config import BuildConfig, task_params
from .session import default_parallelism, job_progress

log = logging.getLogger(__name__)


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
        log.info("resume: %d file(s) already extracted, %d to go", len(files) - len(pending), len(pending))
    parallelism = default_parallelism(spark)
    done_files = done_kf = 0
    for start in range(0, len(pending), cfg.chunk_files):
        chunk = pending[start : start + cfg.chunk_files]
        name = _chunk_name(chunk)
        list_path = staging / "inputs" / f"{name}.parquet"
        list_path.parent.mkdir(parents=True, exist_ok=True)
        pq_io.write_table(pa.table({"path": chunk}), list_path)
        progress_dir = staging / "progress" / name
        shutil.rmtree(progress_dir, ignore_errors=True)
        params = task_params(cfg, model_dir, progress_dir=str(progress_dir))
        parts = cfg.partitions or min(len(chunk), 2 * parallelism)
        df = spark.read.parquet(str(list_path)).repartition(parts)
        out = df.mapInArrow(tasks.extract_partition(params), spark_schema(EXTRACT_SCHEMA))

        def counter(base=(done_files, done_kf), folder=progress_dir) -> tuple[int, int]:
            files, keyframes = tasks.read_progress(folder)
            return base[0] + files, base[1] + keyframes

        with job_progress(spark, "extract", unit="file", quiet=cfg.quiet, total=len(pending), counter=counter,
                          extra_unit="key frames"):
            out.write.mode("overwrite").parquet(str(extract_dir / name))
        done_files, done_kf = counter()


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
