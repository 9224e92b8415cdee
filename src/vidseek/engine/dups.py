"""`vidseek dups IDX --spark`: the collection's copies as Spark jobs (the work of :mod:`vidseek.search.dups`).

1. match   the index's rows are split into ranges, one task per range: the task opens the index (codes in its
           engine, 12 bytes a key frame, vectors on disk) and searches every key frame of its range, keeping the
           best neighbours in other videos (:func:`vidseek.search.dups.keyframe_matches`); it writes its matches
           as one Parquet file (tasks write their own output; the driver never holds them);
2. align   the matches are grouped by video pair (a shuffle) and each group is aligned in time into segments
           (:func:`vidseek.search.dups.pair_segments`, an ``applyInPandas``);
3. refine  the segments, partitioned by their first video, are placed frame by frame (both videos decoded around
           each segment's ends: :mod:`vidseek.search.refine`, a ``mapInPandas``; one model per task);
4. the driver collects the segments (a few per pair) and names the videos.

The work grows with key frames x neighbours, not with key frames squared.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq_io

from ..store.remote import readable_index
from ..search.dups import (LOCAL_MAX_KEYFRAMES, MATCH_DTYPE, DupsConfig, Pair, Segment, best_first, make_pair,
                           pair_segments)
from ..store.codes import parquet_rows
from ..store.layout import read_manifest
from ..store.reader import indexed_paths, searchable_videos
from .session import SparkConfig, default_parallelism, job_progress, spark_session

SEGMENT_FIELDS = ("a", "b", "a_start", "a_end", "b_start", "b_end", "score", "a_frame", "b_frame")


def match_task(bounds: tuple[int, int], params_json: str) -> Iterator[int]:
    """Spark task: the matches of the key frames in rows [start, end) into ``out/part-START.parquet``."""
    import torch

    from ..search import Index
    from ..search.dups import keyframe_matches

    torch.set_num_threads(1)
    params = json.loads(params_json)
    index = Index.open(params["index"], device="cpu")
    live = index.table.live_rows()
    start, end = bounds
    rows = live[(live >= start) & (live < end)]
    m = keyframe_matches(index, rows, DupsConfig(**params["cfg"]))
    table = pa.table({name: m[name] for name in MATCH_DTYPE.names})
    pq_io.write_table(table, os.path.join(params["out"], f"part-{start:012d}.parquet"))
    yield len(m)


def align_group(cfg_json: str, index: str):
    """applyInPandas function: the matches of one (a, b) pair -> its reported segments (doubtful ones checked
    with local features: the videos decoded by the task, :mod:`vidseek.search.dups_check`)."""
    cfg = DupsConfig(**json.loads(cfg_json))
    checkers = []  # one per task, made on its first pair

    def run(df):
        import pandas as pd

        from ..search.dups_check import PairChecker

        m = np.zeros(len(df), MATCH_DTYPE)
        for name in MATCH_DTYPE.names:
            m[name] = df[name].to_numpy()
        a, b = int(df["a"].iloc[0]), int(df["b"].iloc[0])
        if cfg.checks and not checkers:
            videos = searchable_videos(Path(index), read_manifest(Path(index)))
            checkers.append(PairChecker({v: p for v, (p, _) in videos.items()},
                                        durations={v: d for v, (_, d) in videos.items()}))
        segs = pair_segments(m, cfg, (lambda g, whole: checkers[0].confirm(a, b, g, whole)) if checkers else None)
        return pd.DataFrame([(a, b, g.a_start, g.a_end, g.b_start, g.b_end, g.score, g.a_frame, g.b_frame)
                             for g in segs],
                            columns=list(SEGMENT_FIELDS))

    return run


def refine_batches(params_json: str):
    """mapInPandas function: segments (SEGMENT_FIELDS rows, partitioned by video a) -> the same placed frame by
    frame (:mod:`vidseek.search.refine`); the model is loaded and each video's frames embedded once per task."""
    params = json.loads(params_json)

    def run(batches):
        import pandas as pd
        import torch

        from ..store.model_files import load_model
        from ..search.refine import DenseFrames, dense_model, refine_config, refine_pair

        got = [df for df in batches if len(df)]  # a few rows per pair: the whole partition, so no pair is split
        if not got:
            return
        torch.set_num_threads(1)
        index = Path(params["index"])
        man = read_manifest(index)  # the model and the videos: no codes are read
        cfg = refine_config(DupsConfig(**params["cfg"]))
        frames = DenseFrames(dense_model(load_model(index / man.model_dir, device="cpu"), cfg.image_size), cfg)
        videos = searchable_videos(index, man)
        names = {v: p for v, (p, _) in videos.items()}
        durations = dict(videos.values())
        for (a, b), group in pd.concat(got).groupby(["a", "b"], sort=True):
            segs = [Segment(*r) for r in group[list(SEGMENT_FIELDS[2:])].itertuples(index=False)]
            if a not in names or b not in names:
                continue
            pair = refine_pair(frames, make_pair(names[a], names[b], segs), durations)
            yield pd.DataFrame([(a, b, g.a_start, g.a_end, g.b_start, g.b_end, g.score, g.a_frame, g.b_frame)
                                for g in pair.segments], columns=list(SEGMENT_FIELDS))

    return run


