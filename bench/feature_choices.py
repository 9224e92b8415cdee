"""How image size and whitening choices change retrieval, to justify the defaults.

    python bench/feature_choices.py [--sizes 224 384] [--per-video 3]

Database: the key frames of every shared video plus the shared still images (not the ukbench variants).
Queries: the ukbench00120 variants (hflip, resize, rotation, gray), and random frames of the real-footage videos
with each common edit.  Exact cosine search (no PQ); recall@1 at video level, a known duplicate counts as a hit.
Flip-augmented: each query also searched mirrored, best score kept.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vidseek.eval.queries import frame_queries  # noqa: E402
from vidseek.features.model import FeatureConfig, FeatureModel  # noqa: E402
from vidseek.features.whitening import PCAWhitening, WhiteningConfig, l2n  # noqa: E402
from vidseek.video import summarise  # noqa: E402

EXCLUDE_QUERY = ("edge-cases", "fades.mp4", "counter.mp4", "delayed_start.mp4")
DUPLICATES = [("Megamind.avi", "Megamind_bugy.avi"), ("goldeneye-vfr-drop3.mp4", "issue-134-rotate.mp4"),
              ("carphone_pristine.mp4", "carphone_distorted.mp4")]


def same_source(a: str, b: str) -> bool:
    a, b = Path(a).name, Path(b).name
    return a == b or any({a, b} == set(p) for p in DUPLICATES)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 320, 384])
    ap.add_argument("--per-video", type=int, default=3)
    args = ap.parse_args()
    data = Path(args.data)
    videos = sorted(p for p in (data / "videos").rglob("*") if p.suffix in {".mp4", ".avi", ".mkv", ".webm"})
    kfs = [k for v in videos for k in summarise(v).keyframes]
    stills = {}
    for p in sorted((data / "images").rglob("*")):
        if p.suffix.lower() in {".jpg", ".png"} and "_" not in p.stem.replace("ukbench", "") or p.stem.endswith("_GRAY") or p.stem.endswith("_RGB"):
            try:
                stills.setdefault(p.read_bytes(), p)
            except OSError:
                continue
    still_paths = []
    still_imgs = []
    for p in stills.values():
        try:
            still_imgs.append(np.asarray(Image.open(p).convert("RGB")))
            still_paths.append(str(p))
        except Exception:
            pass
    ukb = sorted((data / "images/ukbench-mini").rglob("ukbench00120_*.jpg"))
    ukb_imgs = [np.asarray(Image.open(p).convert("RGB")) for p in ukb]
    qv = [v for v in videos if not any(x in str(v) for x in EXCLUDE_QUERY)]
    queries = frame_queries(qv, args.per_video, seed=1)
    print(f"database: {len(kfs)} key frames + {len(still_paths)} images; queries: {len(queries)} edited frames "
          f"from {len(qv)} videos + {len(ukb)} ukbench variants")
    db_owner = [k.video for k in kfs] + still_paths
    for size in args.sizes:
        t0 = time.time()
        fm = FeatureModel(FeatureConfig(image_size=size))
        fm.fit_parts([k.image for k in kfs])
        db = fm.pwa([k.image for k in kfs] + still_imgs)
        q = fm.pwa([x.image for x in queries] + ukb_imgs)
        qf = fm.pwa([x.image[:, ::-1].copy() for x in queries] + [u[:, ::-1].copy() for u in ukb_imgs])
        print(f"\nimage size {size}: features in {time.time() - t0:.0f} s")
        variants = {"raw PWA (no PCA)": None}
        for m in (64, 128, 256):
            variants[f"PCA only, M={m}"] = WhiteningConfig(dim=m, whiten=False)
            for shrink in (0.0, 0.5, 1.0):
                variants[f"whiten M={m} shrink={shrink}"] = WhiteningConfig(dim=m, shrink=shrink)
        print(f"{'variant':<28}{'frames R@1':>11}{'+flip':>7}{'ukbench':>9}  per edit (with flip)")
        for name, wc in variants.items():
            if wc is None:
                tr = lambda x: l2n(x)  # noqa: E731
            else:
                w = PCAWhitening(wc).fit(db[: len(kfs)])
                tr = w.transform
            D, Q, QF = tr(db), tr(q), tr(qf)
            s1 = Q @ D.T
            s2 = np.maximum(s1, QF @ D.T)
            res = []
            for s in (s1, s2):
                hits = [same_source(db_owner[int(np.argmax(s[i]))], queries[i].video) for i in range(len(queries))]
                res.append(hits)
            ukb_ok = sum("ukbench00120.jpg" in db_owner[int(np.argmax(s1[len(queries) + j]))] for j in range(len(ukb)))
            per_edit = {}
            for qq, h in zip(queries, res[1]):
                per_edit.setdefault(qq.edit, []).append(h)
            pe = " ".join(f"{e}:{np.mean(v):.2f}" for e, v in per_edit.items())
            print(f"{name:<28}{np.mean(res[0]):>11.3f}{np.mean(res[1]):>7.3f}{ukb_ok:>7}/{len(ukb)}  {pe}")


if __name__ == "__main__":
    main()
