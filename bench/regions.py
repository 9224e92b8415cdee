"""How often the content region of a picture-in-picture query is found (`vidseek.search.regions`).

    python bench/regions.py [--seed 0] [--data ../shared/data]

Frames of every shared video (at 0.5, 2 and 4 s) are shrunk to 30-60% and pasted off-centre (left or right part)
on four kinds of ground: a flat colour, the synthetic texture of the accuracy bench's ``pip-textured`` edit, a
shared still picture, and a frame of another shared video; then, in turn, nothing, Gaussian noise, strong JPEG
or blur is applied (the accuracy bench's edits, with their random strengths).  An inset counts as found when the
first region :func:`content_regions` returns overlaps the true box with an intersection over union of 0.7 or
more.  The frames themselves, unframed, with the same edits and with an overlay, give the share that get a region
anyway ("region on a plain frame": not an error as such, since the search keeps the whole picture as well, but
one more view that an unrelated picture may match).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from vidseek.errors import VidseekError  # noqa: E402
from vidseek.eval.shared_split import SharedSplit  # noqa: E402
from vidseek.features import augment  # noqa: E402
from vidseek.search.regions import _iou as iou  # noqa: E402
from vidseek.search.regions import content_regions  # noqa: E402
from vidseek.video.decode import VideoReader  # noqa: E402

log = logging.getLogger("bench.regions")
GROUNDS = ["flat", "texture", "photo", "video"]
AFTER = ["none", "noise", "jpeg", "blur"]


def video_frames(videos: list[Path], times=(0.5, 2.0, 4.0)) -> list[np.ndarray]:
    out = []
    for v in videos:
        try:
            with VideoReader(str(v)) as reader:
                out += [f.rgb(640) for f in reader.frames_at(list(times))]
        except (VidseekError, OSError) as exc:
            log.warning("%s skipped: %s", v, exc)
    return out


def pictures(data: Path) -> list[np.ndarray]:
    out = []
    for p in sorted(data.glob("images/**/*")):
        if p.suffix.lower() in (".png", ".jpg") and "corrupt" not in p.name:
            out.append(np.asarray(Image.open(p).convert("RGB")))
    return out


def ground(kind: str, rng, h: int, w: int, stills: list, frames: list) -> np.ndarray:
    if kind == "flat":
        out = np.empty((h, w, 3), np.uint8)
        out[:] = rng.integers(0, 256, 3)
        return out
    if kind == "texture":
        return augment.texture(np.random.default_rng(int(rng.integers(1 << 31))), h, w)
    pool = stills if kind == "photo" else frames
    return np.asarray(Image.fromarray(pool[int(rng.integers(len(pool)))]).resize((w, h)))


def inset(rng, picture: np.ndarray, behind: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``picture`` at 30-60% on ``behind``, in its left or right part (as the ``pip`` edits place it)."""
    h, w = picture.shape[:2]
    s = rng.uniform(0.3, 0.6)
    sh, sw = int(h * s), int(w * s)
    y0 = int(rng.uniform(0, 1) * (h - sh))
    xf = rng.uniform(0, 1)
    x0 = int((xf * 0.5 if xf < 0.5 else 0.5 + xf * 0.5) * (w - sw))
    out = behind.copy()
    out[y0 : y0 + sh, x0 : x0 + sw] = np.asarray(Image.fromarray(picture).resize((sw, sh), Image.Resampling.BILINEAR))
    return out, (y0, y0 + sh, x0, x0 + sw)


def edited(kind: str, rng, image: np.ndarray) -> np.ndarray:
    if kind == "none":
        return image
    family = augment.FAMILIES[kind]
    return family.apply(image, family.params(rng, image.shape[:2]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    split = SharedSplit(args.data)
    frames = video_frames(split.positives + split.negatives)
    stills = pictures(Path(args.data))
    rng = np.random.default_rng(args.seed)
    found: dict[tuple[str, str], list[bool]] = {}
    plain: dict[str, list[bool]] = {}
    spent, calls = 0.0, 0
    for picture in frames:
        for g in GROUNDS:
            for after in AFTER:
                query, box = inset(rng, picture, ground(g, rng, *picture.shape[:2], stills, frames))
                query = edited(after, rng, query)
                t0 = time.perf_counter()
                regions = content_regions(query)
                spent, calls = spent + time.perf_counter() - t0, calls + 1
                found.setdefault((g, after), []).append(bool(regions) and iou(regions[0], box) >= 0.7)
        for after in AFTER + ["overlay"]:
            plain.setdefault(after, []).append(bool(content_regions(edited(after, rng, picture))))
    print(f"{len(frames)} frames of {len(split.positives + split.negatives)} shared videos, {len(stills)} stills; "
          f"seed {args.seed}; content_regions {1e3 * spent / calls:.1f} ms a picture")
    print()
    print("inset found (IoU >= 0.7), per ground and edit after it")
    print(f"{'ground':10}" + "".join(f"{a:>8}" for a in AFTER) + f"{'all':>8}")
    for g in GROUNDS:
        row = [np.mean(found[g, a]) for a in AFTER]
        print(f"{g:10}" + "".join(f"{v:8.2f}" for v in row) + f"{np.mean([x for a in AFTER for x in found[g, a]]):8.2f}")
    every = [x for v in found.values() for x in v]
    print(f"{'all':10}" + "".join(f"{np.mean([x for g in GROUNDS for x in found[g, a]]):8.2f}" for a in AFTER)
          + f"{np.mean(every):8.2f}")
    print()
    print("region on a plain frame (no framing edit): " + ", ".join(f"{a} {np.mean(v):.2f}" for a, v in plain.items()))


if __name__ == "__main__":
    main()
