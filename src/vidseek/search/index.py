"""Interactive search: an index loaded once into memory, queried by image or clip. No Spark.

    >>> idx = Index.open("IDX")
    >>> idx.search("query.jpg", k=5)   # a path (image or clip), a PIL image, an RGB array or encoded bytes
    [Hit(video='/data/a.mp4', score=0.93, time=12.4, frame=310, ...), ...]

Ranking: the query is embedded with the index's model in a few variants (its content region, when bars or a
background surround it: :mod:`.regions`; and its mirror image, flipped copies being common, searched only when the
others leave the answer under the "sure" level: :mod:`.prepared`).  ADC over the PQ codes
gives the top ``refine`` key frames per variant, re-ranked by exact cosine similarity with the stored float16
vectors (a small collection is searched exactly); ``refine=0`` ranks by the PQ distances alone.  Similarities are
turned into calibrated scores against a background sample of the collection (:mod:`.scoring`), so that one
threshold (``min_score``) separates matches from "no match" for every query.  Results are grouped per video: one
entry per video, its best key frame.  When the best scores under a "sure" level, the best few are checked
with local features against their videos' frames (:mod:`.verify`), and a verified copy's score is raised;
the best hit's time is then made frame-exact (:mod:`.timing`).

A clip query is summarised into key frames (one per second at most); each is searched, and a video's score is
the mean best score of the query frames that agree on one time offset (the clip's start in that video), so
matches in the query's temporal order win over scattered look-alikes.  A clip hit's ``time`` is that start and
``frame`` the frame there; ``keyframe_time``/``keyframe_frame`` name the best-matching key frame.
"""

from __future__ import annotations

import os
import statistics
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..memory import release_memory
from ..quantize.ivf import DEFAULT_NPROBE
from ..store.layout import read_manifest
from ..store.remote import readable_index
from ..store.model_files import IVF_FILE, PQ_FILE, REFERENCE_FILE, load_ivf, load_model, load_pq, load_reference
from ..store.thumbs import Thumbnails
from .clips import CLIP_NPROBE_SHARE, clip_depth, clip_top
from .engines import FlatEngine, IVFEngine
from .frame_cache import FrameFeatureCache
from .hits import Hit, hits_json  # noqa: F401 - hits_json is part of this module's interface
from .prepared import PreparedQuery, QueryPreparation  # noqa: F401 - PreparedQuery is part of this interface
from .query import Query
from .scoring import DEFAULT_MIN_SCORE, Background, ScoreConfig, normalise
from .settings import DEFAULT_REFINE, MAX_DEPTH
from .table import load_keyframes
from .timing import TimeConfig, best_frame
from .verify import VerifyConfig, grey_picture, needs_check, verify


