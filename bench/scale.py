"""Search at scale: vidseek's inverted-file index against faiss at N key frames, each engine in its own process.

    python bench/scale.py [--n 1000000] [--index IDX] [--nprobe 32] [--queries 200]

The collection: the real key frames of the shared-video index (built here unless --index is given), plus
synthetic videos of 100 key frames up to N, drawn from a Gaussian fitted on the real key frames (between- and
within-video covariance, neighbouring key frames as alike as real ones: vidseek.eval.synthetic.VideoModel; no
synthetic key frame is a near-copy of a real one), assigned to lists by a coarse k-means trained like the
build's (on 65,536 vectors, nlist = vidseek's default for N), PQ-encoded as the build encodes them (codebooks
trained on the sample's residuals from the lists, codes of the residuals: CoarseQuantizer.encoded) and written
through the index's own writer (vidseek.store.codes.write_codes_part: parts by list range, sorted), then
committed as an index.
Queries: real key frames with noise, each with a second noisy copy standing for its mirror (model time is
left out); 2 vectors per interactive query.

Engines, each opened in a fresh process (open time and RSS are of that process; rss_index_mb is what opening added
after the imports, which are the same for every engine: vidseek, faiss, torch):
- vidseek: Index.open (codes into faiss inverted lists, vectors left on disk); p50/p99 are its engine (ADC top-10);
  "rank" is the whole ranking of one query + mirror (ADC top-256 per variant, exact re-ranking with vectors read
  from disk, calibrated scores, grouping per video);
- faiss_ivfpq: faiss.IndexIVFPQ as a faiss user builds it (residual codes, PQ trained by faiss) with the same
  coarse centroids, nlist, m and nprobe;
- faiss_pq: faiss.IndexPQ (exhaustive ADC over codes of the vectors, PQ trained by faiss on the same sample);
- faiss_fastscan: faiss.IndexIVFPQFastScan, 2*m sub-quantisers of 4 bits (the same code size), same lists.
recall@10: share of the exhaustive ADC top-10 of the engine's own codes (every list probed) found; src@10: share of queries whose
source key frame (the one the query is a noisy copy of: what copy detection must find) is in the top-10; top video:
share of vidseek's whole rankings whose first video is the source's. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SAMPLE = 65536


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


# -- making the collection -------------------------------------------------------------------------
def make_index(base: Path, out: Path, n: int, seed: int = 0, ivf: bool = True) -> dict:
    """Write an index of ``n`` key frames at ``out`` (model of ``base``; an inverted file unless not ``ivf``);
    returns what was made."""
    import shutil

    from vidseek.quantize.ivf import default_nlist, train_coarse, CoarseQuantizer
    from vidseek.quantize.pq import ProductQuantizer
    from vidseek.search import Index
    from vidseek.store.codes import CodeRows, VECTORS, write_codes_part
    from vidseek.store.commit import commit
    from vidseek.store.layout import generation_files, keyframe_id, read_manifest
    from vidseek.store.model_files import IVF_FILE, PQ_FILE, save_ivf, save_pq

    src = Index.open(base, device="cpu")
    real, real_video, real_time = real_keyframes(src)
    man = read_manifest(base)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(base / man.model_dir, out / "model/gen=1")
    t0 = time.perf_counter()
    x, video, frame = collection(real, real_video, real_time, n, seed)
    nlist = default_nlist(n) if ivf else 1
    sample = x[np.random.default_rng(seed).choice(n, min(n, SAMPLE), replace=False)]
    coarse = CoarseQuantizer(train_coarse(sample, nlist, threads=None), residual=ivf)
    pq = src.pq
    if ivf:  # as the build: codebooks of the sample's residuals from the lists
        save_ivf(coarse, out / "model/gen=1" / IVF_FILE)
        pq = ProductQuantizer(src.pq.d, src.pq.config).train(coarse.residuals(sample))
        save_pq(pq, out / "model/gen=1" / PQ_FILE)
    lists = np.concatenate([coarse.assign(x[s : s + 262144]) for s in range(0, n, 262144)])
    codes = np.concatenate([coarse.encoded(pq, x[s : s + 262144], lists[s : s + 262144]) for s in range(0, n, 262144)])
    made = time.perf_counter() - t0
    kf_ids = np.fromiter((keyframe_id(f"synthetic://{v}", f) for v, f in zip(video.tolist(), frame.tolist())), np.int64, n)
    stored = []
    for i, rows in enumerate(np.array_split(np.argsort(lists, kind="stable"), max(1, n // 1_000_000))):
        # list ranges, as the build's range partitioning; the writer sorts a part by (list, key frame)
        write_codes_part(str(out / "codes/gen=1"), str(out / VECTORS / "gen=1"), f"part-{i:05d}",
                         CodeRows(kf_ids[rows], video[rows], frame[rows], frame[rows] * 2.0, codes[rows], x[rows],
                                  lists[rows] if ivf else None))
        stored.append(rows[np.lexsort((kf_ids[rows], lists[rows] if ivf else np.zeros(len(rows))))])
    write_tables(out, kf_ids, video, frame, thumb_pool(base), max(1, n // 1_000_000))
    commit(out, None, 1, "model/gen=1", generation_files(out, 1), keep_old=False,
           params={"nlist": nlist, "synthetic": True}, removed=[])
    return {"x": x, "codes": codes, "lists": lists, "coarse": coarse, "pq": pq, "nlist": nlist,
            "make_s": made, "real": len(real), "stored": np.concatenate(stored), "video": video}


def real_keyframes(index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, video, time) of an opened index's live key frames, in video order and by time within a video."""
    rows = index.table.live_rows()
    video, when = index.table.video_of(rows), np.asarray(index.table.time)[rows]
    order = np.lexsort((when, video))
    return index.table.vectors(rows[order]).astype(np.float32), video[order], when[order]


