"""Batch search as Spark jobs, sharded by the index's codes parts (in an inverted-file index: ranges of lists).

1. embed   the query files are split over tasks; each reads its queries and embeds them with the index's model
           (:meth:`vidseek.search.Index.prepare`), written as Parquet (query, kind, times, vectors, signatures,
           the small grey pictures that verify doubtful hits);
2. shards  one task per codes part: it opens the index with that part's codes only (every key frame's place
           and vector stay known: 12 bytes each, vectors read from disk) and answers every prepared query: per query
           frame and variant its ADC top ``r`` (distances, rows) and the calibrated score of each candidate;
3. merge   the driver keeps, per query frame and variant, the ``r`` smallest distances over all shards, and ranks
           their rows by score as one process would (:meth:`vidseek.search.Index.rank` with the candidates found),
           verifies doubtful answers with local features (:mod:`vidseek.search.verify`) and places the best hit
           of each query frame-exactly (:mod:`vidseek.search.timing`), decoding frames of their videos on the driver.

So the answers equal a single process's (up to ties at the r-th distance): the same candidates, the same scores;
a picture whose candidates hold fewer than ``k`` videos goes through the shards again with more, as in one process.
Each shard task holds the whole index's per-key-frame table (12 bytes a key frame) and its own part's codes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq_io

from ..store.remote import readable_index
from ..atomic import atomic_path
from ..errors import VidseekError
from ..inputs import discover
from .session import SparkConfig, job_progress, spark_session

RESULT_SCHEMA = pa.schema([
    ("query", pa.string()), ("rank", pa.int32()), ("video", pa.string()), ("score", pa.float64()),
    ("time", pa.float64()), ("frame", pa.int64()), ("error", pa.string()),
])
PREPARED_SCHEMA = pa.schema([
    ("query", pa.string()), ("kind", pa.string()), ("times", pa.list_(pa.float64())), ("shape", pa.list_(pa.int32())),
    ("vectors", pa.binary()), ("signatures", pa.binary()), ("pictures", pa.list_(pa.binary())),
    ("regions", pa.list_(pa.binary())), ("error", pa.string()),
])
CANDIDATE_SCHEMA = pa.schema([
    ("query", pa.string()), ("frame", pa.int32()), ("variant", pa.int32()), ("row", pa.int64()),
    ("dist", pa.float32()), ("score", pa.float32()),
])


def _open(params: dict, parts: list[int] | None):
    import torch

    from ..search import Index

    torch.set_num_threads(1)
    return Index.open(params["index"], device="cpu", nprobe=params["nprobe"], parts=parts)


def embed_partition(params_json: str):
    """mapInArrow: query paths -> their prepared vectors (or the error that stopped one)."""
    params = json.loads(params_json)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        index = _open(params, [])
        for batch in batches:
            rows = {f.name: [] for f in PREPARED_SCHEMA}
            for q in batch.column("query").to_pylist():
                try:
                    p = index.prepare(q, flip=params["flip"])
                    vals = (q, p.kind, list(map(float, p.times)), list(p.vectors.shape),
                            np.ascontiguousarray(p.vectors, np.float32).tobytes(),
                            np.ascontiguousarray(p.signatures, np.float32).tobytes(),
                            _png(p.pictures) if params["verify"] else None,
                            _png(p.regions) if params["verify"] else None, None)
                except VidseekError as exc:
                    vals = (q, None, None, None, None, None, None, None, exc.cause)
                for name, v in zip(PREPARED_SCHEMA.names, vals):
                    rows[name].append(v)
            yield pa.RecordBatch.from_pydict(rows, schema=PREPARED_SCHEMA)

    return run


def _png(pictures: list[np.ndarray | None] | None) -> list[bytes | None] | None:
    """Grey pictures as PNG files (lossless: verifying on the driver sees what one process would); None stays."""
    import io

    from PIL import Image

    if pictures is None:
        return None
    out = []
    for pic in pictures:
        if pic is None:
            out.append(None)
            continue
        buf = io.BytesIO()
        Image.fromarray(pic).save(buf, format="PNG", compress_level=1)
        out.append(buf.getvalue())
    return out


def _unpng(blobs: list[bytes | None] | None) -> list[np.ndarray | None] | None:
    import io

    from PIL import Image

    if blobs is None:
        return None
    return [None if b is None else np.asarray(Image.open(io.BytesIO(b)).convert("L")) for b in blobs]


def shard_task(part: int, params_json: str) -> Iterator[bytes]:
    """Spark task: the candidates of every prepared query in codes part ``part`` (Arrow IPC bytes)."""
    params = json.loads(params_json)
    index = _open(params, [part])
    prepared = pq_io.read_table(params["prepared"])
    prepared = prepared.filter(pc.is_null(prepared.column("error")))
    if params.get("only") is not None:
        prepared = prepared.filter(pc.is_in(prepared.column("query"), pa.array(params["only"], pa.string())))
    cols = {f.name: [] for f in CANDIDATE_SCHEMA}
    for q, kind, shape, raw in zip(*(prepared.column(c).to_pylist() for c in ("query", "kind", "shape", "vectors"))):
        vecs = np.frombuffer(raw, np.float32).reshape(shape)
        vecs = vecs[:, :-1] if params.get("variants") == "first" else vecs  # all but the mirror, the last variant
        r = params["r"] if kind == "image" else params["r_clip"]
        for i, (rows, scores, dist, ids) in enumerate(index.scored_candidates(vecs, r, rerank=params["refine"] > 0)):
            score_of = dict(zip(rows.tolist(), scores.tolist()))
            if dist is None:  # scored exactly: every row, no distances
                entries = [(-1, row, np.nan) for row in rows.tolist()]
            else:
                entries = [(v, row, d) for v in range(len(ids)) for row, d in zip(ids[v].tolist(), dist[v].tolist())
                           if row >= 0]
            for v, row, d in entries:
                for name, val in zip(CANDIDATE_SCHEMA.names, (q, i, v, row, d, score_of[row])):
                    cols[name].append(val)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, CANDIDATE_SCHEMA) as w:
        w.write_table(pa.table(cols, schema=CANDIDATE_SCHEMA))
    yield sink.getvalue().to_pybytes()


def merge_candidates(table: pa.Table, frames: int, r: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """One query's candidates from every shard -> per frame (rows, scores), best first, as one process finds them."""
    out = []
    frame_col, var_col = table.column("frame").to_numpy(), table.column("variant").to_numpy()
    rows_col, dist_col, score_col = (table.column(c).to_numpy() for c in ("row", "dist", "score"))
    for f in range(frames):
        sel = frame_col == f
        keep = []
        for v in np.unique(var_col[sel]).tolist():
            idx = np.flatnonzero(sel & (var_col == v))
            keep.append(idx if v < 0 else idx[np.lexsort((rows_col[idx], dist_col[idx]))[:r]])
        idx = np.concatenate(keep) if keep else np.zeros(0, np.int64)
        rows, first = np.unique(rows_col[idx], return_index=True)
        scores = score_col[idx][first].astype(np.float32)
        order = np.argsort(-scores, kind="stable")
        out.append((rows[order], scores[order]))
    return out


