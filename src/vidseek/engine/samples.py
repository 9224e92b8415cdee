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


def write_whiten_sample(ok_df, folder: Path, limit: int, dim: int) -> tuple[Path, int]:
    """Write the PWA vectors of the ``limit`` smallest key-frame ids to ``folder/sample.f16``, in id order.

    Returns (path, rows).
    """
    from pyspark.sql import functions as F

    ids = [r[0] for r in ok_df.select("kf_id").orderBy("kf_id").limit(limit).collect()]
    rank = {kf: i for i, kf in enumerate(ids)}
    parts = folder / "whiten_sample"
    ok_df.filter(F.col("kf_id") <= ids[-1]).select("kf_id", "pwa").write.mode("overwrite").parquet(str(parts))
    path = folder / "sample.f16"
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
    return path, len(ids)


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