def collection(real: np.ndarray, real_video: np.ndarray, real_time: np.ndarray, n: int, seed: int,
               per_video: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, video, frame) of ``n`` key frames in video order: the real ones (in video and time order), then
    synthetic videos of ``per_video`` key frames drawn from a model fitted on them."""
    from vidseek.eval.synthetic import VideoModel

    model = VideoModel.fit(real, real_video, real_time)
    _, video = np.unique(real_video, return_inverse=True)
    frame = np.concatenate([np.arange(c) for c in np.bincount(video)])
    x = np.empty((n, real.shape[1]), np.float32)
    x[: len(real)] = real
    step = 2000  # videos drawn at a time
    for i, s in enumerate(range(len(real), n, step * per_video)):
        e = min(n, s + step * per_video)
        x[s:e] = model.sample(-(-(e - s) // per_video), per_video, seed + i)[: e - s]
    syn = np.arange(n - len(real))
    video = np.concatenate([video, video.max() + 1 + syn // per_video])
    frame = np.concatenate([frame, syn % per_video])
    return x, video.astype(np.int64), frame.astype(np.int64)


def thumb_pool(base: Path, side: int = 48) -> list[bytes]:
    """Small JPEGs made from the base index's thumbnails, for the synthetic key frames (a real thumbnail is about
    4 KB; 10M of them would not fit this machine's disk: the lookup cost does not depend on the size)."""
    import io

    import pyarrow.parquet as pq_io
    from PIL import Image

    from vidseek.store.layout import read_manifest

    pool = []
    for rel in read_manifest(base).files["keyframes"]:
        for jpeg in pq_io.read_table(base / rel, columns=["thumb"]).column("thumb").to_pylist():
            img = Image.open(io.BytesIO(jpeg))
            img.thumbnail((side, side))
            buf = io.BytesIO()
            img.convert("RGB").save(buf, format="JPEG", quality=60)
            pool.append(buf.getvalue())
    return pool