def batch_search(index: str | os.PathLike, queries_dir: str | os.PathLike, out: str | os.PathLike, k: int = 10,
                 refine: int = 256, flip: bool = True, spark: SparkConfig = SparkConfig(),
                 min_score: float | None = None, nprobe: int | None = None,
                 quiet: bool = False, place: bool = True,
                 verify: bool = True) -> tuple[int, int, list[tuple[str, str]]]:
    """Search every image and clip under ``queries_dir``; results (RESULT_SCHEMA) to the Parquet file ``out``;
    ``place``: the best hit of each query placed frame-exactly on the driver (:mod:`vidseek.search.timing`);
    ``verify``: doubtful answers checked with local features on the driver (:mod:`vidseek.search.verify`)."""
    from ..search import Index
    from ..search.timing import TimeConfig
    from ..search.verify import VerifyConfig
    from ..store.layout import read_manifest
    from ..store.schemas import spark_schema

    index = readable_index(index)
    man = read_manifest(index)
    found = discover([str(queries_dir)], images=True)
    queries = [str(p) for p in found.files]
    if not queries:
        raise VidseekError(queries_dir, "no query images or clips found")
    out = Path(out).absolute()
    session = spark_session(spark)
    work = out.with_name(f".{out.name}.work")
    work.mkdir(parents=True, exist_ok=True)
    pq_io.write_table(pa.table({"query": queries}), work / "queries.parquet")
    params = {"index": str(index), "generation": man.generation, "flip": flip, "nprobe": nprobe, "verify": verify,
              "refine": refine, "prepared": str(work / "prepared")}
    parts = min(len(queries), 2 * session.sparkContext.defaultParallelism)
    df = session.read.parquet(str(work / "queries.parquet")).repartition(parts)
    with job_progress(session, "embed queries", quiet=quiet):
        df.mapInArrow(embed_partition(json.dumps(params)), spark_schema(PREPARED_SCHEMA)).write.mode(
            "overwrite").parquet(params["prepared"])
    prepared = pq_io.read_table(params["prepared"])
    driver = Index.open(index, device="cpu", parts=[], time_config=TimeConfig() if place else TimeConfig(hits=0),
                        verify_config=VerifyConfig() if verify else VerifyConfig(hits=0))
    results = _search_rounds(session, params, prepared, driver, len(man.files["codes"]), k, refine, quiet)
    rows = {f.name: [] for f in RESULT_SCHEMA}
    for rec in prepared.select(["query", "error"]).to_pylist():
        hits = results.get(rec["query"], [])
        hits = hits if min_score is None else [h for h in hits if h.score >= min_score]
        _result_rows(rows, rec["query"], hits, rec["error"])
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    table = pa.table(rows, schema=RESULT_SCHEMA).sort_by([("query", "ascending"), ("rank", "ascending")])
    with atomic_path(out) as tmp:
        pq_io.write_table(table, tmp)
    errors = {(q, e) for q, e in zip(table.column("query").to_pylist(), table.column("error").to_pylist()) if e}
    return len(queries), table.num_rows, sorted(errors)


