"""Interactive search: an index loaded once into memory, queried by image or clip. No Spark.

    >>> idx = Index.open("IDX")
    >>> idx.search("query.jpg", k=5)   # a path (image or clip), a PIL image, an RGB array or encoded bytes
    [Hit(video='/data/a.mp4', score=0.93, time=12.4, frame=310, ...), ...]

Ranking: the query (and its mirror image: flipped copies are common) is embedded with the index's model;
ADC over the PQ codes gives the top ``refine`` key frames per query vector, which are re-ranked by exact
cosine similarity with the stored float16 vectors, so a small collection is searched exactly;
``refine=0`` ranks by the PQ distances alone (cosine = 1 - d/2 for unit vectors).  Results are grouped per video: one entry per video, its best key frame.

A clip query is summarised into key frames (one per second at most); each is searched, and a video's
score is the mean best similarity of the query frames that agree on one time offset (the clip's start in
that video), so matches in the query's temporal order win over scattered look-alikes.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import pyarrow as pa
from PIL import Image

from ..errors import InputError, StoreError
from ..inputs import is_image_path
from ..store.layout import read_manifest
from ..store.model_files import PQ_FILE, load_model, load_pq
from ..store.reader import read_dataset, read_table
from .adc import ADCSearcher

#: what :meth:`Index.search` accepts: a file path (image or clip), a PIL image, an RGB/grey uint8 array, or
#: the bytes of an image or clip file
Query = Union[str, os.PathLike, Image.Image, np.ndarray, bytes, bytearray, memoryview]

DEFAULT_REFINE = 256
CLIP_TOLERANCE = 2.5  # seconds: query frames agree on a clip offset within this
CLIP_MAX_FRAMES = 32


@dataclass
class Hit:
    video: str  # absolute path of the indexed file
    score: float  # cosine similarity in the whitened space, higher is better
    time: float  # seconds from the start of the video (image: best key frame; clip: where the clip starts)
    frame: int  # best-matching key frame's frame number
    keyframe_id: int
    video_id: int

    def to_json(self) -> dict:
        return {"video": self.video, "score": round(float(self.score), 6), "time": round(float(self.time), 3),
                "frame": int(self.frame)}


class Index:
    """A read-only, in-memory view of one index generation."""

    def __init__(self, path: Path, device: str = "auto", weights: str | None = None):
        self.path = path
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
    def open(cls, path: str | os.PathLike, device: str = "auto", weights: str | None = None) -> "Index":
        return cls(Path(path).absolute(), device=device, weights=weights)

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
            keep = np.array([v in self.video_paths for v in t.column("video_id").to_pylist()], dtype=bool)
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
            vectors.append(np.frombuffer(b"".join(t.column("vector").to_pylist()), dtype=np.float16).reshape(-1, self.pq.d))
            kf_ids.append(t.column("kf_id").to_numpy())
            video_ids.append(t.column("video_id").to_numpy())
        self.codes = np.concatenate(codes) if codes else np.zeros((0, self.pq.m), np.uint8)
        self.vectors = np.concatenate(vectors) if vectors else np.zeros((0, self.pq.d), np.float16)
        self.kf_ids = np.concatenate(kf_ids) if kf_ids else np.zeros(0, np.int64)
        self.kf_video = np.concatenate(video_ids) if video_ids else np.zeros(0, np.int64)
        meta: dict[int, tuple[int, float]] = {}
        for rel in man.files["keyframes"]:
            t = read_table(index, rel, ["kf_id", "frame", "time"])
            meta.update(zip(t.column("kf_id").to_pylist(), zip(t.column("frame").to_pylist(), t.column("time").to_pylist())))
        try:
            self.kf_frame = np.array([meta[k][0] for k in self.kf_ids.tolist()], dtype=np.int64)
            self.kf_time = np.array([meta[k][1] for k in self.kf_ids.tolist()], dtype=np.float64)
        except KeyError as exc:
            raise StoreError(index, f"key frame {exc} has a code but no key-frame row (index is inconsistent)") from None
        self._row_of_kf = {k: i for i, k in enumerate(self.kf_ids.tolist())}

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
    def embed_images(self, images: list[np.ndarray], flip: bool = True) -> np.ndarray:
        """(n, [2,] d): each image and, with ``flip``, its mirror image."""
        batch = list(images) + ([np.ascontiguousarray(im[:, ::-1]) for im in images] if flip else [])
        v = self.model.embed(batch)
        return np.stack([v[: len(images)], v[len(images):]], axis=1) if flip else v[:, None, :]

    def query_frames(self, query: Query) -> tuple[list[np.ndarray], list[float], str]:
        """Decode a query: (images, their times in the query, 'image' | 'clip')."""
        from ..video.still import load_image

        if isinstance(query, np.ndarray):
            return [_as_rgb(query)], [0.0], "image"
        if isinstance(query, Image.Image):
            return [np.asarray(query.convert("RGB"))], [0.0], "image"
        if isinstance(query, (bytes, bytearray, memoryview)):
            return self._query_bytes(bytes(query))
        if not isinstance(query, (str, os.PathLike)):
            raise TypeError(f"a query is a path, a PIL image, a uint8 array or bytes, not {type(query).__name__}")
        path = Path(query)
        image_error = None
        if is_image_path(path):
            try:
                return [load_image(path, 1024)], [0.0], "image"
            except InputError as exc:
                image_error = exc  # maybe a video with an image name: the decoder decides
        try:
            return self._clip_frames(path)
        except InputError:
            if image_error is not None:
                raise image_error from None
            raise

    def _query_bytes(self, data: bytes) -> tuple[list[np.ndarray], list[float], str]:
        """An encoded image, or else a clip (decoded from a temporary file)."""
        from PIL import UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as img:
                return [np.asarray(img.convert("RGB"))], [0.0], "image"
        except (UnidentifiedImageError, OSError, ValueError):
            pass
        with tempfile.NamedTemporaryFile(suffix=".query") as fh:
            fh.write(data)
            fh.flush()
            try:
                return self._clip_frames(Path(fh.name))
            except InputError as exc:
                raise InputError("query bytes", exc.cause) from None

    @staticmethod
    def _clip_frames(path: Path) -> tuple[list[np.ndarray], list[float], str]:
        from ..video import KeyframeConfig, summarise

        s = summarise(path, KeyframeConfig(max_gap=1.0, dedupe_threshold=1.0))
        kfs = s.keyframes
        if not kfs:
            raise InputError(path, "no usable frame in the query")
        if len(kfs) > CLIP_MAX_FRAMES:
            kfs = [kfs[i] for i in np.linspace(0, len(kfs) - 1, CLIP_MAX_FRAMES).round().astype(int)]
        if s.frames == 1:
            return [kfs[0].image], [0.0], "image"
        return [k.image for k in kfs], [k.time for k in kfs], "clip"

    # -- ranking ---------------------------------------------------------------------------
    def candidates(self, qvecs: np.ndarray, r: int, rerank: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Best ``r`` key frames of one query (rows: variants such as the mirror): (rows, scores).

        With ``rerank`` the ADC candidates are re-scored exactly with the stored vectors (and an index no
        larger than ``r`` is scored exactly throughout); without, scores come from the PQ distances.
        """
        n = len(self)
        r = min(max(r, 1), n)
        if rerank and r >= n:  # small index: exact scores of everything
            scores = (self.vectors.astype(np.float32) @ qvecs.T).max(axis=1)
            rows = np.argsort(-scores, kind="stable")
            return rows, scores[rows]
        dist, ids = self.adc.search(qvecs, r)
        if rerank:
            rows = np.unique(ids[ids >= 0])
            scores = (self.vectors[rows].astype(np.float32) @ qvecs.T).max(axis=1)
        else:  # unit vectors: |q - x|^2 = 2 - 2 cos; a key frame's best distance over the query's variants
            valid = ids >= 0
            rows, inverse = np.unique(ids[valid], return_inverse=True)
            best = np.full(len(rows), np.inf, dtype=np.float32)
            np.minimum.at(best, inverse, dist[valid])
            scores = 1.0 - best / 2.0
        order = np.argsort(-scores, kind="stable")
        return rows[order], scores[order]

    def _group(self, rows: np.ndarray, scores: np.ndarray, k: int) -> list[Hit]:
        hits: list[Hit] = []
        seen: set[int] = set()
        for row, score in zip(rows.tolist(), scores.tolist()):
            vid = int(self.kf_video[row])
            if vid in seen:
                continue
            seen.add(vid)
            hits.append(Hit(self.video_paths[vid], float(score), float(self.kf_time[row]), int(self.kf_frame[row]),
                            int(self.kf_ids[row]), vid))
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
        nq = len(times)
        ranked = []
        for vid, matches in per_video.items():
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
            ranked.append(Hit(self.video_paths[vid], total, offset, int(self.kf_frame[top[2]]), int(self.kf_ids[top[2]]), vid))
        ranked.sort(key=lambda h: -h.score)
        return ranked[:k]

    def search(self, query: Query, k: int = 10, refine: int = DEFAULT_REFINE, flip: bool = True) -> list[Hit]:
        """Search with an image or a clip (see :data:`Query`); best video first, one entry per video.

        ``refine``: key frames re-ranked exactly (0: PQ distances only); ``flip``: also search the mirror image.
        """
        return self.search_query(query, k, refine, flip)[0]

    def search_query(self, query: Query, k: int = 10, refine: int = DEFAULT_REFINE,
                     flip: bool = True) -> tuple[list[Hit], str]:
        """Like :meth:`search`, also saying how the query was read: ``'image'`` or ``'clip'``."""
        images, times, kind = self.query_frames(query)
        if len(self) == 0:
            return [], kind
        vecs = self.embed_images(images, flip=flip)
        if kind == "image":
            return self.search_image_vectors(vecs[0], k, refine), kind
        return self.search_clip_vectors(vecs, times, k, refine), kind

    # -- thumbnails (for the web page) -----------------------------------------------------
    def thumbnail(self, kf_id: int) -> bytes:
        if kf_id not in self._row_of_kf:
            raise KeyError(kf_id)
        for rel in self.manifest.files["keyframes"]:
            t = read_table(self.path, rel, ["kf_id", "thumb"])
            ids = t.column("kf_id").to_numpy()
            pos = np.nonzero(ids == kf_id)[0]
            if len(pos):
                return t.column("thumb")[int(pos[0])].as_py()
        raise KeyError(kf_id)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"an array query must be uint8 pixels (H, W[, 3]), got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise TypeError(f"an array query must be (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}")
    return np.ascontiguousarray(image[:, :, :3])


def hits_json(query: str, hits: list[Hit]) -> dict:
    return {"query": query, "results": [h.to_json() for h in hits]}