def write_tables(out: Path, kf_ids: np.ndarray, video: np.ndarray, frame: np.ndarray, pool: list[bytes],
                 parts: int) -> None:
    """The videos table and ``parts`` key-frames parts, each with its thumbnails sidecar (thumbnails from
    ``pool``, in turn)."""
    import pyarrow as pa
    import pyarrow.parquet as pq_io

    from vidseek.store.thumbs import THUMBS, encode_thumbs

    n, nv = len(kf_ids), int(video[-1]) + 1
    count = np.bincount(video, minlength=nv)
    (out / "videos/gen=1").mkdir(parents=True)
    pq_io.write_table(pa.table({"video_id": np.arange(nv, dtype=np.int64), "path": [f"synthetic://{i}" for i in range(nv)],
                                "kind": ["video"] * nv, "status": ["ok"] * nv, "error": pa.nulls(nv, pa.string()),
                                "duration": 2.0 * count, "frames": 50 * count,
                                "keyframes": count}), out / "videos/gen=1/part-00000.parquet")
    (out / "keyframes/gen=1").mkdir(parents=True)
    (out / THUMBS / "gen=1").mkdir(parents=True)
    for i, rows in enumerate(np.array_split(np.arange(n), parts)):  # in video order, as a build writes them
        m = len(rows)
        pq_io.write_table(pa.table({"kf_id": kf_ids[rows], "video_id": video[rows], "frame": frame[rows],
                                    "time": frame[rows] * 2.0, "shot": np.zeros(m, np.int32),
                                    "thumb": pa.nulls(m, pa.binary())}),  # the sidecar holds them
                          out / f"keyframes/gen=1/part-{i:05d}.parquet")
        blobs = [pool[r % len(pool)] for r in rows.tolist()]
        (out / THUMBS / f"gen=1/part-{i:05d}.bin").write_bytes(encode_thumbs(kf_ids[rows], video[rows], blobs))


def make_faiss(made: dict, folder: Path, nprobe: int) -> dict[str, str]:
    """faiss indexes of the same collection, written to files (each engine process reads its own)."""
    import faiss

    x, pq, coarse, nlist = made["x"], made["pq"], made["coarse"], made["nlist"]
    sample = x[np.random.default_rng(1).choice(len(x), min(len(x), SAMPLE), replace=False)]
    files = {}
    ivfpq = faiss.IndexIVFPQ(faiss.IndexFlatL2(pq.d), pq.d, nlist, pq.m, 8)
    ivfpq.quantizer.add(coarse.centroids)
    ivfpq.train(sample)  # the coarse quantiser is trained already: faiss trains the residual PQ
    fs = faiss.IndexIVFPQFastScan(faiss.IndexFlatL2(pq.d), pq.d, nlist, 2 * pq.m, 4)
    fs.quantizer.add(coarse.centroids)
    fs.train(sample)
    for name, index in (("faiss_ivfpq", ivfpq), ("faiss_fastscan", fs)):
        for s in range(0, len(x), 262144):  # add() assigns the lists again: the same centroids, the same lists
            index.add(np.ascontiguousarray(x[s : s + 262144]))
        index.nprobe = nprobe
        files[name] = str(folder / f"{name}.faiss")
        faiss.write_index(index, files[name])
    flat = faiss.IndexPQ(pq.d, pq.m, 8)
    flat.train(sample)
    for s in range(0, len(x), 262144):
        flat.add(np.ascontiguousarray(x[s : s + 262144]))
    files["faiss_pq"] = str(folder / "faiss_pq.faiss")
    faiss.write_index(flat, files["faiss_pq"])
    return files


