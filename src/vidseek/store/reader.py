"""The one reader of an index's datasets: only the files the manifest lists, errors naming the file."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq_io

from ..errors import StoreError
from .layout import Manifest


@contextmanager
def parquet_errors(path: Path) -> Iterator[None]:
    """Reading an index's Parquet file: a missing or broken file is a StoreError naming it."""
    try:
        yield
    except FileNotFoundError:
        raise StoreError(path, "index file listed in the manifest is missing") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise StoreError(path, f"index file is corrupt or truncated ({str(exc).splitlines()[0]})") from None


def read_table(index: Path, rel: str, columns: list[str] | None = None) -> pa.Table:
    with parquet_errors(index / rel):
        return pq_io.read_table(index / rel, columns=columns)


def check_listed(index: Path, man: Manifest) -> None:
    """Every data file the manifest lists exists (a reader that needs only some of them still refuses an index
    that lost one: it is damaged, and ``vidseek verify`` says how)."""
    for files in man.files.values():
        for rel in files:
            if not (index / rel).is_file():
                raise StoreError(index / rel, "index file listed in the manifest is missing")


def read_dataset(index: Path, man: Manifest, dataset: str, columns: list[str] | None = None,
                 live: bool = False) -> pa.Table | None:
    """All rows of ``dataset`` in the manifest's files (None when it has none); ``live`` drops the rows of
    removed videos (needs the ``video_id`` column)."""
    tables = [read_table(index, rel, columns) for rel in man.files.get(dataset, [])]
    if not tables:
        return None
    table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
    if live and man.removed:
        import pyarrow.compute as pc

        table = table.filter(pc.invert(pc.is_in(table.column("video_id"), pa.array(man.removed, pa.int64()))))
    return table


def searchable_videos(index: Path, man: Manifest) -> dict[int, tuple[str, float]]:
    """Video id -> (path, duration in seconds) of the videos that were indexed ("ok") and not removed."""
    t = read_dataset(index, man, "videos", ["video_id", "path", "status", "duration"], live=True)
    if t is None:
        return {}
    rows = zip(t.column("video_id").to_pylist(), t.column("path").to_pylist(), t.column("status").to_pylist(),
               t.column("duration").to_pylist())
    return {v: (p, float(d) if d is not None and d == d else 0.0) for v, p, s, d in rows if s == "ok"}


def indexed_paths(index: Path, man: Manifest) -> dict[str, int]:
    """Path -> video id of every file in the index that was not removed (failed files included)."""
    t = read_dataset(index, man, "videos", ["video_id", "path"], live=True)
    return {} if t is None else dict(zip(t.column("path").to_pylist(), t.column("video_id").to_pylist()))
