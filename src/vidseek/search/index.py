"""Interactive search: an index loaded once into memory, queried by image or clip. No Spark.

    >>> idx = Index.open("IDX")
    >>> idx.search("query.jpg", k=5)   # a path (image or clip), a PIL image, an RGB array or encoded bytes
    [Hit(video='/data/a.mp4', score=0.93, time=12.4, frame=310, ...), ...]

Ranking: the query is embedded with the index's model in a few variants (its mirror image: flipped copies are
common; and its content region, when bars or a background surround it: :mod:`.regions`).  ADC over the PQ codes
gives the top ``refine`` key frames per variant, re-ranked by exact cosine similarity with the stored float16
vectors (a small collection is searched exactly); ``refine=0`` ranks by the PQ distances alone.  Similarities are
turned into calibrated scores against a background sample of the collection (:mod:`.scoring`), so that one
threshold (``min_score``) separates matches from "no match" for every query.  Results are grouped per video: one
entry per video, its best key frame.

A clip query is summarised into key frames (one per second at most); each is searched, and a video's score is
the mean best score of the query frames that agree on one time offset (the clip's start in that video), so
matches in the query's temporal order win over scattered look-alikes.  A clip hit's ``time`` is that start and
``frame`` the frame there; ``keyframe_time``/``keyframe_frame`` name the best-matching key frame.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import StoreError
from ..store.layout import read_manifest
from ..store.model_files import PQ_FILE, load_model, load_pq
from ..store.reader import read_dataset, read_table
from .adc import ADCSearcher
from .query import Query, read_query
from .scoring import DEFAULT_MIN_SCORE, Background, ScoreConfig, normalise

DEFAULT_REFINE = 256
CLIP_TOLERANCE = 2.5  # seconds: query frames agree on a clip offset within this


@dataclass
class Hit:
    video: str  # absolute path of the indexed file
    score: float  # calibrated similarity: 1 identical, about 0 no closer than unrelated videos (see scoring)
    time: float  # seconds from the start of the video (image: best key frame; clip: where the clip starts)
    frame: int  # the frame at ``time``
    keyframe_id: int  # the best-matching key frame
    video_id: int
    keyframe_time: float = 0.0
    keyframe_frame: int = 0

    def to_json(self) -> dict:
        return {"video": self.video, "score": round(float(self.score), 6), "time": round(float(self.time), 3),
                "frame": int(self.frame), "keyframe_time": round(float(self.keyframe_time), 3),
                "keyframe_frame": int(self.keyframe_frame)}


@dataclass
class PreparedQuery:
    """A query read and embedded: (frames, variants, d) vectors; variants are the whole picture, its mirror
    image and, when one is found, the content region (and its mirror)."""

    kind: str  # "image" | "clip"
    times: list[float]
    vectors: np.ndarray


class Index:
    """A read-only, in-memory view of one index generation."""

    def __init__(self, path: Path, device: str = "auto", weights: str | None = None,
                 score_config: ScoreConfig = ScoreConfig()):
        self.path = path
        self.score_config = score_config
        self.manifest = read_manifest(path)
        self.model_dir = path / self.manifest.model_dir
        self._device = device
        self._weights = weights
        self._model = None
        self._model_lock = threading.Lock()
        self.pq = load_pq(self.model_dir / PQ_FILE)
        self._load_tables()
        self.adc = ADCSearcher(self.codes, self.pq)

    @classmethod
    def open(cls, path: str | os.PathLike, device: str = "auto", weights: str | None = None,
             score_config: ScoreConfig = ScoreConfig()) -> Index:
        return cls(Path(path).absolute(), device=device, weights=weights, score_config=score_config)

    # -- loading ---------------------------------------------------------------------------
    def _load_tables(self) -> None:
        man, index = self.manifest, self.path
        vids = read_dataset(index, man, "videos", ["video_id", "path", "status", "duration"], live=True)
        self.video_paths: dict[int, str] = {}
        self.video_durations: dict[int, float] = {}
        if vids is not None:
            for vid, p, st, dur in zip(*(vids.column(c).to_pylist() for c in ("video_id", "path", "status", "duration"))):
                if st == "ok":
                    self.video_paths[vid] = p
                    self.video_durations[vid] = dur or 0.0
        codes, vectors, kf_ids, video_ids = [], [], [], []
        for rel in man.files["codes"]:
            t = read_table(index, rel, ["kf_id", "video_id", "code", "vector"])
            keep = np.isin(t.column("video_id").to_numpy(), np.fromiter(self.video_paths, np.int64, len(self.video_paths)))
            if not keep.all():
                t = t.filter(pa.array(keep))
            if t.num_rows == 0:
                continue
            code_col = t.column("code").combine_chunks()
            width = code_col.type.byte_width
            if width != self.pq.m:
                raise StoreError(index / rel, f"codes are {width} bytes but the codebook has m={self.pq.m}")
            codes.append(np.frombuffer(code_col.buffers()[1], dtype=np.uint8, count=len(code_col) * width,
                                       offset=code_col.offset * width).reshape(-1, width))
            vectors.append(_fixed_vectors(t.column("vector"), self.pq.d, index / rel))
            kf_ids.append(t.column("kf_id").to_numpy())
            video_ids.append(t.column("video_id").to_numpy())
        self.codes = np.concatenate(codes) if codes else np.zeros((0, self.pq.m), np.uint8)
        self.vectors = np.concatenate(vectors) if vectors else np.zeros((0, self.pq.d), np.float16)
        self.kf_ids = np.concatenate(kf_ids) if kf_ids else np.zeros(0, np.int64)
        self.kf_video = np.concatenate(video_ids) if video_ids else np.zeros(0, np.int64)
        tables = [read_table(index, rel, ["kf_id", "frame", "time"]) for rel in man.files["keyframes"]]
        ids, frames, times = (np.concatenate([t.column(c).to_numpy() for t in tables]) if tables else np.zeros(0)
                              for c in ("kf_id", "frame", "time"))
        order = np.argsort(ids, kind="stable")
        pos = np.searchsorted(ids[order], self.kf_ids)
        found = pos < len(ids)
        found[found] = ids[order][pos[found]] == self.kf_ids[found]
        if not found.all():
            missing = int(self.kf_ids[~found][0])
            raise StoreError(index, f"key frame {missing} has a code but no key-frame row (index is inconsistent)")
        self.kf_frame = frames[order][pos].astype(np.int64)
        self.kf_time = times[order][pos].astype(np.float64)
        self._fps = _frame_rates(self.kf_video, self.kf_time, self.kf_frame)
        self.refresh_background()

    def refresh_background(self) -> None:
        """(Re)draw the background sample the scores are normalised against (see :mod:`.scoring`)."""
        self.background = Background(self.vectors, self.kf_video, self.score_config)
        self._levels = np.full(len(self.vectors), np.nan, dtype=np.float32)  # key frames' levels, found lazily

    def _row_levels(self, rows: np.ndarray) -> np.ndarray:
        todo = rows[np.isnan(self._levels[rows])]
        if len(todo):
            self._levels[todo] = self.background.key_frame_levels(self.vectors[todo], self.kf_video[todo])
        return self._levels[rows]

    @property
    def model(self):
        """The feature model, loaded on first use (thread-safe); searches share it."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._model = load_model(self.model_dir, weights=self._weights, device=self._device)
        return self._model

    def __len__(self) -> int:
        return len(self.codes)

    def stats(self) -> dict:
        return {"videos": len(self.video_paths), "keyframes": len(self), "generation": self.manifest.generation,
                "bytes": self.manifest.counts.get("bytes", 0), "dim": self.pq.d, "pq_m": self.pq.m}

    # -- query embedding -------------------------------------------------------------------
    def embed_images(self, images: list[np.ndarray], flip: bool = True, regions: bool = True) -> np.ndarray:
        """(n, variants, d): each image and its mirror (``flip``), and its content region (``regions``: flat
        borders or an inset cut out, see :mod:`.regions`).  A clip's region is found once for all its frames
        (:func:`.regions.clip_region`); its frames are then searched whole (unmirrored) and by the region and its
        mirror: the region is what the clip shows.  Images with fewer variants repeat their first rows, so
        every image has the same number."""
        from .regions import clip_region, content_regions, crop

        clip = len(images) > 2
        fixed = clip_region(images) if regions and clip else None
        batch, slots = [], []
        for im in images:
            boxes = [fixed] if fixed else [] if clip or not regions else content_regions(im)[:1]
            views = _views(im, crop(im, boxes[0]) if boxes else None, flip, clip)
            slots.append(list(range(len(batch), len(batch) + len(views))))
            batch += views
        n_var = max(len(sl) for sl in slots)
        v = self.model.embed(batch)
        return np.stack([v[sl + [sl[i % len(sl)] for i in range(len(sl), n_var)]] for sl in slots])

    def prepare(self, query: Query, flip: bool = True, regions: bool = True) -> PreparedQuery:
        """Read and embed a query (the costly part of a search; :meth:`rank` is the rest)."""
        images, times, kind = self.query_frames(query)
        return PreparedQuery(kind, times, self.embed_images(images, flip=flip, regions=regions))

    def query_frames(self, query: Query) -> tuple[list[np.ndarray], list[float], str]:
        """Decode a query: (images, their times in the query, 'image' | 'clip')."""
        return read_query(query)

    # -- ranking ---------------------------------------------------------------------------
    def _pq_scores(self, rows: np.ndarray, qvecs: np.ndarray) -> np.ndarray:
        """(len(rows), variants) cosine similarities from the PQ codes (unit vectors: 1 - d^2 / 2)."""
        tables = self.pq.distance_tables(qvecs)  # (V, m, k)
        d = tables[:, np.arange(self.pq.m)[None, :], self.codes[rows]].sum(axis=-1)  # (V, R)
        return (1.0 - d / 2.0).T

    def candidates(self, qvecs: np.ndarray, r: int, rerank: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Best key frames of one query frame (``qvecs``: its variants) as (rows, scores), best first.

        The top ``r`` of each variant by ADC are re-scored exactly with the stored vectors (``rerank``; an
        index no larger than ``r`` is scored exactly throughout) or by their PQ distances; each variant's
        scores are normalised by its own background level (:mod:`.scoring`) and a row keeps its best.
        """
        qvecs = np.atleast_2d(np.asarray(qvecs, dtype=np.float32))
        n = len(self)
        r = min(max(r, 1), n)
        if rerank and r >= n:  # small index: exact scores of everything
            rows = np.arange(n)
            raw = self.vectors.astype(np.float32) @ qvecs.T
        else:
            _, ids = self.adc.search(qvecs, r)
            rows = np.unique(ids[ids >= 0])
            raw = self.vectors[rows].astype(np.float32) @ qvecs.T if rerank else self._pq_scores(rows, qvecs)
        scores = normalise(raw, self.background.levels(qvecs), self._row_levels(rows))
        order = np.argsort(-scores, kind="stable")
        return rows[order], scores[order]

    def _hit(self, row: int, score: float, time: float | None = None) -> Hit:
        vid = int(self.kf_video[row])
        kt, kf = float(self.kf_time[row]), int(self.kf_frame[row])
        t = kt if time is None else time
        frame = kf if time is None else self.frame_at(vid, t, row)
        return Hit(self.video_paths[vid], float(score), t, frame, int(self.kf_ids[row]), vid, kt, kf)

    def frame_at(self, vid: int, t: float, row: int) -> int:
        """The frame number at ``t`` in a video, from the frame/time pairs of its key frames."""
        fps = self._fps.get(vid, 25.0)
        return max(0, int(round(self.kf_frame[row] + (t - self.kf_time[row]) * fps)))

    def _group(self, rows: np.ndarray, scores: np.ndarray, k: int) -> list[Hit]:
        hits: list[Hit] = []
        seen: set[int] = set()
        for row, score in zip(rows.tolist(), scores.tolist()):
            vid = int(self.kf_video[row])
            if vid in seen:
                continue
            seen.add(vid)
            hits.append(self._hit(row, score))
            if len(hits) == k:
                break
        return hits

    def search_image_vectors(self, qvecs: np.ndarray, k: int = 10, refine: int = DEFAULT_REFINE) -> list[Hit]:
        r = max(refine, 10 * k)
        while True:
            rows, scores = self.candidates(qvecs, r, rerank=refine > 0)
            hits = self._group(rows, scores, k)
            if len(hits) >= min(k, len(self.video_paths)) or r >= len(self):
                return hits
            r *= 4

    def search_clip_vectors(self, qvecs: np.ndarray, times: list[float], k: int = 10,
                            refine: int = DEFAULT_REFINE) -> list[Hit]:
        """Temporal aggregation: per video, the clip offset most query frames agree on."""
        per_video: dict[int, list[tuple[int, float, float, int]]] = {}  # vid -> (query i, offset, score, row)
        r = max(refine, 10 * k)
        for i, (qv, t) in enumerate(zip(qvecs, times)):
            rows, scores = self.candidates(qv, r, rerank=refine > 0)
            for row, score in zip(rows[:r].tolist(), scores[:r].tolist()):
                vid = int(self.kf_video[row])
                per_video.setdefault(vid, []).append((i, float(self.kf_time[row]) - t, float(score), row))
        return sorted((self._clip_hit(vid, m, len(times)) for vid, m in per_video.items()),
                      key=lambda h: -h.score)[:k]

    def _clip_hit(self, vid: int, matches: list[tuple[int, float, float, int]], nq: int) -> Hit:
        """A video's clip score: the best offset's mean (over query frames) of the best agreeing score."""
        best = None
        for _, o_star, _, _ in matches:
            chosen: dict[int, tuple[float, float, int]] = {}
            for i, o, s, row in matches:
                if abs(o - o_star) <= CLIP_TOLERANCE and s > chosen.get(i, (-np.inf,))[0]:
                    chosen[i] = (s, o, row)
            total = sum(c[0] for c in chosen.values()) / nq
            if best is None or total > best[0]:
                best = (total, chosen)
        total, chosen = best
        top = max(chosen.values())
        offset = float(np.median([c[1] for c in chosen.values()]))
        offset = min(max(offset, 0.0), max(self.video_durations.get(vid, 0.0), 0.0))
        return self._hit(top[2], total, time=offset)

    def rank(self, prepared: PreparedQuery, k: int = 10, refine: int = DEFAULT_REFINE,
             min_score: float | None = DEFAULT_MIN_SCORE) -> list[Hit]:
        """Results of a prepared query: best video first, one entry per video, none below ``min_score``."""
        if len(self) == 0:
            return []
        if prepared.kind == "image":
            hits = self.search_image_vectors(prepared.vectors[0], k, refine)
        else:
            hits = self.search_clip_vectors(prepared.vectors, prepared.times, k, refine)
        return hits if min_score is None else [h for h in hits if h.score >= min_score]

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
        prepared = self.prepare(query, flip=flip)
        return self.rank(prepared, k, refine, min_score), prepared.kind

    # -- thumbnails (for the web page) -----------------------------------------------------
    def thumbnail(self, kf_id: int) -> bytes:
        if not (self.kf_ids == kf_id).any():
            raise KeyError(kf_id)
        for rel in self.manifest.files["keyframes"]:
            t = read_table(self.path, rel, ["kf_id", "thumb"])
            ids = t.column("kf_id").to_numpy()
            pos = np.nonzero(ids == kf_id)[0]
            if len(pos):
                return t.column("thumb")[int(pos[0])].as_py()
        raise KeyError(kf_id)


def _views(image: np.ndarray, region: np.ndarray | None, flip: bool, clip: bool) -> list[np.ndarray]:
    """What one query picture is searched as: itself and its mirror; with a region, a still adds the region
    (its mirror gained nothing on bench/accuracy.py: the whole picture's mirror finds mirrored copies) and a
    clip frame is the whole frame, the region and the region's mirror."""
    mirror = lambda a: np.ascontiguousarray(a[:, ::-1])  # noqa: E731
    if region is None:
        return [image, mirror(image)] if flip else [image]
    if not flip:
        return [image, region]
    return [image, region, mirror(region)] if clip else [image, mirror(image), region]


def _fixed_vectors(col: pa.ChunkedArray, d: int, where: Path) -> np.ndarray:
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


def _frame_rates(videos: np.ndarray, times: np.ndarray, frames: np.ndarray) -> dict[int, float]:
    """Frames per second of each video, from its first and last key frames (25 when it has one)."""
    out: dict[int, float] = {}
    for vid in np.unique(videos).tolist():
        sel = videos == vid
        t, f = times[sel], frames[sel]
        i, j = int(np.argmin(t)), int(np.argmax(t))
        out[vid] = float((f[j] - f[i]) / (t[j] - t[i])) if t[j] - t[i] > 0.5 and f[j] > f[i] else 25.0
    return out


def hits_json(query: str, hits: list[Hit]) -> dict:
    return {"query": query, "results": [h.to_json() for h in hits]}

