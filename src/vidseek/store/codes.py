"""The codes of an index on disk: Parquet parts of ids and PQ codes, each with a vectors file (.npy).

    IDX/codes/gen=N/part-00003.parquet    kf_id, video_id, frame, time, list (inverted-file index only), code
    IDX/vectors/gen=N/part-00003.npy      float16 (rows, d): the whitened vectors, same rows in the same order

In an inverted-file index the rows of a part are sorted by list (then key-frame id), and the build range-
partitions the lists over the parts, so one list range is one contiguous read of one part (Parquet row-group
statistics give each part's range).  The vectors are only read for the candidates of a query (exact
re-ranking), read row by row: an opened index holds the codes, not the vectors.  Indexes written before the
vectors files existed keep their vectors in a ``vector`` column of the codes parts; they still open.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq_io

from ..errors import StoreError
from .layout import Manifest
from .reader import parquet_errors, read_table

VECTORS = "vectors"


def codes_schema(m: int, ivf: bool) -> pa.Schema:
    fields = [("kf_id", pa.int64()), ("video_id", pa.int64()), ("frame", pa.int64()), ("time", pa.float64())]
    fields += [("list", pa.int32())] if ivf else []
    return pa.schema(fields + [("code", pa.binary(m))])


@dataclass
class CodeRows:
    """The rows of one codes part, in any order: ids, where each key frame is, its code, vector and list."""

    kf_id: np.ndarray
    video_id: np.ndarray
    frame: np.ndarray
    time: np.ndarray
    codes: np.ndarray  # (n, m) uint8
    vectors: np.ndarray  # (n, d), written as float16
    lists: np.ndarray | None = None  # (n,) inverted list of each row (inverted-file index)


def codes_table(rows: CodeRows) -> tuple[pa.Table, np.ndarray]:
    """The rows of one part in their stored order (by list then key frame, or by key frame), and that order."""
    kf_ids, lists = np.asarray(rows.kf_id, np.int64), rows.lists
    order = np.lexsort((kf_ids, lists)) if lists is not None else np.argsort(kf_ids, kind="stable")
    codes = np.ascontiguousarray(np.asarray(rows.codes, np.uint8)[order])
    m = codes.shape[1]
    cols = {"kf_id": pa.array(kf_ids[order]), "video_id": pa.array(np.asarray(rows.video_id, np.int64)[order]),
            "frame": pa.array(np.asarray(rows.frame, np.int64)[order]),
            "time": pa.array(np.asarray(rows.time, np.float64)[order])}
    if lists is not None:
        cols["list"] = pa.array(np.asarray(lists, np.int32)[order])
    cols["code"] = pa.FixedSizeBinaryArray.from_buffers(pa.binary(m), len(codes), [None, pa.py_buffer(codes.tobytes())])
    return pa.Table.from_pydict(cols, schema=codes_schema(m, lists is not None)), order


def write_codes_part(codes_dir: str, vectors_dir: str, name: str, rows: CodeRows,
                     row_group: int = 65536) -> tuple[str, int]:
    """Write ``codes_dir/name.parquet`` and ``vectors_dir/name.npy`` (each atomically; the vectors first, so
    a codes part is never without its vectors).  ``codes_dir``/``vectors_dir``: a local path or a URI pyarrow's
    filesystems understand.  Returns (codes file, rows)."""
    table, order = codes_table(rows)
    vec = np.ascontiguousarray(np.asarray(rows.vectors)[order], dtype=np.float16)
    _write_atomic(vectors_dir, f"{name}.npy", lambda f, fs: np.lib.format.write_array(f, vec, allow_pickle=False))
    path = _write_atomic(codes_dir, f"{name}.parquet", lambda f, fs: pq_io.write_table(
        table, f, compression="zstd", row_group_size=row_group))
    return path, table.num_rows


def _write_atomic(folder: str, name: str, write) -> str:
    import pyarrow.fs as pafs

    fs, root = pafs.FileSystem.from_uri(folder) if "://" in folder else (pafs.LocalFileSystem(), folder)
    fs.create_dir(root, recursive=True)
    final, tmp = f"{root.rstrip('/')}/{name}", f"{root.rstrip('/')}/.{name}.tmp"
    with fs.open_output_stream(tmp) as f:
        write(f, fs)
    fs.move(tmp, final)
    return final


def vectors_file_for(codes_rel: str) -> str:
    """codes/gen=N/part-00003.parquet -> vectors/gen=N/part-00003.npy"""
    parts = codes_rel.split("/")
    return "/".join([VECTORS, *parts[1:-1], parts[-1].rsplit(".", 1)[0] + ".npy"])


class VectorFile:
    """The float16 vectors of one part, read row by row from the file (``pread``) for the rows asked for: an
    opened index holds none of them, and reading a few hundred candidates costs well under a millisecond.
    (A memory map would do the same reads, but the kernel maps 64 KB around each row it faults in, and the
    process's resident memory grows with the file.)"""

    def __init__(self, path: Path, rows: int, d: int):
        self.path, self.shape, self.dtype = path, (rows, d), np.dtype(np.float16)
        self.row_bytes = 2 * d
        try:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read_header(f)
                self.offset = f.tell()
                size = os.fstat(f.fileno()).st_size
        except FileNotFoundError:
            raise StoreError(path, "index file listed in the manifest is missing") from None
        except (ValueError, OSError) as exc:
            raise StoreError(path, f"vectors file is corrupt or truncated ({exc})") from None
        if dtype != self.dtype or tuple(shape) != (rows, d) or fortran:
            raise StoreError(path, f"vectors file holds {dtype} {shape}, its codes part needs float16 ({rows}, {d})")
        if size != self.offset + rows * self.row_bytes:
            raise StoreError(path, f"vectors file is corrupt or truncated ({size} bytes, "
                                   f"{self.offset + rows * self.row_bytes} expected)")
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        rows = np.asarray(rows)
        rows = np.flatnonzero(rows) if rows.dtype == bool else np.atleast_1d(rows.astype(np.int64))
        if len(rows) and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"row out of range 0..{self.shape[0] - 1}")
        rb, off = self.row_bytes, self.offset
        data = b"".join(os.pread(self._fd, rb, off + r * rb) for r in rows.tolist())
        return np.frombuffer(data, np.float16).reshape(len(rows), self.shape[1])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self[np.arange(self.shape[0])].astype(dtype or self.dtype)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


