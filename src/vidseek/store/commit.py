"""Committing generations of an index, and the index operations that need no Spark.

A generation's data files are written first; :func:`commit` then checksums them and writes the manifest
atomically (the commit point).  :func:`collect_garbage` deletes data that no manifest needs any more,
keeping the previous generation for readers that opened it a moment ago.  ``remove`` only marks videos
(a new manifest); ``compact`` rewrites the datasets without them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq_io

from ..storage import canonical, is_uri
from .codes import compact_codes_part
from .layout import DATASETS, IndexLock, Manifest, checksum_files, generation_files, read_manifest, write_manifest
from .model_files import FEATURES_FILE, IVF_FILE, PQ_FILE, REFERENCE_FILE, WHITENING_FILE
from .reader import indexed_paths, read_dataset
from .thumbs import THUMBS, write_thumbs_table

MODEL_FILES = (FEATURES_FILE, WHITENING_FILE, "whitening.json", PQ_FILE, "pq.json", IVF_FILE, "ivf.json",
               REFERENCE_FILE, "reference.json")


def commit(index: Path, old: Manifest | None, gen: int, model_rel: str, new_files: dict[str, list[str]],
           keep_old: bool, params: dict, removed: list[int]) -> Manifest:
    """Write the manifest of generation ``gen``: ``new_files`` (plus the old files with ``keep_old``)."""
    files = {d: (list(old.files.get(d, [])) if (old and keep_old) else []) + new_files.get(d, []) for d in DATASETS}
    checksums = dict(old.checksums) if (old and keep_old) else {}
    for d in DATASETS:
        checksums.update(checksum_files(index, new_files.get(d, [])))
    for name in MODEL_FILES:
        rel = f"{model_rel}/{name}"
        if (index / rel).exists():
            checksums[rel] = checksums.get(rel) or checksum_files(index, [rel])[rel]
    checksums = {k: v for k, v in checksums.items() if k.startswith(model_rel) or any(k in files[d] for d in DATASETS)}
    man = Manifest(generation=gen, model_dir=model_rel, files=files, checksums=checksums,
                   removed=removed, params=params, created=old.created if old else Manifest().created)
    man.counts = counts(index, man)
    write_manifest(index, man)
    return man


def counts(index: Path, man: Manifest) -> dict[str, int]:
    videos = read_dataset(index, man, "videos", ["video_id", "status"], live=True)
    codes = read_dataset(index, man, "codes", ["video_id"], live=True)
    ok = 0 if videos is None else int(pc.sum(pc.equal(videos.column("status"), "ok")).as_py() or 0)
    failed = 0 if videos is None else videos.num_rows - ok
    size = sum((index / r).stat().st_size for d in DATASETS for r in man.files[d])
    size += sum((index / man.model_dir / f).stat().st_size for f in os.listdir(index / man.model_dir))
    return {"videos": ok, "failed": failed, "keyframes": 0 if codes is None else codes.num_rows, "bytes": size}


def collect_garbage(index: Path, man: Manifest, keep_previous: bool = True) -> None:
    """Delete data of generations the manifest no longer references.

    By default the previous generation is kept, so that a reader that opened the old manifest a moment
    ago can still read its files; ``vidseek compact`` (an explicit request for space) drops it too.
    """
    keep_gens = {man.generation, man.generation - 1} if keep_previous else {man.generation}
    referenced = {(Path(r).parts[0], Path(r).parts[1]) for d in DATASETS for r in man.files[d]}
    referenced.add(("model", Path(man.model_dir).name))
    for folder in (*DATASETS, "model"):
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
            if (folder, g.name) not in referenced and num not in keep_gens:
                shutil.rmtree(g, ignore_errors=True)


def remove_from_index(paths: list[str], index: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Mark videos as removed (they never appear in results); returns (removed, not found)."""
    if is_uri(str(index)):
        from .remote import writable_index

        with writable_index(index) as local:
            return remove_from_index(paths, local)
    index = Path(index).absolute()
    with IndexLock(index):
        man = read_manifest(index)
        known = {}
        for path, vid in indexed_paths(index, man).items():
            known[path] = vid
            known.setdefault(canonical(path), vid)
        removed, missing = [], []
        ids = set(man.removed)
        for p in paths:
            ap = p.rstrip("/") if is_uri(p) else str(Path(p).absolute())
            vid = known.get(ap, known.get(canonical(ap)))
            if vid is not None:
                ids.add(vid)
                removed.append(ap)
            else:
                missing.append(p)
        if removed:
            man.removed = sorted(ids)
            man.generation += 1
            man.counts = counts(index, man)
            write_manifest(index, man)
    return removed, missing


def compact_index(index: str | os.PathLike) -> dict[str, int]:
    """Rewrite the datasets without removed videos into one new generation; reclaim their space.

    Codes are rewritten part by part with their vectors (an inverted file keeps its list ranges per part)."""
    if is_uri(str(index)):
        from .remote import writable_index

        with writable_index(index) as local:
            return compact_index(local)
    index = Path(index).absolute()
    with IndexLock(index):
        man = read_manifest(index)
        before = man.counts.get("bytes", 0)
        gen = man.generation + 1
        for d in DATASETS:
            shutil.rmtree(index / d / f"gen={gen}", ignore_errors=True)
        for d in ("videos", "keyframes"):
            table = read_dataset(index, man, d, live=True)
            (index / d / f"gen={gen}").mkdir(parents=True)
            if table is not None:
                pq_io.write_table(table, index / d / f"gen={gen}" / "part-00000.parquet", compression="zstd")
                if d == "keyframes":
                    write_thumbs_table(table, str(index / THUMBS / f"gen={gen}"), "part-00000")
        for i, rel in enumerate(man.files["codes"]):  # parts of several generations: renumbered
            compact_codes_part(index, man, rel, gen, f"part-{i:05d}")
        man = commit(index, None, gen, man.model_dir, generation_files(index, gen), keep_old=False,
                     params=man.params, removed=[])
        collect_garbage(index, man, keep_previous=False)
    return {"bytes_before": before, "bytes_after": man.counts["bytes"]}


def write_videos_table(table: pa.Table, index: Path, gen: int) -> None:
    out = index / "videos" / f"gen={gen}"
    out.mkdir(parents=True, exist_ok=True)
    pq_io.write_table(table, out / "part-00000.parquet")