def queries(made: dict, nq: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(nq, 2, d): key frames with noise (half real, half drawn from the whole collection, so that queries land
    all over the space, not only near the real key frames), and a second noisy copy (the mirror's stand-in);
    and (nq,) the row of ``made["x"]`` each query was made from (its source)."""
    rng = np.random.default_rng(seed)
    x = made["x"]
    pick = np.where(np.arange(nq) % 2 == 0, rng.integers(0, made["real"], nq), rng.integers(0, len(x), nq))
    src = x[pick]
    q = src[:, None, :] + 0.35 * rng.standard_normal((nq, 2, x.shape[1])).astype(np.float32) / np.sqrt(x.shape[1])
    return (q / np.linalg.norm(q, axis=-1, keepdims=True)).astype(np.float32), pick


def sources(made: dict, pick: np.ndarray) -> dict[str, np.ndarray]:
    """Each query's source key frame as each engine numbers it: its row in the collection (faiss's indexes,
    filled in that order), in the index's stored order (vidseek), and its video."""
    inverse = np.empty(len(made["stored"]), np.int64)
    inverse[made["stored"]] = np.arange(len(made["stored"]))
    return {"x": pick, "stored": inverse[pick], "video": made["video"][pick]}


# -- one engine, in its own process -----------------------------------------------------------------------
def latency(fn, items) -> tuple[float, float]:
    for it in items[:10]:
        fn(it)
    times = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        times.append(time.perf_counter() - t)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 99) * 1e3)


def first_pass(fn, items) -> float:
    """p50 of one pass over items none of which was searched before in this process (their candidates' vectors
    read from disk, or from the page cache if another process read them)."""
    times = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        times.append(time.perf_counter() - t)
    return round(float(np.percentile(times, 50) * 1e3), 3)


def ranking(index, q: np.ndarray, video: np.ndarray | None) -> dict:
    """vidseek's whole ranking: a picture (query + mirror), and a 5-frame clip (5 noisy copies of a query, each with
    its mirror), first over candidates not read before, then again (warm); and the share of pictures and clips
    whose top video is their source's (``video``: each query's)."""
    rng = np.random.default_rng(1)
    clips = []
    for v in q[:40]:
        x = v[None] + rng.normal(0, 0.01, (5, *v.shape)).astype(np.float32)
        clips.append(x / np.linalg.norm(x, axis=-1, keepdims=True))
    picture = lambda v: index.search_image_vectors(v, k=10)  # noqa: E731
    clip = lambda c: index.search_clip_vectors(c, [0, 1, 2, 3, 4], k=10)  # noqa: E731
    out = {"rank_first_p50_ms": first_pass(picture, list(q)), "clip5_first_p50_ms": first_pass(clip, clips)}
    out["rank_p50_ms"], out["rank_p99_ms"] = (round(x, 3) for x in latency(picture, list(q)))
    out["clip5_p50_ms"] = round(latency(clip, clips)[0], 3)
    if video is not None:
        out["rank_top1"] = round(float(np.mean([picture(v)[0].video_id == s for v, s in zip(q, video)])), 4)
        out["clip5_top1"] = round(float(np.mean([clip(c)[0].video_id == s for c, s in zip(clips, video)])), 4)
    return out


