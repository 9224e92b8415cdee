"""Work done inside Spark tasks (executors): each reads its own input and returns Arrow batches.

Models reach executors by path (the staging or index model folder, on storage every executor can
read) and are loaded once per Python worker process (Spark reuses workers), never per frame.
Everything here is deterministic: one torch / FAISS thread per task, seeded k-means.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa

from ..errors import VidseekError
from ..inputs import is_image_path
from ..store.layout import keyframe_id, stable_id
from ..store.codes import CodeRows, write_codes_part
from ..store.schemas import EXTRACT_SCHEMA, PAIR_SCHEMA, SAMPLE_SCHEMA, WHITENED_SCHEMA, WRITTEN_SCHEMA, vectors_from_column



def _set_threads(n: int) -> None:
    """One thread for torch and for BLAS/LAPACK in this worker: Spark already runs a task per core, and the
    numeric results must not depend on thread counts (see docs/reliability.md)."""
    import torch
    from threadpoolctl import threadpool_limits

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    threadpool_limits(limits=n, user_api="blas")


@lru_cache(maxsize=1)
def _backbone(name: str, weights: str | None, device: str, image_size: int):
    from ..features.backbones import Backbone

    return Backbone(name, weights=weights, device=device, image_size=image_size)


@lru_cache(maxsize=2)
def _feature_model(model_dir: str, weights: str | None, device: str, stamp: float):
    from ..store.model_files import load_model

    return load_model(model_dir, weights=weights, device=device, backbone_cache=_backbone)


def load_feature_model(params: dict):
    folder = Path(params["model_dir"])
    stamp = (folder / "features.json").stat().st_mtime
    return _feature_model(str(folder), params.get("weights"), params.get("device", "cpu"), stamp)


def _keyframe_config(params: dict):
    from ..video import DetectorConfig, KeyframeConfig

    kc = params.get("keyframes", {})
    det = DetectorConfig(**kc.get("detector", {}))
    return KeyframeConfig(**{**{k: v for k, v in kc.items() if k != "detector"}, "detector": det})


def keyframe_source(path: str, params: dict):
    """(kind, iterable of key frames, stream or None) of a video or a still image; the stream, once
    exhausted, knows the video's duration, frame count and decode errors."""
    from ..video import KeyFrame, KeyframeStream
    from ..video.keyframes import encode_jpeg
    from ..video.still import load_image

    cfg = _keyframe_config(params)
    if is_image_path(path):
        try:
            img = load_image(path, cfg.analysis_size)
        except VidseekError:
            img = None
        if img is not None:
            thumb = encode_jpeg(img, cfg.thumb_size, cfg.thumb_quality)
            return "image", [KeyFrame(path, 0, 0, 0.0, img, thumb)], None
        # not an image after all: maybe a video with an image-like name; let the decoder say
    stream = KeyframeStream(path, cfg, threads=int(params.get("decoder_threads", 1)))
    return "video", stream, stream