def _search_rounds(session, params: dict, prepared: pa.Table, driver, shards: int, k: int, refine: int,
                   quiet: bool) -> dict[str, list]:
    """Every query answered as :meth:`vidseek.search.Index.rank` answers it: first without its mirror variant,
    then, for the queries whose answer is doubtful (:meth:`vidseek.search.Index.sure`), with it."""
    from ..search.index import PreparedQuery
    from ..search.timing import SIZE

    ok = prepared.filter(pc.is_null(prepared.column("error")))
    todo = {q: PreparedQuery(kind, times, np.frombuffer(v, np.float32).reshape(shape),
                             np.frombuffer(sig, np.float32).reshape(-1, SIZE[0] * SIZE[1]), _unpng(pics),
                             _unpng(regions), flipped=params["flip"])
            for q, kind, times, shape, v, sig, pics, regions in zip(*(ok.column(c).to_pylist() for c in (
                "query", "kind", "times", "shape", "vectors", "signatures", "pictures", "regions")))}
    results: dict[str, list] = {}
    if params["flip"]:
        first = _stage(session, params, {q: p.first() for q, p in todo.items()}, driver, shards, k, refine, quiet,
                       "first", everyone=True)
        for q, hits in first.items():
            if driver.sure(hits):
                results[q] = driver.finish(hits, todo[q].first(), None)  # verified and placed once answered
        todo = {q: p for q, p in todo.items() if q not in results}
    for q, hits in _stage(session, params, todo, driver, shards, k, refine, quiet, "all",
                          everyone=not params["flip"]).items():
        results[q] = driver.finish(hits, todo[q], None)
    return results


def _stage(session, params: dict, todo: dict, driver, shards: int, k: int, refine: int, quiet: bool,
           variants: str, everyone: bool) -> dict[str, list]:
    """Shard jobs until every query of ``todo`` is ranked (not verified nor placed) with its ``variants``
    ("first": all but the mirror; ``everyone``: ``todo`` is every query, which the shards then need not be
    told): a picture whose candidates hold fewer than ``k`` videos is searched again
    with four times as many, as :meth:`vidseek.search.Index.search_image_vectors` does."""
    from ..search.clips import clip_depth

    results: dict[str, list] = {}
    r, n, first = max(refine, 10 * k), len(driver), everyone
    r_clip = clip_depth(refine, k)
    while todo:
        pj = json.dumps({**params, "r": r, "r_clip": r_clip, "variants": variants,
                         "only": None if first else sorted(todo)})
        with job_progress(session, f"search {shards} shard(s), {len(todo)} queries", unit="shard", quiet=quiet):
            blobs = session.sparkContext.parallelize(range(shards), max(shards, 1)).flatMap(
                lambda i: shard_task(i, pj)).collect()
        cands = pa.concat_tables([pa.ipc.open_stream(b).read_all() for b in blobs] + [CANDIDATE_SCHEMA.empty_table()])
        cands = cands.sort_by("query")
        queries = cands.column("query").to_numpy(zero_copy_only=False)
        again = {}
        for q, prep in todo.items():
            lo, hi = np.searchsorted(queries, q, "left"), np.searchsorted(queries, q, "right")
            found = merge_candidates(cands.slice(lo, hi - lo), prep.vectors.shape[0],
                                     r if prep.kind == "image" else r_clip)
            hits = driver.ranked(prep, k, refine, found=found)
            if prep.kind == "image" and len(hits) < min(k, len(driver.video_paths)) and r < n:
                again[q] = prep
            else:
                results[q] = hits
        todo, r, first = again, r * 4, False
    return results


def _result_rows(rows: dict, query: str, hits: list, error: str | None) -> None:
    if not hits:
        for name, v in zip(RESULT_SCHEMA.names, (query, None, None, None, None, None, error)):
            rows[name].append(v)
    for rank, h in enumerate(hits, 1):
        for name, v in zip(RESULT_SCHEMA.names, (query, rank, h.video, h.score, h.time, h.frame, None)):
            rows[name].append(v)