def drop_page_cache() -> bool:
    """Empty the kernel's page cache (root only), so that a first pass reads the vectors from disk."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def recall10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a[:10]) & set(b[:10]) - {-1}) / 10 for a, b in zip(found, truth)]))


def run_engine(name: str, where: str, nprobe: int, qfile: str) -> dict:
    q = np.load(qfile)  # (nq, 2, d)
    srcfile = Path(qfile).with_name("src.npz")  # the queries' sources (runs before sources were saved: none)
    src = dict(np.load(srcfile)) if srcfile.is_file() else None
    batch = np.ascontiguousarray(np.concatenate([q[:, 0]] * max(1, 1000 // len(q)))[:1000])
    from vidseek.search import Index  # imports torch, then faiss: the order of every vidseek process

    import faiss  # noqa: E402 - after torch: faiss first loads a second OpenMP runtime beside torch's, and their
    # threads contend (vidseek's ranking at 10M on 2 cores: 11 ms instead of 2.4 ms for a first pass)

    base = rss_mb()  # after the imports: what opening the index adds
    t0 = time.perf_counter()
    if name == "vidseek":

        index = Index.open(where, device="cpu", nprobe=nprobe)
        search = index.engine.search
    else:
        index = faiss.read_index(where)
        if name != "faiss_pq":
            faiss.extract_index_ivf(index).nprobe = nprobe
        if name == "faiss_ivfpq":  # as vidseek's engine (search.engines.IVFEngine): faiss 1.15.1's default
            faiss.extract_index_ivf(index).parallel_mode = 1  # mode answers 2-3 queries wrongly at nlist 16,384
        search = index.search
    open_s = time.perf_counter() - t0
    out = {"open_s": round(open_s, 2), "rss_mb": round(rss_mb(), 1), "rss_index_mb": round(rss_mb() - base, 1)}
    out["p50_ms"], out["p99_ms"] = latency(lambda v: search(v, 10), list(q))
    if name == "vidseek":
        out.update(ranking(index, q, src["video"] if src else None))
    t = time.perf_counter()
    search(batch, 10)
    out["qps"] = round(len(batch) / (time.perf_counter() - t), 1)
    _, found = search(np.ascontiguousarray(q[:, 0]), 10)
    if name == "faiss_pq":  # exhaustive itself
        truth = found
    elif name == "vidseek":  # its own exhaustive ADC: every list probed
        lists = index.coarse.nlist if index.coarse is not None else 1
        truth = index.engine.search(np.ascontiguousarray(q[:, 0]), 10, nprobe=lists)[1]
    else:  # this engine's own exhaustive ADC: every list probed
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = ivf.nlist
        truth = index.search(np.ascontiguousarray(q[:, 0]), 10)[1]
    out["recall10"] = round(recall10(found, truth), 4)
    if src:  # the source key frame among the top-10 (its row as this engine numbers them)
        mine = src["stored" if name == "vidseek" else "x"]
        out["src10"] = round(float(np.mean([s in f[:10] for s, f in zip(mine.tolist(), found.tolist())])), 4)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def child(name: str, where: str, nprobe: int, qfile: str) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--where", where, "--nprobe", str(nprobe), "--qfile", qfile]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if r.returncode:
        raise RuntimeError(f"{name}: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def base_index(args, tmp: Path) -> Path:
    if args.index:
        return args.index
    from vidseek.engine.build import BuildConfig, build_index
    from vidseek.engine.session import SparkConfig

    build_index([str(args.data / "videos")], tmp / "shared", BuildConfig(spark=SparkConfig(master="local[*]"), quiet=True))
    return tmp / "shared"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--index", type=Path, help="base index (default: built here from the shared videos)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--nprobe", type=int, default=None, help="lists per query vector (default: vidseek's)")
    ap.add_argument("--sweep", default="8,16,64,128", help="more nprobe values for vidseek and faiss_ivfpq")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--work", type=Path, help="folder for the generated index (default: a temporary one)")
    ap.add_argument("--reuse", action="store_true", help="measure the engines an earlier run left in --work")
    ap.add_argument("--drop-caches", action="store_true", help="empty the page cache before vidseek's run (root): "
                                                                "its first pass then reads vectors from disk")
    ap.add_argument("--child"), ap.add_argument("--where"), ap.add_argument("--qfile")
    args = ap.parse_args()
    from vidseek.quantize.ivf import DEFAULT_NPROBE

    nprobe = args.nprobe or DEFAULT_NPROBE
    if args.child:
        print(json.dumps(run_engine(args.child, args.where, nprobe, args.qfile)))
        return
    if args.reuse and not (args.work and (args.work / "meta.json").is_file()):
        ap.error("--reuse needs --work with an earlier run's files (meta.json)")
    tmp = args.work or Path(tempfile.mkdtemp(prefix="vidseek-scale-"))
    tmp.mkdir(parents=True, exist_ok=True)
    files = {name: str(tmp / f"{name}.faiss") for name in ("faiss_ivfpq", "faiss_fastscan", "faiss_pq")}
    if args.reuse:  # the engines of an earlier run with the same --work (measurements only)
        meta = json.loads((tmp / "meta.json").read_text())
        print(f"{meta['n']:,} key frames ({meta['real']} real), nlist {meta['nlist']}, m={meta['m']}: reused from an "
              f"earlier run with --work {tmp} (made in {meta['make_s']:.0f} s, written in {meta['write_s']:.0f} s)")
    else:
        t = time.perf_counter()
        made = make_index(base_index(args, tmp), tmp / "index", args.n)
        meta = {"n": args.n, "real": made["real"], "nlist": made["nlist"], "m": made["pq"].m, "make_s": made["make_s"],
                "write_s": time.perf_counter() - t - made["make_s"]}
        print(f"{args.n:,} key frames ({meta['real']} real), nlist {meta['nlist']}, m={meta['m']}: vectors, lists and "
              f"codes made in {meta['make_s']:.0f} s, index written in {meta['write_s']:.0f} s")
        files = make_faiss(made, tmp, nprobe)
        q, pick = queries(made, args.queries)
        np.save(tmp / "q.npy", q)
        np.savez(tmp / "src.npz", **sources(made, pick))
        (tmp / "meta.json").write_text(json.dumps(meta))
        del made
    args.n = meta["n"]
    if args.drop_caches and not drop_page_cache():
        ap.error("--drop-caches: cannot write /proc/sys/vm/drop_caches (needs root)")
    results = {"vidseek": child("vidseek", str(tmp / "index"), nprobe, str(tmp / "q.npy"))}
    for name in ("faiss_ivfpq", "faiss_fastscan", "faiss_pq"):
        results[name] = child(name, files[name], nprobe, str(tmp / "q.npy"))
    print(f"\none query vector + its mirror (2 vectors), top-10, nprobe {nprobe}; {args.queries} queries; "
          "batch: 1,000 vectors in one call")
    cols = ("p50_ms", "p99_ms", "qps", "recall10", "src10", "open_s", "rss_mb", "rss_index_mb")
    print(f"{'engine':<16}" + "".join(f"{c:>14}" for c in cols))
    for name, r in results.items():
        print(f"{name:<16}" + "".join(f"{r.get(c, '-'):>14}" for c in cols))
    v = results["vidseek"]
    print(f"vidseek whole ranking (re-ranking, scores, grouping), warm: one query + mirror p50 {v['rank_p50_ms']} ms, "
          f"p99 {v['rank_p99_ms']} ms; a 5-frame clip p50 {v['clip5_p50_ms']} ms ({v['clip5_p50_ms'] / v['rank_p50_ms']:.1f}x)")
    print(f"  first pass ({'page cache dropped before' if args.drop_caches else 'page cache as found'}): one query + "
          f"mirror p50 {v['rank_first_p50_ms']} ms; a 5-frame clip p50 {v['clip5_first_p50_ms']} ms")
    if "rank_top1" in v:
        print(f"  top video is the source's: pictures {v['rank_top1']}, 5-frame clips {v['clip5_top1']}")
    for p in [int(s) for s in args.sweep.split(",") if s]:
        a = child("vidseek", str(tmp / "index"), p, str(tmp / "q.npy"))
        b = child("faiss_ivfpq", files["faiss_ivfpq"], p, str(tmp / "q.npy"))
        print(f"nprobe {p:>4}: vidseek p50 {a['p50_ms']} ms recall@10 {a['recall10']} src@10 {a.get('src10', '-')} "
              f"(rank p50 {a['rank_p50_ms']} ms, top video {a.get('rank_top1', '-')}); "
              f"faiss_ivfpq p50 {b['p50_ms']} ms recall@10 {b['recall10']} src@10 {b.get('src10', '-')}")
    keys = ("p50_ms", "p99_ms", "qps", "recall10", "rss_mb", "open_s")
    print(json.dumps({"n": args.n, **{k: {c: r[c] for c in keys} for k, r in results.items()}}))


if __name__ == "__main__":
    main()
