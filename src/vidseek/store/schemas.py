"""The Arrow schemas of the index datasets and of the build's staged data, in one place.

Index datasets (``IDX/<dataset>/gen=N/*.parquet``, listed by the manifest):

- ``videos``: one row per input file (``VIDEOS_COLUMNS``), written by the driver;
- ``keyframes``: one row per key frame (``KEYFRAMES_COLUMNS``: ids, frame, time, shot, JPEG thumbnail);
- ``codes`` and ``vectors``: see :mod:`.codes` (key-frame ids and places, PQ codes, inverted lists; the
  whitened vectors as float16 in an .npy file per part).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

#: rows written by the extraction stage: one per key frame (``kf_id`` set; written as the video is decoded,
#: so ``duration`` and ``frames`` are null there), then one file row (``kf_id`` null) with the file's status,
#: error, duration and frame count.  Key frames of a file whose row says ``error`` (a file that failed
#: part-way) are not indexed.
EXTRACT_SCHEMA = pa.schema(
    [
        ("video_id", pa.int64()),
        ("path", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("duration", pa.float64()),
        ("frames", pa.int64()),
        ("kf_id", pa.int64()),
        ("frame", pa.int64()),
        ("time", pa.float64()),
        ("shot", pa.int32()),
        ("thumb", pa.binary()),
        ("pwa", pa.binary()),  # float16 PWA vector before whitening
    ]
)

#: the ``videos`` dataset's columns (file rows of the extraction plus a key-frame count)
VIDEOS_COLUMNS = ("video_id", "path", "kind", "status", "error", "duration", "frames", "keyframes")

#: the ``keyframes`` dataset's columns
KEYFRAMES_COLUMNS = ("kf_id", "video_id", "frame", "time", "shot", "thumb")

#: rows of the stage-0 sample: the sum-pooled backbone responses of one sampled frame, or (``sums`` null) why a
#: file gave none
SAMPLE_SCHEMA = pa.schema([("path", pa.string()), ("sample", pa.int32()), ("sums", pa.binary()), ("error", pa.string())])

#: whitened vectors (staging), float32 bytes
WHITENED_SCHEMA = pa.schema([("kf_id", pa.int64()), ("video_id", pa.int64()), ("frame", pa.int64()), ("time", pa.float64()),
                             ("vec", pa.binary())])

#: PWA vectors of edited copies of sampled key frames (the learned whitening's pairs), float16 bytes
PAIR_SCHEMA = pa.schema([("kf_id", pa.int64()), ("pwa", pa.binary())])

#: what an encode task reports back: the part file it wrote and its row count
WRITTEN_SCHEMA = pa.schema([("file", pa.string()), ("rows", pa.int64())])


def spark_schema(schema: pa.Schema):
    """The Spark StructType of an Arrow schema (fixed-size binary becomes binary)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def vectors_from_column(col: pa.Array | pa.ChunkedArray, dim: int, dtype=np.float32) -> np.ndarray:
    """(n, dim) array of a binary column whose every value is one vector's bytes."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if len(col) == 0:
        return np.zeros((0, dim), dtype=dtype)
    width = dim * np.dtype(dtype).itemsize
    if col.null_count == 0 and pa.types.is_binary(col.type):  # values back to back: one view, no copy per row
        offsets = np.frombuffer(col.buffers()[1], np.int32, len(col) + 1, col.offset * 4)
        if offsets[-1] - offsets[0] == len(col) * width and np.all(np.diff(offsets) == width):
            data = np.frombuffer(col.buffers()[2], np.uint8, len(col) * width, int(offsets[0]))
            return data.view(dtype).reshape(-1, dim).copy()
    return np.frombuffer(b"".join(col.to_pylist()), dtype=dtype).reshape(-1, dim)
