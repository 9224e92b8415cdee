"""Training samples of the build, chosen by Spark and kept on local disk in a canonical order.

The whitening sample is the ``limit`` key frames with the smallest ids (deterministic, whatever the
partitioning).  Spark only sorts the narrow id column to find the cut-off, then streams the wide rows
(float16 PWA vectors, 64 KB each for EfficientNet-Lite0) into Parquet; the driver copies each row to its
rank's place in a raw float16 file, and the fit reads that file back in fixed-size blocks.  Neither the
JVM nor the driver ever holds the sample, so their memory does not grow with it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow.parquet as pq_io

from ..features.whitening import FIT_BLOCK, RowBlocks


def write_whiten_sample(ok_df, folder: Path, limit: int, dim: int) -> tuple[Path, list[int]]:
    """Write the PWA vectors of the ``limit`` smallest key-frame ids to ``folder/sample.f16``, in id order.

    Returns (path, the ids in order).
    """
    ids = [r[0] for r in ok_df.select("kf_id").orderBy("kf_id").limit(limit).collect()]
    rows = _sample_rows(ok_df, ids).select("kf_id", "pwa")
    return _write_ranked(rows, ids, folder / "whiten_sample", folder / "sample.f16", dim), ids


def write_edited_sample(ok_df, ids: list[int], edited_partition, schema, folder: Path, dim: int) -> Path:
    """Write the PWA vectors of edited copies of the sampled key frames (``edited_partition``: a mapInArrow
    function from (kf_id, thumb) rows) to ``folder/edited.f16``, in the order of ``ids``."""
    rows = _sample_rows(ok_df, ids).select("kf_id", "thumb").mapInArrow(edited_partition, schema)
    return _write_ranked(rows, ids, folder / "edited_sample", folder / "edited.f16", dim)


def _sample_rows(ok_df, ids: list[int]):
    from pyspark.sql import functions as F

    return ok_df.filter(F.col("kf_id") <= ids[-1])


def _write_ranked(rows, ids: list[int], parts: Path, path: Path, dim: int) -> Path:
    """Spark writes the (kf_id, pwa) rows as Parquet; the driver copies each to its rank's place in a raw file."""
    rank = {kf: i for i, kf in enumerate(ids)}
    rows.write.mode("overwrite").parquet(str(parts))
    row_bytes = dim * 2
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(fd, len(ids) * row_bytes)
        for f in sorted(parts.glob("*.parquet")):
            for batch in pq_io.ParquetFile(f).iter_batches(batch_size=64, columns=["kf_id", "pwa"]):
                for kf, vec in zip(batch.column("kf_id").to_pylist(), batch.column("pwa")):
                    i = rank.get(kf)
                    if i is not None:
                        os.pwrite(fd, vec.as_buffer(), i * row_bytes)
    finally:
        os.close(fd)
    return path


def file_blocks(path: Path, n: int, dim: int) -> RowBlocks:
    """:data:`~vidseek.features.whitening.RowBlocks` over a raw (n, dim) float16 file."""

    def blocks() -> Iterator[tuple[np.ndarray, int]]:
        buf = np.zeros((FIT_BLOCK, dim), dtype=np.float32)
        with open(path, "rb") as fh:
            for s in range(0, n, FIT_BLOCK):
                k = min(FIT_BLOCK, n - s)
                buf[:k] = np.fromfile(fh, dtype=np.float16, count=k * dim).reshape(k, dim)
                buf[k:] = 0.0
                yield buf, k

    return blocks