def row_ranges(total: int, tasks: int) -> list[tuple[int, int]]:
    size = max(1, -(-total // max(1, tasks)))
    return [(s, min(s + size, total)) for s in range(0, total, size)]


def find_duplicates_spark(index: str | os.PathLike, cfg: DupsConfig = DupsConfig(),
                          spark: SparkConfig = SparkConfig(), quiet: bool = False) -> list[Pair]:
    """Every pair of videos of the index at ``index`` that share footage, computed as Spark jobs."""
    index = readable_index(index)
    man = read_manifest(index)
    total = sum(parquet_rows(index / rel) for rel in man.files["codes"])
    paths = indexed_paths(index, man)
    names = {vid: p for p, vid in paths.items()}
    if total == 0 or len(names) < 2:
        return []
    session = spark_session(spark)
    out = index / ".staging" / f"dups-{uuid.uuid4().hex[:12]}"
    out.mkdir(parents=True)
    try:
        ranges = row_ranges(total, 4 * default_parallelism(session))
        params = json.dumps({"index": str(index), "cfg": asdict(cfg), "out": str(out)})
        with job_progress(session, f"dups: {total:,} key frames search the index", unit="task", quiet=quiet):
            session.sparkContext.parallelize(ranges, max(1, len(ranges))).flatMap(
                lambda b: match_task(b, params)).collect()
        schema = ", ".join(f"{f} {'long' if f in ('a', 'b', 'a_frame', 'b_frame') else 'double'}" for f in SEGMENT_FIELDS)
        with job_progress(session, "dups: align the pairs" + (", place the segments" if cfg.refine else ""),
                          quiet=quiet):
            tasks = default_parallelism(session)
            segs = (session.read.parquet(str(out)).repartition(tasks, "a", "b").groupBy("a", "b")
                    .applyInPandas(align_group(json.dumps(asdict(cfg)), str(index)), schema))
            if cfg.refine:  # a video's segments in one task, which decodes and embeds its frames once
                segs = segs.repartition(2 * tasks, "a").mapInPandas(refine_batches(params), schema)
            segs = segs.toArrow()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    by_pair: dict[tuple[int, int], list[Segment]] = {}
    for row in segs.to_pylist():
        by_pair.setdefault((row["a"], row["b"]), []).append(Segment(*(row[f] for f in SEGMENT_FIELDS[2:])))
    return best_first([make_pair(names[a], names[b], s) for (a, b), s in by_pair.items() if a in names and b in names])


#: from this many key frames on, `vidseek dups` runs as Spark jobs unless told otherwise (bench/dups.py)
SPARK_AUTO_MIN = LOCAL_MAX_KEYFRAMES


def duplicates(index: str | os.PathLike, cfg: DupsConfig = DupsConfig(), spark: str = "auto",
               spark_config: SparkConfig = SparkConfig(), quiet: bool = False) -> list[Pair]:
    """Every pair of videos of an index that share footage; ``spark``: 'on', 'off' (this process) or 'auto'
    (Spark for indexes from :data:`SPARK_AUTO_MIN` key frames on, or when a master is given)."""
    index = readable_index(index)
    man = read_manifest(index)
    if spark == "auto":
        given = spark_config.master or os.environ.get("VIDSEEK_SPARK_MASTER")
        spark = "on" if given or man.counts.get("keyframes", 0) >= SPARK_AUTO_MIN else "off"
    if spark == "on":
        return find_duplicates_spark(index, cfg, spark_config, quiet=quiet)
    from ..search import Index
    from ..search.dups import find_duplicates

    return find_duplicates(Index.open(index, device="cpu"), cfg)
