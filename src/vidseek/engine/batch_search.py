"""Batch search as a Spark job: each task opens the index (by path, once per worker) and searches its queries."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq_io

from ..atomic import atomic_path
from ..errors import VidseekError
from ..inputs import discover
from .session import SparkConfig, job_progress, spark_session

RESULT_SCHEMA = pa.schema([
    ("query", pa.string()), ("rank", pa.int32()), ("video", pa.string()), ("score", pa.float64()),
    ("time", pa.float64()), ("frame", pa.int64()), ("error", pa.string()),
])


@lru_cache(maxsize=1)
def _index(path: str, generation: int):
    from ..search import Index

    return Index.open(path, device="cpu")


def search_partition(params_json: str):
    params = json.loads(params_json)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import torch

        torch.set_num_threads(1)
        index = _index(params["index"], params["generation"])
        for batch in batches:
            rows = {f.name: [] for f in RESULT_SCHEMA}
            for q in batch.column("query").to_pylist():
                try:
                    hits = index.search(q, k=params["k"], refine=params["refine"], flip=params["flip"],
                                        min_score=params.get("min_score"))
                    err = None
                except VidseekError as exc:
                    hits, err = [], exc.cause
                if not hits:
                    for name, v in zip(RESULT_SCHEMA.names, (q, None, None, None, None, None, err)):
                        rows[name].append(v)
                for rank, h in enumerate(hits, 1):
                    for name, v in zip(RESULT_SCHEMA.names, (q, rank, h.video, h.score, h.time, h.frame, None)):
                        rows[name].append(v)
            yield pa.RecordBatch.from_pydict(rows, schema=RESULT_SCHEMA)

    return run


def batch_search(index: str | os.PathLike, queries_dir: str | os.PathLike, out: str | os.PathLike, k: int = 10,
                 refine: int = 256, flip: bool = True, spark: SparkConfig = SparkConfig(),
                 min_score: float | None = None,
                 quiet: bool = False) -> tuple[int, int, list[tuple[str, str]]]:
    from ..store.layout import read_manifest
    from ..store.schemas import spark_schema

    index = Path(index).absolute()
    man = read_manifest(index)
    found = discover([str(queries_dir)], images=True)
    queries = [str(p) for p in found.files]
    if not queries:
        raise VidseekError(queries_dir, "no query images or clips found")
    out = Path(out).absolute()
    session = spark_session(spark)
    list_path = out.with_name(out.name + ".queries.parquet")
    pq_io.write_table(pa.table({"query": queries}), list_path)
    params = json.dumps({"index": str(index), "generation": man.generation, "k": k, "refine": refine, "flip": flip,
                         "min_score": min_score})
    parts = min(len(queries), 2 * session.sparkContext.defaultParallelism)
    df = session.read.parquet(str(list_path)).repartition(parts)
    with job_progress(session, "search", quiet=quiet):
        table = df.mapInArrow(search_partition(params), spark_schema(RESULT_SCHEMA)).toArrow()
    list_path.unlink(missing_ok=True)
    table = table.sort_by([("query", "ascending"), ("rank", "ascending")])
    with atomic_path(out) as tmp:
        pq_io.write_table(table, tmp)
    errors = {(q, e) for q, e in zip(table.column("query").to_pylist(), table.column("error").to_pylist()) if e}
    return len(queries), table.num_rows, sorted(errors)
