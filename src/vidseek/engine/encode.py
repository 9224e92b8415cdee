"""Stage 4 of the build: every whitened vector PQ-encoded, by Spark tasks that each write their own codes part.

Flat index: one task per whitened Parquet file, which the task reads itself (the paper's parallel encoding: only
the file names go through Spark, so no row is decoded by the JVM and shipped to Python; each task costs one core).
Inverted file: the rows are first assigned their lists and range-partitioned by list (a shuffle), so each part
holds one range of lists, sorted; those go through a DataFrame.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from ..store.schemas import WHITENED_SCHEMA, WRITTEN_SCHEMA, spark_schema
from . import tasks
from .session import job_progress


def encode_file(job: tuple[int, str], params_json: str) -> Iterator[tuple[str, int]]:
    """Spark task: whitened file ``job[1]`` -> codes part number ``job[0]`` (nothing for an empty file)."""
    import pyarrow.parquet as pq_io

    part, path = job
    table = pq_io.read_table(path)
    if table.num_rows:
        yield tasks.encode_table(table, json.loads(params_json), part)


def encode_whitened(spark, whitened_dir: Path, params: str, ivf: bool, quiet: bool = False) -> list[tuple[str, int]]:
    """Encode and write every row of ``whitened_dir`` (params: :func:`vidseek.engine.config.task_params` with
    ``pq_path``, ``ivf_path``, ``out_dir``, ``vectors_dir``); returns the (part file, rows) written."""
    with job_progress(spark, "encode", quiet=quiet):
        if not ivf:
            files = sorted(str(p) for p in Path(whitened_dir).glob("*.parquet"))
            jobs = list(enumerate(files))
            return spark.sparkContext.parallelize(jobs, max(1, len(jobs))).flatMap(
                lambda job: encode_file(job, params)).collect()
        from pyspark.sql.types import IntegerType, StructField, StructType

        whitened = spark.read.parquet(str(whitened_dir))
        schema = StructType(spark_schema(WHITENED_SCHEMA).fields + [StructField("list", IntegerType())])
        parts = max(1, whitened.rdd.getNumPartitions())
        whitened = (whitened.mapInArrow(tasks.assign_partition(params), schema)
                    .repartitionByRange(parts, "list").sortWithinPartitions("list", "kf_id"))
        rows = whitened.mapInArrow(tasks.encode_partition(params), spark_schema(WRITTEN_SCHEMA)).collect()
        return [(r["file"], r["rows"]) for r in rows]
