"""Feature-stage throughput: key frames/s of the full stage vs the raw network forward, per backbone.

    python bench/features.py [--device cpu|cuda|auto] [--sizes 224 384] [--n 64] [--batch 8]

Full stage = pre-processing (resize of decoded key frames, tensor conversion, normalisation) + CNN + PWA +
PCA-whitening, on real key frames of the shared videos.  Raw = the network's forward alone on the same
pre-processed batches, in the same run.  Goal: full >= 70% of raw (the network is the only bottleneck).
VGG16's speed does not depend on its weights: without the ImageNet file it runs with random weights (said so).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vidseek.errors import ModelError  # noqa: E402
from vidseek.features.backbones import BACKBONES, Backbone  # noqa: E402
from vidseek.features.model import FeatureConfig, FeatureModel  # noqa: E402


def keyframe_images(data: Path, n: int, folder: str | None) -> list[np.ndarray]:
    imgs = []
    if folder:  # key-frame JPEGs written by `vidseek keyframes` (no video decoding needed)
        from PIL import Image

        imgs = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(Path(folder).rglob("*.jpg"))]
        imgs = [im for im in imgs if im.shape[:2] == (216, 384)]
    for v in sorted((data / "videos").rglob("*.mp4")) if not imgs else []:
        from vidseek.video import summarise

        imgs += [k.image for k in summarise(v).keyframes if k.image.shape[:2] == (216, 384)]
        if len(imgs) >= n:
            break
    while len(imgs) < n:
        imgs += imgs
    return imgs[:n]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 384])
    ap.add_argument("--n", type=int, default=64, help="key frames per measurement")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    ap.add_argument("--images", help="folder of key-frame JPEGs to use instead of decoding the shared videos")
    ap.add_argument("--weights", action="append", default=[], metavar="NAME=PATH", help="weights file per backbone")
    args = ap.parse_args()
    weights = dict(w.split("=", 1) for w in args.weights)
    images = keyframe_images(Path(args.data), args.n, args.images)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {len(images)} key frames of 384x216; "
          f"batch {args.batch}")
    print(f"{'backbone':<14}{'device':>7}{'size':>6}{'raw img/s':>11}{'full kf/s':>11}{'full/raw':>10}  note")
    for name in args.backbones:
        note = ""
        try:
            backbone = Backbone(name, device=args.device, weights=weights.get(name))
        except ModelError:
            backbone = Backbone(name, device=args.device, net=BACKBONES[name].make())
            note = "random weights (ImageNet file not available offline; speed is the same)"
        for size in args.sizes:
            backbone.image_size = size
            fm = FeatureModel(FeatureConfig(backbone=name, image_size=size, batch_size=args.batch), backbone=backbone)
            fm.fit_parts(images[:16])
            fm.fit_whitening(fm.pwa(images[: min(len(images), 48)]))
            prepared = [backbone.prepare(im) for im in images]
            batches = [backbone._to_tensor(prepared[i : i + args.batch]) for i in range(0, len(prepared), args.batch)]
            backbone.forward(batches[0])  # warm-up
            sync(backbone.device)
            t0 = time.perf_counter()
            for b in batches:
                backbone.forward(b)
            sync(backbone.device)
            raw = len(images) / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            out = fm.embed(images)
            sync(backbone.device)
            full = len(images) / (time.perf_counter() - t0)
            assert out.shape[0] == len(images)
            print(f"{name:<14}{backbone.device.type:>7}{size:>6}{raw:>11.1f}{full:>11.1f}{full / raw:>9.0%}  {note}")


if __name__ == "__main__":
    main()