class Index(QueryPreparation):
    """A read-only view of one index generation: codes in a search engine (flat or inverted file, see
    :mod:`.engines`), per key frame a few bytes (:mod:`.table`), vectors read from disk when needed."""

    def __init__(self, path: Path, device: str = "auto", weights: str | None = None,
                 score_config: ScoreConfig = ScoreConfig(), nprobe: int | None = None, parts: list[int] | None = None,
                 time_config: TimeConfig = TimeConfig(), verify_config: VerifyConfig = VerifyConfig()):
        self.path = path
        self.verify_config = verify_config
        self.frame_cache = FrameFeatureCache()  # features of the frames checked lately, for the next searches
        self.score_config = score_config
        self.time_config = time_config
        self.manifest = read_manifest(path)
        self.model_dir = path / self.manifest.model_dir
        self._device = device
        self._weights = weights
        self._model = None
        self._model_lock = threading.Lock()
        self._blas = None  # threadpoolctl's controller, made at the first search
        self.pq = load_pq(self.model_dir / PQ_FILE)
        self.coarse = load_ivf(self.model_dir / IVF_FILE)
        self._reference = load_reference(self.model_dir / REFERENCE_FILE, self.pq.d)
        self.table, stream = load_keyframes(path, self.manifest, self.pq.d, self.pq.m, parts)
        own: list[np.ndarray] = []
        found = (own.append(p[0]) or p for p in stream)  # the parts' rows noted as they pass
        if self.coarse is not None:  # parts added one by one: the codes are held once
            self.engine = IVFEngine(self.pq, self.coarse, found, nprobe=nprobe or DEFAULT_NPROBE)
        else:
            self.engine = FlatEngine(self.pq, list(found))
        self._own_rows = None if parts is None else np.concatenate(own + [np.zeros(0, np.int64)])
        del found, stream, own  # the last part's arrays, held by the reading generator
        self._n_live = int(np.count_nonzero(self.table.video >= 0))
        self._thumbs = Thumbnails(path, self.manifest)
        self.refresh_background()
        pa.default_memory_pool().release_unused()  # the Parquet reads' buffers
        release_memory(collect=False)  # and the heap the parts' temporary arrays left (bench/scale.py at 10M)

    @classmethod
    def open(cls, path: str | os.PathLike, device: str = "auto", weights: str | None = None,
             score_config: ScoreConfig = ScoreConfig(), nprobe: int | None = None, parts: list[int] | None = None,
             time_config: TimeConfig = TimeConfig(), verify_config: VerifyConfig = VerifyConfig()) -> Index:
        """Open the index at ``path`` (a folder, or an ``s3://`` URI: searched from a local copy); ``nprobe``: inverted lists scanned per query vector (inverted-file
        indexes; default :data:`vidseek.quantize.ivf.DEFAULT_NPROBE`).  ``parts``: a shard of a sharded search
        (:mod:`vidseek.engine.sharded_search`): only these codes parts (numbers in manifest order) are searched;
        every key frame's place and vector stay known, so scores are those of the whole index.  ``time_config``: how
        the best hits' times are refined (:mod:`.timing`); ``verify_config``: how doubtful hits are checked with
        local features (:mod:`.verify`)."""
        return cls(readable_index(path), device=device, weights=weights, score_config=score_config, nprobe=nprobe,
                   parts=parts, time_config=time_config, verify_config=verify_config)

    # -- key frames ------------------------------------------------------------------------
    @property
    def video_paths(self) -> dict[int, str]:
        return self.table.paths

    @property
    def video_durations(self) -> dict[int, float]:
        return self.table.durations

    @property
    def path_durations(self) -> dict[str, float]:
        """Path -> duration (seconds) of every searchable video."""
        return {p: float(self.table.durations.get(v, 0.0)) for v, p in self.video_paths.items()}

    @property
    def kf_video(self) -> np.ndarray:
        """Video id of every row (-1: removed); reads all rows: for small indexes and tests."""
        v = self.table.video
        return np.where(v >= 0, self.table.video_ids[np.maximum(v, 0)] if len(self.table.video_ids) else -1, -1)

    @property
    def vectors(self) -> np.ndarray:
        """The float16 vector of every row; reads all of them: for small indexes and tests."""
        return self.table.vectors(np.arange(len(self.table)))

    def add_rows(self, vectors: np.ndarray, video_ids: np.ndarray, times: np.ndarray, frames: np.ndarray) -> None:
        """Make more key frames searchable in this process only (benchmarks' distractors; their videos must
        have been added with ``self.table.add_video``): encoded with the index's PQ, held in memory."""
        vectors = np.asarray(vectors, np.float32)
        rows = self.table.append(video_ids, times, frames, vectors.astype(np.float16))
        self._n_live = int(np.count_nonzero(self.table.video >= 0))
        if isinstance(self.engine, IVFEngine):
            lists = self.coarse.assign(vectors)
            self.engine._add(lists, self.coarse.encoded(self.pq, vectors, lists), rows)
        else:
            codes = self.pq.encode(vectors)
            self.engine = FlatEngine(self.pq, [(self.engine.rows, None, self.engine.codes), (rows, None, codes)])
        self.refresh_background()

    def refresh_background(self) -> None:
        """(Re)draw the background sample the scores are normalised against (see :mod:`.scoring`)."""
        live = self.table.live_rows()
        rows = live
        if len(live) > self.score_config.sample:
            rng = np.random.default_rng(self.score_config.seed)
            rows = live[np.sort(rng.choice(len(live), self.score_config.sample, replace=False))]
        self.background = Background(self.table.vectors(rows), self.table.video[rows], self.score_config,
                                     reference=self._reference)
        self._levels = np.full(len(self.table), np.nan, dtype=np.float16)  # key frames' levels, found lazily

    def _row_levels(self, rows: np.ndarray) -> np.ndarray:
        todo = rows[np.isnan(self._levels[rows])]
        if len(todo):
            self._levels[todo] = self.background.key_frame_levels(self.table.vectors(todo), self.table.video[todo])
        return self._levels[rows].astype(np.float32)

    @property
    def model(self):
        """The feature model, loaded on first use (thread-safe); searches share it."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._model = load_model(self.model_dir, weights=self._weights, device=self._device)
        return self._model

    def __len__(self) -> int:
        """Searchable key frames (of the whole index, also in a shard)."""
        return self._n_live


    def stats(self) -> dict:
        return {"videos": len(self.video_paths), "keyframes": len(self), "generation": self.manifest.generation,
                "bytes": self.manifest.counts.get("bytes", 0), "dim": self.pq.d, "pq_m": self.pq.m,
                "engine": self.engine.kind, "nlist": self.coarse.nlist if self.coarse is not None else 0}

    def resident_bytes(self) -> int:
        """Memory held per key frame (engine, table, level cache; vectors only where held in memory)."""
        t = self.table
        return (self.engine.resident_bytes() + t.video.nbytes + t.time.nbytes + t.frame.nbytes + self._levels.nbytes
                + t.vector_bytes_resident())

    # -- ranking ---------------------------------------------------------------------------
    def candidates(self, qvecs: np.ndarray, r: int, rerank: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Best key frames of one query frame (``qvecs``: its variants) as (rows, scores), best first."""
        return self.candidates_batch(np.atleast_2d(np.asarray(qvecs, np.float32))[None], r, rerank)[0]

    def candidates_batch(self, qvecs: np.ndarray, r: int, rerank: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
        """Best key frames of each query frame (``qvecs``: (frames, variants, d)), one engine call for all.

        The top ``r`` of each variant by ADC are re-scored exactly with the stored vectors (``rerank``; an
        index no larger than ``r`` is scored exactly throughout) or by their PQ distances; each variant's
        scores are normalised by its own background level (:mod:`.scoring`) and a row keeps its best.
        """
        out = []
        for rows, scores, _, _ in self.scored_candidates(qvecs, r, rerank):
            order = np.argsort(-scores, kind="stable")
            out.append((rows[order], scores[order]))
        return out

    def scored_candidates(self, qvecs: np.ndarray, r: int, rerank: bool = True) -> list[tuple]:
        """Per query frame: (rows, their scores, ADC distances (variants, r), ADC rows (variants, r)), rows in
        ascending order; the distances are None where the index is scored exactly (r >= its size).  A shard
        answers this for its codes; merged, the shards' answers are the whole index's.

        BLAS runs on one thread here: its threads and faiss's OpenMP threads spin against each other on a few
        cores, and the products are small (at 10M key frames on 2 cores: a picture 8.0 -> 1.6 ms)."""
        if self._blas is None:
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController()
        with self._blas.limit(limits=1, user_api="blas"):
            return self._scored_candidates(qvecs, r, rerank)

    def _scored_candidates(self, qvecs: np.ndarray, r: int, rerank: bool) -> list[tuple]:
        qvecs = np.asarray(qvecs, dtype=np.float32)
        f, v, d = qvecs.shape
        n = len(self)
        r = min(max(r, 1), max(n, 1))
        levels = self.background.levels(qvecs.reshape(-1, d)).reshape(f, v)
        if rerank and r >= n:  # small index: exact scores of everything
            rows = self._own_rows if self._own_rows is not None else self.table.live_rows()  # own rows: searchable
            vecs = self.table.vectors(rows).astype(np.float32)
            return [(rows, normalise(vecs @ q.T, lev, self._row_levels(rows)), None, None) for q, lev in zip(qvecs, levels)]
        probe = max(1, self.engine.nprobe // CLIP_NPROBE_SHARE) if f > 1 and self.engine.kind == "ivf" else None
        dist, ids = self.engine.search(qvecs.reshape(-1, d), r, probe)
        dist, ids = dist.reshape(f, v, -1), ids.reshape(f, v, -1)
        if rerank:  # exact scores: each candidate's vector read and its level found once for all the query's frames
            union = np.unique(ids[ids >= 0])
            vecs, union_levels = self.table.vectors(union).astype(np.float32), self._row_levels(union)
            out = []
            for q, lev, dd, ii in zip(qvecs, levels, dist, ids):
                rows = np.unique(ii[ii >= 0])
                at = np.searchsorted(union, rows)
                out.append((rows, normalise(vecs[at] @ q.T, lev, union_levels[at]), dd, ii))
            return out
        return [self.adc_scored(q, lev, dd, ii) + (dd, ii) for q, lev, dd, ii in zip(qvecs, levels, dist, ids)]

    def adc_scored(self, q: np.ndarray, level: np.ndarray, dist: np.ndarray, ids: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of one query frame's ADC results, scored from the ADC distances (unit vectors:
        1 - d^2 / 2; -inf for a variant that did not return the row), for its variants' levels ``level``."""
        rows, inverse = np.unique(ids, return_inverse=True)
        valid = rows >= 0
        raw = np.full((len(rows), len(q)), -np.inf, np.float32)
        raw[inverse.reshape(ids.shape), np.arange(len(q))[:, None]] = 1.0 - dist / 2.0
        rows = rows[valid]
        return rows, normalise(raw[valid], level, self._row_levels(rows))

    def _hit(self, row: int, score: float, time: float | None = None) -> Hit:
        vid = int(self.table.video_of(row))
        kt, kf = round(float(self.table.time[row]), 6), int(self.table.frame[row])  # stored as float32
        t = kt if time is None else time
        frame = kf if time is None else self.frame_at(vid, t, float(self.table.time[row]), kf)
        return Hit(self.video_paths[vid], float(score), t, frame, self.table.keyframe_id(row), vid, kt, kf)

    def frame_at(self, vid: int, t: float, key_time: float, key_frame: int) -> int:
        """The frame number at ``t`` in a video, from a key frame's time and frame and the video's frame rate."""
        fps = self.table.fps.get(vid, 25.0)
        return max(0, int(round(key_frame + (t - key_time) * fps)))

    def _group(self, rows: np.ndarray, scores: np.ndarray, k: int) -> list[Hit]:
        hits: list[Hit] = []
        seen: set[int] = set()
        vids = self.table.video[rows]
        for row, vid, score in zip(rows.tolist(), vids.tolist(), scores.tolist()):
            if vid in seen:
                continue
            seen.add(vid)
            hits.append(self._hit(row, score))
            if len(hits) == k:
                break
        if hits and self.verify_config.moments:
            cfg = self.verify_config
            hits[0].moments = self.table.moments(rows[vids == vids[0]][1:], hits[0].keyframe_time, cfg.moments,
                                                 cfg.moment_gap)
        return hits

    def search_image_vectors(self, qvecs: np.ndarray, k: int = 10, refine: int = DEFAULT_REFINE,
                             found: tuple[np.ndarray, np.ndarray] | None = None) -> list[Hit]:
        """Results of one picture's variants; ``found``: its candidates (rows, scores) found already (a sharded
        search), else searched here, with more candidates while they hold fewer than ``k`` videos."""
        if found is not None:
            return self._group(*found, k)
        r = max(refine, 10 * k)
        while True:
            rows, scores = self.candidates(qvecs, r, rerank=refine > 0)
            hits = self._group(rows, scores, k)
            if (len(hits) >= min(k, len(self.video_paths)) or r >= len(self) or len(rows) < r
                    or r >= MAX_DEPTH):  # fewer rows than asked: the lists probed are exhausted; more would
                # not find more, and a depth of the whole index would score it all (10M key frames: 156 GB)
                return hits
            r = min(r * 4, MAX_DEPTH)

    def search_clip_vectors(self, qvecs: np.ndarray, times: list[float], k: int = 10,
                            refine: int = DEFAULT_REFINE, found: list | None = None) -> list[Hit]:
        """Temporal aggregation: per video, the clip offset its best query frames agree on (:mod:`.clips`)."""
        per_video: dict[int, list[tuple[int, float, float, int]]] = {}  # video -> (query i, offset, score, row)
        r = clip_depth(refine, k)
        found = found if found is not None else self.candidates_batch(qvecs, r, rerank=refine > 0)
        for i, ((rows, scores), t) in enumerate(zip(found, times)):
            rows, scores = rows[:r], scores[:r]
            for row, vid, kt, score in zip(rows.tolist(), self.table.video[rows].tolist(),
                                           self.table.time[rows].tolist(), scores.tolist()):
                per_video.setdefault(vid, []).append((i, kt - t, float(score), row))
        return [self._clip_hit(vid, total, chosen) for vid, total, chosen in clip_top(per_video, len(times), k)]

    def _clip_hit(self, vid: int, total: float, chosen: dict) -> Hit:
        """The hit of a video's clip match: where the clip starts (median offset of the chosen matches)."""
        top = max(chosen.values())
        offset = float(statistics.median(c[1] for c in chosen.values()))  # a few values: cheaper than numpy's
        duration = self.video_durations.get(int(self.table.video_ids[vid]), 0.0)
        offset = min(max(offset, 0.0), max(duration, 0.0))
        hit = self._hit(top[2], total, time=offset)
        hit.query_frame = max(chosen, key=chosen.get)  # chosen: query frame -> (score, offset, row)
        return hit

    def rank(self, prepared: PreparedQuery, k: int = 10, refine: int = DEFAULT_REFINE,
             min_score: float | None = DEFAULT_MIN_SCORE, found: list | None = None) -> list[Hit]:
        """Results of a prepared query: best video first, one entry per video, none below ``min_score``;
        ``found``: per query frame its candidates (rows, scores, best first), when found elsewhere.  The mirror
        variant is searched only when the others leave the answer doubtful (:meth:`sure`)."""
        if len(self) == 0:
            return []
        if prepared.flipped and found is None:
            first = prepared.first()
            hits = self.ranked(first, k, refine)
            if self.sure(hits):
                return self.finish(hits, first, min_score)
            prepared = prepared.complete()
        return self.finish(self.ranked(prepared, k, refine, found), prepared, min_score)

    def ranked(self, prepared: PreparedQuery, k: int, refine: int, found: list | None = None) -> list[Hit]:
        """All variants of a prepared query searched: hits best first, neither verified nor placed."""
        if prepared.kind == "image":
            return self.search_image_vectors(prepared.vectors[0], k, refine, found[0] if found else None)
        return self.search_clip_vectors(prepared.vectors, prepared.times, k, refine, found)

    def sure(self, hits: list[Hit]) -> bool:
        """The best hit scores ``verify_config.sure``: it is neither checked with local features nor searched
        for as a mirror image."""
        return bool(hits) and hits[0].score >= self.verify_config.sure

    def finish(self, hits: list[Hit], prepared: PreparedQuery, min_score: float | None) -> list[Hit]:
        """Ranked hits -> the answer: doubtful hits verified (:mod:`.verify`), those under ``min_score`` left
        out, the best placed frame-exactly (:meth:`place`)."""
        placed: set[int] = set()
        if prepared.pictures and needs_check(hits, self.verify_config):
            first = {id(h): h.keyframe_id for h in hits[:min(self.time_config.hits, self.verify_config.hits)]}
            placed = set(first)  # placed in their check's thread, beside the other checks

            def before(hit: Hit) -> tuple[float, np.ndarray] | None:
                if id(hit) in placed:
                    return self.place_one(hit, prepared, picture=True)
                return None

            hits = verify(hits, prepared.pictures, self.verify_config, prepared.kind, before, prepared.times,
                          prepared.regions, self.frame_cache)
            placed = {id(h) for h in hits if first.get(id(h)) == h.keyframe_id}  # a hit moved is placed anew
        hits = hits if min_score is None else [h for h in hits if h.score >= min_score]
        return self.place(hits, prepared, skip=placed)

    def place(self, hits: list[Hit], prepared: PreparedQuery, skip: set[int] = frozenset()) -> list[Hit]:
        """The best ``time_config.hits`` hits' times refined frame-exactly (:mod:`.timing`), but for those in
        ``skip`` (ids of hits placed already); the others keep their key-frame estimate.  A clip is placed by its
        first frame."""
        for hit in hits[:self.time_config.hits]:
            if id(hit) not in skip:
                self.place_one(hit, prepared)
        return hits

    def place_one(self, hit: Hit, prepared: PreparedQuery, picture: bool = False) -> tuple[float, np.ndarray] | None:
        """Refine ``hit``'s time frame-exactly (:func:`.timing.best_frame`); ``picture``: also return the time
        (s, in the video) and the small grey picture (:func:`.verify.frame_picture`) of the frame placed on, when
        it was kept and decoded at least that large."""
        if prepared.signatures is None:
            return None
        first = prepared.times[0] if prepared.kind == "clip" and prepared.times else 0.0
        duration = self.video_durations.get(hit.video_id, 0.0)
        found = best_frame(hit.video, hit.time + first, prepared.signatures, self.time_config, duration)
        if found is None:
            return None
        t, frame = found
        hit.time = round(max(t - first, 0.0), 6)
        hit.frame = self.frame_at(hit.video_id, hit.time, hit.keyframe_time, hit.keyframe_frame)
        side = self.verify_config.side
        if not picture or frame is None or max(frame.size) < side:  # decoded small (``rough``): not comparable
            return None
        return t, grey_picture(frame, side)

    def search(self, query: Query, k: int = 10, refine: int = DEFAULT_REFINE, flip: bool = True,
               min_score: float | None = DEFAULT_MIN_SCORE) -> list[Hit]:
        """Search with an image or a clip (see :data:`Query`); best video first, one entry per video.

        ``refine``: key frames re-ranked exactly (0: PQ distances only); ``flip``: also search the mirror
        image; ``min_score``: results scoring below are not returned (None: all; an empty list is "no match").
        """
        return self.search_query(query, k, refine, flip, min_score)[0]

    def search_query(self, query: Query, k: int = 10, refine: int = DEFAULT_REFINE, flip: bool = True,
                     min_score: float | None = DEFAULT_MIN_SCORE) -> tuple[list[Hit], str]:
        """Like :meth:`search`, also saying how the query was read: ``'image'`` or ``'clip'``."""
        if len(self) == 0:
            return [], self.query_frames(query)[2]
        prepared = self.prepare(query, flip=flip, lazy=True)
        return self.rank(prepared, k, refine, min_score), prepared.kind

    # -- thumbnails (for the web page) -----------------------------------------------------
    def thumbnail(self, kf_id: int) -> bytes:
        """The JPEG thumbnail of a key frame of a searchable video (KeyError otherwise)."""
        found = self._thumbs.find(kf_id, live=self.video_paths.__contains__)  # each part's sidecar, no scan
        if found is None:
            raise KeyError(kf_id)
        return found[1]