def _batches(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


def extract_file(path: str, params: dict, model) -> Iterator[pa.RecordBatch]:
    """Key-frame rows of ``path`` in batches of ``batch_keyframes`` as the video is decoded, then its file row.

    Memory holds one batch of key frames at a time, whatever the length of the video.
    """
    video_id = stable_id(path)
    stream = None
    try:
        kind, keyframes, stream = keyframe_source(path, params)
        n = 0
        for kfs in _batches(keyframes, int(params.get("batch_keyframes", 32))):
            vectors = model.pwa([k.image for k in kfs]).astype(np.float16)
            n += len(kfs)
            yield _keyframe_batch(path, video_id, kind, kfs, vectors)
        if not n:
            raise VidseekError(path, "no key frames")
    except VidseekError as exc:
        yield _file_batch(path, video_id, "video", "error", exc.cause)
        return
    except Exception as exc:  # noqa: BLE001 - one broken file never fails the task
        yield _file_batch(path, video_id, "video", "error", f"unexpected error: {type(exc).__name__}: {exc}")
        return
    finally:
        if stream is not None:
            stream.close()
    if stream is None:
        yield _file_batch(path, video_id, kind, "ok", None, 0.0, 1)
    else:
        yield _file_batch(path, video_id, kind, "ok", damage_note(stream.errors), stream.duration, stream.frames)


def damage_note(errors: list[str]) -> str | None:
    """What to tell the user about a file indexed despite decode errors (None when it had none)."""
    if not errors:
        return None
    return f"partly damaged: indexed what decoded; {len(errors)} decode error(s), the first: {errors[0]}"


def _keyframe_batch(path: str, video_id: int, kind: str, kfs: list, vectors: np.ndarray) -> pa.RecordBatch:
    n = len(kfs)
    return pa.RecordBatch.from_pydict(
        {
            "video_id": [video_id] * n,
            "path": [path] * n,
            "kind": [kind] * n,
            "status": ["ok"] * n,
            "error": [None] * n,
            "duration": [None] * n,
            "frames": [None] * n,
            "kf_id": [keyframe_id(path, k.frame) for k in kfs],
            "frame": [k.frame for k in kfs],
            "time": [round(k.time, 6) for k in kfs],
            "shot": [k.shot for k in kfs],
            "thumb": [k.thumbnail for k in kfs],
            "pwa": [v.tobytes() for v in vectors],
        },
        schema=EXTRACT_SCHEMA,
    )


def _file_batch(path: str, video_id: int, kind: str, status: str, error: str | None,
                duration: float | None = None, frames: int | None = None) -> pa.RecordBatch:
    row = {f.name: [None] for f in EXTRACT_SCHEMA}
    row.update(video_id=[video_id], path=[path], kind=[kind], status=[status], error=[error],
               duration=[duration], frames=[frames])
    return pa.RecordBatch.from_pydict(row, schema=EXTRACT_SCHEMA)


def extract_partition(params_json: str):
    """mapInArrow function: rows of ``path`` -> key-frame rows and file rows (EXTRACT_SCHEMA)."""
    params = json.loads(params_json)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        _set_threads(int(params.get("torch_threads", 1)))
        model = None
        files = keyframes = 0
        for batch in batches:
            for path in batch.column("path").to_pylist():
                if model is None:
                    model = load_feature_model(params)
                for out in extract_file(path, params, model):
                    keyframes += out.num_rows if out.column("kf_id").null_count == 0 else 0
                    yield out
                files += 1
                _report_progress(params.get("progress_dir"), files, keyframes)

    return run


def _report_progress(folder: str | None, files: int, keyframes: int) -> None:
    """Files and key frames this task has done, for the driver's progress display (best effort)."""
    if not folder:
        return
    from pyspark import TaskContext

    from ..atomic import write_text

    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        write_text(Path(folder) / f"part-{TaskContext.get().partitionId():05d}", f"{files} {keyframes}")
    except OSError:
        pass


def read_progress(folder: Path) -> tuple[int, int]:
    """Sum of the (files, key frames) the tasks of one extraction job reported."""
    files = keyframes = 0
    for f in folder.glob("part-*"):
        try:
            a, b = f.read_text().split()
            files, keyframes = files + int(a), keyframes + int(b)
        except (OSError, ValueError):
            continue
    return files, keyframes


def sample_images(path: str, params: dict) -> list[np.ndarray]:
    """A bounded sample of frames spread over a video (or the image itself).

    Raises :class:`VidseekError` when the file gives no frame."""
    from ..video import sample_frames
    from ..video.still import load_image

    cfg = _keyframe_config(params)
    if is_image_path(path):
        try:
            return [load_image(path, cfg.analysis_size)]
        except VidseekError:
            pass  # maybe a video with an image-like name
    try:
        return sample_frames(path, cfg, every=float(params["sample_every"]), most=int(params["sample_most"]))
    except VidseekError:
        raise  # already one file's one-line cause
    except Exception as exc:  # noqa: BLE001 - a file that breaks the decoder is one file's problem
        raise VidseekError(path, f"unexpected error: {type(exc).__name__}: {exc}") from None


def sample_partition(params_json: str):
    """mapInArrow function: rows of ``path`` -> sum-pooled backbone responses of sampled frames (stage 0)."""
    params = json.loads(params_json)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        _set_threads(int(params.get("torch_threads", 1)))
        for batch in batches:
            for path in batch.column("path").to_pylist():
                try:
                    images = sample_images(path, params)
                except VidseekError as exc:
                    yield pa.RecordBatch.from_pydict({"path": [path], "sample": [0], "sums": [None], "error": [exc.cause]},
                                                     schema=SAMPLE_SCHEMA)
                    continue
                sums = load_feature_model(params).sum_pooled(images)
                n = len(sums)
                yield pa.RecordBatch.from_pydict(
                    {"path": [path] * n, "sample": list(range(n)), "sums": [r.tobytes() for r in sums], "error": [None] * n},
                    schema=SAMPLE_SCHEMA)

    return run


def whiten_partition(params_json: str):
    """mapInArrow function: extracted rows -> (kf_id, video_id, frame, time, whitened float32 vector bytes)."""
    params = json.loads(params_json)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        _set_threads(1)
        model = load_feature_model(params)
        dim = model.pwa_dim
        for batch in batches:
            if batch.num_rows == 0:
                continue
            pwa = np.frombuffer(b"".join(batch.column("pwa").to_pylist()), dtype=np.float16).reshape(-1, dim)
            vec = model.whiten(pwa.astype(np.float32))
            yield pa.RecordBatch.from_pydict(
                {"kf_id": batch.column("kf_id"), "video_id": batch.column("video_id"), "frame": batch.column("frame"),
                 "time": batch.column("time"), "vec": [v.tobytes() for v in vec]},
                schema=WHITENED_SCHEMA,
            )

    return run


EDIT_SEED = 7121  # the edits of the learned whitening's pairs: seeded by this and the key frame's picture


def edited_partition(params_json: str):
    """mapInArrow function: (kf_id, thumb) -> (kf_id, PWA of ``copies`` edited copies of the thumbnail, one
    after the other): the pairs the whitening is learned from.  Each copy gets 1-3 random edits
    (vidseek.features.augment) seeded by the key frame's picture (not its id: that hashes the video's path, and
    an index of the same videos in another folder would learn other edits) and the copy's number, and goes
    through the network alone, so its vector does not depend on how Spark batches the rows."""
    params = json.loads(params_json)
    copies = int(params.get("edit_copies", 1))

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import io

        from PIL import Image

        _set_threads(1)
        model = load_feature_model(params)
        for batch in batches:
            ids, vecs = batch.column("kf_id").to_pylist(), []
            for kf, thumb in zip(ids, batch.column("thumb").to_pylist()):
                img = np.asarray(Image.open(io.BytesIO(thumb)).convert("RGB"))
                key = picture_key(thumb)
                vecs.append(b"".join(model.pwa([_edited(img, key, c)])[0].astype(np.float16).tobytes()
                                     for c in range(copies)))
            if ids:
                yield pa.RecordBatch.from_pydict({"kf_id": ids, "pwa": vecs}, schema=PAIR_SCHEMA)

    return run


def picture_key(thumb: bytes) -> int:
    """A non-negative 63-bit key of a key frame's thumbnail (JPEG bytes): the seed of its edits."""
    return int.from_bytes(hashlib.blake2b(thumb, digest_size=8).digest(), "big") >> 1


def _edited(img: np.ndarray, key: int, copy: int) -> np.ndarray:
    """Copy ``copy`` of a key frame's picture with its seeded random edits (copy 0: seeded as in one-copy builds)."""
    from ..features.augment import combine

    seed = [EDIT_SEED, key] + ([copy] if copy else [])
    try:
        return combine(np.random.default_rng(seed), img.shape[:2]).apply(img)
    except ValueError:  # a degenerate picture (1x1 px...): its pair is itself, no edit learned
        return img


@lru_cache(maxsize=4)
def _model_file(kind: str, path: str, stamp: float):
    from ..store.model_files import load_ivf, load_pq

    return {"pq": load_pq, "ivf": load_ivf}[kind](path)


def _loaded(kind: str, path: str):
    """The codebooks ("pq") or coarse quantiser ("ivf") at ``path``, loaded once per Python worker (again if the
    file changes)."""
    return _model_file(kind, path, Path(path).stat().st_mtime)


def encode_table(table: pa.Table, params: dict, part: int) -> tuple[str, int]:
    """Whitened rows (with their inverted ``list`` in an inverted-file index: codes of their residuals) -> codes
    part ``part`` and its vectors file (:func:`vidseek.store.codes.write_codes_part`): (file, rows)."""
    _set_threads(1)
    pq = _loaded("pq", params["pq_path"])
    vec = vectors_from_column(table.column("vec"), pq.d)
    lists = table.column("list").to_numpy() if "list" in table.column_names else None
    if lists is None:
        codes = pq.encode(vec)
    else:
        codes = _loaded("ivf", params["ivf_path"]).encoded(pq, vec, lists)
    rows = CodeRows(table.column("kf_id").to_numpy(), table.column("video_id").to_numpy(),
                    table.column("frame").to_numpy(), table.column("time").to_numpy(), codes, vec, lists)
    return write_codes_part(params["out_dir"], params["vectors_dir"], f"part-{part:05d}", rows)


def encode_partition(params_json: str):
    """mapInArrow function: a partition of whitened rows -> one codes part written by this task
    (:func:`encode_table`); yields one (file, rows) row per part written."""
    params = json.loads(params_json)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        got = [b for b in batches if b.num_rows]
        if not got:
            return
        name, n = encode_table(pa.Table.from_batches(got), params, TaskContext.get().partitionId())
        yield pa.RecordBatch.from_pydict({"file": [name], "rows": [n]}, schema=WRITTEN_SCHEMA)

    return run


def assign_partition(params_json: str):
    """mapInArrow function: whitened rows -> the same rows with their inverted ``list`` (nearest coarse centroid)."""
    params = json.loads(params_json)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        _set_threads(1)
        coarse = _loaded("ivf", params["ivf_path"])
        for batch in batches:
            if batch.num_rows == 0:
                continue
            vec = vectors_from_column(batch.column("vec"), coarse.d)
            yield batch.append_column("list", pa.array(coarse.assign(vec), pa.int32()))

    return run


def train_coarse_task(params_json: str) -> bytes:
    """Spark task: the coarse quantiser's k-means on the training sample (read here, from Parquet); with
    ``residual_path``, the sample's residuals from the centroids written there too (Parquet, a ``vec`` column)."""
    import pyarrow.parquet as pq_io

    from ..quantize.ivf import CoarseQuantizer, train_coarse

    params = json.loads(params_json)
    _set_threads(1)
    x = vectors_from_column(pq_io.read_table(params["sample_path"], columns=["vec"]).column("vec"), int(params["d"]))
    centroids = train_coarse(x, int(params["nlist"]), int(params["niter"]), int(params["seed"]), threads=1)
    if params.get("residual_path"):  # the PQ codebooks' training sample: residuals from the centroids
        out = Path(params["residual_path"])
        out.parent.mkdir(parents=True, exist_ok=True)
        res = np.ascontiguousarray(CoarseQuantizer(centroids).residuals(x), np.float32)
        pq_io.write_table(pa.table({"vec": pa.array([r.tobytes() for r in res], pa.binary())}), out)
    return centroids.tobytes()


def train_subspace(j: int, params_json: str) -> tuple[int, bytes]:
    """Spark task: k-means of sub-space ``j`` on the PQ training sample (read here, from Parquet)."""
    import pyarrow.parquet as pq_io

    from ..quantize.kmeans import kmeans

    params = json.loads(params_json)
    _set_threads(1)
    d, m, nbits = int(params["d"]), int(params["m"]), int(params["nbits"])
    table = pq_io.read_table(params["sample_path"], columns=["vec"])
    x = vectors_from_column(table.column("vec").combine_chunks(), d)
    dsub = d // m
    sub = np.ascontiguousarray(x[:, j * dsub : (j + 1) * dsub])
    c = kmeans(sub, 1 << nbits, int(params["niter"]), int(params["seed"]) + j, threads=1)
    return j, c.astype(np.float32).tobytes()