def open_vectors(path, rows: int, d: int) -> VectorFile:
    """One part's vectors file, checked against its codes part (rows, dimension, size)."""
    return VectorFile(Path(path), rows, d)


def parquet_rows(path: Path) -> int:
    """Rows of a Parquet file, from its footer."""
    with parquet_errors(path):
        return pq_io.ParquetFile(path).metadata.num_rows


def read_part(index: Path, man: Manifest, rel: str, d: int, m: int, columns: tuple[str, ...] = ("video_id", "frame", "time"),
              with_codes: bool = True) -> tuple[pa.Table, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """One codes part: (table of ``columns``, lists or None, codes (n, m) uint8, vectors (n, d) float16); without
    ``with_codes`` neither lists nor codes are read (None).

    The vectors are the part's vectors file (:class:`VectorFile`), or, in an index from before vectors files,
    the part's ``vector`` column read into memory; frame and time, missing from such a part, come from the
    key-frame rows."""
    path = index / rel
    with parquet_errors(path):
        names = set(pq_io.read_schema(path).names)
    legacy = "vector" in names
    wanted = [c for c in columns if c in names] + (["code"] + (["list"] if "list" in names else []) if with_codes else [])
    wanted += ["kf_id"] if legacy and "kf_id" not in wanted else []
    wanted += ["vector"] if legacy else []
    t = read_table(index, rel, wanted)
    codes = lists = None
    if with_codes:
        code_col = t.column("code").combine_chunks()
        if code_col.type.byte_width != m:
            raise StoreError(path, f"codes are {code_col.type.byte_width} bytes but the codebook has m={m}")
        codes = np.frombuffer(code_col.buffers()[1], dtype=np.uint8, count=len(code_col) * m,
                              offset=code_col.offset * m).reshape(-1, m)
        lists = t.column("list").to_numpy() if "list" in names else None
    if legacy:
        vectors = fixed_vectors(t.column("vector"), d, path)
        missing = [c for c in columns if c not in names]
        if missing:
            t = _join_keyframes(index, man, t, missing)
    else:
        if vectors_file_for(rel) not in man.files.get(VECTORS, []):
            raise StoreError(path, "codes part has no vectors file in the manifest (index is inconsistent)")
        vectors = open_vectors(index / vectors_file_for(rel), t.num_rows, d)
    return t.select(list(columns)), lists, codes, vectors


def _join_keyframes(index: Path, man: Manifest, t: pa.Table, columns: list[str]) -> pa.Table:
    """Add key-frame columns (frame, time) to rows that have a ``kf_id``, from the key-frames dataset."""
    kf = [read_table(index, rel, ["kf_id", *columns]) for rel in man.files["keyframes"]]
    ids = np.concatenate([k.column("kf_id").to_numpy() for k in kf]) if kf else np.zeros(0, np.int64)
    order = np.argsort(ids, kind="stable")
    want = t.column("kf_id").to_numpy()
    pos = np.minimum(np.searchsorted(ids[order], want), max(len(ids) - 1, 0))
    if len(want) and (len(ids) == 0 or (ids[order][pos] != want).any()):
        raise StoreError(index, "a key frame has a code but no key-frame row (index is inconsistent)")
    for c in columns:
        vals = np.concatenate([k.column(c).to_numpy() for k in kf])[order][pos]
        t = t.append_column(c, pa.array(vals))
    return t


def fixed_vectors(col: pa.ChunkedArray, d: int, where: Path) -> np.ndarray:
    """(n, d) float16 view of a binary column whose every value is one vector (no Python object per row)."""
    col = col.combine_chunks()
    if len(col) == 0:
        return np.zeros((0, d), np.float16)
    width = np.int64 if pa.types.is_large_binary(col.type) else np.int32
    offsets = np.frombuffer(col.buffers()[1], dtype=width, count=len(col) + 1, offset=col.offset * np.dtype(width).itemsize)
    if (np.diff(offsets) != 2 * d).any():
        raise StoreError(where, f"a stored vector is not {d} float16 values")
    data = np.frombuffer(col.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.view(np.float16).reshape(-1, d)


def compact_codes_part(index: Path, man: Manifest, rel: str, gen: int, name: str) -> None:
    """Rewrite one codes part (and its vectors) into generation ``gen`` without the removed videos' rows."""
    from .model_files import PQ_FILE, load_pq

    pq = load_pq(index / man.model_dir / PQ_FILE)
    d, m = pq.d, pq.m
    with parquet_errors(index / rel):
        names = pq_io.read_schema(index / rel).names
    t, lists, codes, vectors = read_part(index, man, rel, d, m, ("kf_id", "video_id", "frame", "time"))
    keep = ~np.isin(t.column("video_id").to_numpy(), np.asarray(man.removed, np.int64))
    if not keep.any():
        return
    rows = CodeRows(*(t.column(c).to_numpy()[keep] for c in ("kf_id", "video_id", "frame", "time")), codes[keep],
                    np.asarray(vectors[np.flatnonzero(keep)]), lists[keep] if "list" in names else None)
    write_codes_part(str(index / "codes" / f"gen={gen}"), str(index / VECTORS / f"gen={gen}"), name, rows)

