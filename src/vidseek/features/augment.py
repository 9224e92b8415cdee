"""The edit families of copy-detection benchmarks (TRECVID CBCD, VSC22), with random strengths.

Each family maps an upright uint8 RGB image (H, W, 3) to an edited one. ``params(rng, shape)`` draws the
random choices once, so a clip gets the same edit on every frame; ``apply(image, params)`` applies them.
:func:`combine` draws 1-3 families (never two of the same group) and applies them in turn.

Strengths follow the benchmarks' settings: crops keep 50-85% of each side, picture-in-picture shrinks the
video to 30-60% of the frame off-centre, rotation 3-10 degrees, Gaussian noise sigma 5-25, JPEG quality 10-30
after downscaling to 40-80%, blur radius 1-3 px at 640 px, etc.

Two users: the build learns its whitening from key frames and edited copies of them (the edits a copy
suffers are the variation the descriptor should ignore; :mod:`vidseek.features.whitening`), and the accuracy
bench makes its queries with them (:mod:`vidseek.eval.queryset`, other seeds, other frames).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

Params = dict[str, Any]


@dataclass(frozen=True)
class Family:
    name: str
    group: str  # at most one family of a group in a combination (two geometric frames make no sense)
    params: Callable[[np.random.Generator, tuple[int, int]], Params]
    apply: Callable[[np.ndarray, Params], np.ndarray]


def _pil(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(a))


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))


# -- geometry --------------------------------------------------------------------------------
def _crop_params(rng, shape):
    fy, fx = rng.uniform(0.5, 0.85), rng.uniform(0.5, 0.85)
    return {"fy": fy, "fx": fx, "y": rng.uniform(0, 1 - fy), "x": rng.uniform(0, 1 - fx)}


def _crop(a, p):
    h, w = a.shape[:2]
    y0, x0 = int(p["y"] * h), int(p["x"] * w)
    ch, cw = max(1, int(p["fy"] * h)), max(1, int(p["fx"] * w))
    return np.asarray(_pil(a[y0 : y0 + ch, x0 : x0 + cw]).resize((w, h), Image.Resampling.BILINEAR))


def _bars_params(rng, shape):
    return {"frac": rng.uniform(0.1, 0.25), "colour": (0, 0, 0) if rng.random() < 0.5 else _colour(rng)}


def _bars(a, p, vertical: bool):
    h, w = a.shape[:2]
    if vertical:  # letterbox: bars above and below
        bar = max(1, int(h * p["frac"]))
        out = np.empty((h + 2 * bar, w, 3), np.uint8)
        out[:] = p["colour"]
        out[bar : bar + h] = a
    else:  # pillarbox: bars left and right
        bar = max(1, int(w * p["frac"]))
        out = np.empty((h, w + 2 * bar, 3), np.uint8)
        out[:] = p["colour"]
        out[:, bar : bar + w] = a
    return out


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A seeded textured background: smooth colour blobs, stripes and fine grain."""
    small = rng.integers(0, 256, (max(2, h // 32), max(2, w // 32), 3)).astype(np.uint8)
    base = np.asarray(_pil(small).resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    angle, period = rng.uniform(0, np.pi), rng.uniform(16, 64)
    stripes = 25 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    grain = rng.normal(0, 10, (h, w, 1))
    return np.clip(base + stripes[..., None] + grain, 0, 255).astype(np.uint8)


def _pip_params(rng, shape, textured: bool):
    return {"scale": rng.uniform(0.3, 0.6), "x": rng.uniform(0, 1), "y": rng.uniform(0, 1),
            "colour": _colour(rng), "textured": textured, "seed": int(rng.integers(1 << 31))}


def _pip(a, p):
    h, w = a.shape[:2]
    sh, sw = min(h, max(1, int(h * p["scale"]))), min(w, max(1, int(w * p["scale"])))
    inner = np.asarray(_pil(a).resize((sw, sh), Image.Resampling.BILINEAR))
    if p["textured"]:
        out = texture(np.random.default_rng(p["seed"]), h, w)
    else:
        out = np.empty((h, w, 3), np.uint8)
        out[:] = p["colour"]
    # off-centre: the inset sits in the left or the right part of the frame
    y0 = int(p["y"] * (h - sh))
    x_frac = p["x"] * 0.5 if p["x"] < 0.5 else 0.5 + p["x"] * 0.5  # the left or the right quarter
    x0 = int(x_frac * (w - sw))
    out[y0 : y0 + sh, x0 : x0 + sw] = inner
    return out


def _rotate_params(rng, shape):
    return {"angle": float(rng.uniform(3, 10) * rng.choice([-1, 1]))}


def _rotate(a, p):
    return np.asarray(_pil(a).rotate(p["angle"], resample=Image.Resampling.BILINEAR, expand=False))


def _mirror(a, p):
    return np.ascontiguousarray(a[:, ::-1])


# -- signal ----------------------------------------------------------------------------------
def _noise_params(rng, shape):
    return {"sigma": rng.uniform(5, 25), "seed": int(rng.integers(1 << 31))}


def _noise(a, p):
    n = np.random.default_rng(p["seed"]).normal(0, p["sigma"], a.shape)
    return np.clip(a.astype(np.float32) + n, 0, 255).astype(np.uint8)


def _jpeg_params(rng, shape):
    return {"quality": int(rng.integers(10, 31)), "scale": rng.uniform(0.4, 0.8)}


def _jpeg(a, p):
    h, w = a.shape[:2]
    small = _pil(a).resize((max(8, int(w * p["scale"])), max(8, int(h * p["scale"]))), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=p["quality"])
    return np.asarray(Image.open(buf).convert("RGB").resize((w, h), Image.Resampling.BILINEAR))


def _blur_params(rng, shape):
    return {"radius": rng.uniform(1.0, 3.0) * max(shape) / 640}


def _blur(a, p):
    return np.asarray(_pil(a).filter(ImageFilter.GaussianBlur(p["radius"])))


def _grey(a, p):
    return np.asarray(_pil(a).convert("L").convert("RGB"))


def _photometric_params(rng, shape):
    return {"brightness": rng.uniform(0.6, 1.4), "contrast": rng.uniform(0.6, 1.5), "gamma": rng.uniform(0.6, 1.6)}


def _photometric(a, p):
    img = ImageEnhance.Contrast(ImageEnhance.Brightness(_pil(a)).enhance(p["brightness"])).enhance(p["contrast"])
    x = np.asarray(img, dtype=np.float32) / 255.0
    return np.clip(255.0 * x ** p["gamma"], 0, 255).astype(np.uint8)


# -- overlays --------------------------------------------------------------------------------
def _overlay_params(rng, shape):
    kind = str(rng.choice(["box", "text", "logo"]))
    return {"kind": kind, "x": rng.uniform(0, 1), "y": rng.uniform(0, 1), "colour": _colour(rng),
            "w": rng.uniform(0.2, 0.4), "h": rng.uniform(0.1, 0.3), "seed": int(rng.integers(1 << 31))}


def _overlay(a, p):
    h, w = a.shape[:2]
    img = _pil(a).copy()
    draw = ImageDraw.Draw(img)
    bw, bh = max(2, int(w * p["w"])), max(2, int(h * p["h"]))
    x0, y0 = int(p["x"] * (w - bw)), int(p["y"] * (h - bh))
    if p["kind"] == "box":
        draw.rectangle([x0, y0, x0 + bw, y0 + bh], fill=p["colour"])
    elif p["kind"] == "text":  # caption lines in a bold bitmap font, scaled up
        rng = np.random.default_rng(p["seed"])
        words = ["BREAKING", "NEWS", "LIVE", "EXCLUSIVE", "REPLAY", "HD", "2026", "WATCH", "NOW", "SPORT"]
        line = " ".join(rng.choice(words, 3))
        layer = Image.new("RGBA", (6 * len(line) + 4, 12), (0, 0, 0, 0))
        ImageDraw.Draw(layer).text((2, 0), line, fill=p["colour"] + (255,))
        layer = layer.resize((bw, max(2, bw * 12 // layer.width)), Image.Resampling.NEAREST)
        img.paste(layer, (x0, min(y0, h - layer.height)), layer)
    else:  # a semi-transparent logo: a ring and a disc
        layer = Image.new("RGBA", (bh, bh), (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        d.ellipse([0, 0, bh - 1, bh - 1], outline=p["colour"] + (200,), width=max(2, bh // 8))
        d.ellipse([bh // 3, bh // 3, 2 * bh // 3, 2 * bh // 3], fill=p["colour"] + (200,))
        img.paste(layer, (x0, y0), layer)
    return np.asarray(img)


def _none(rng, shape):
    return {}


FAMILIES: dict[str, Family] = {f.name: f for f in [
    Family("crop", "geometry", _crop_params, _crop),
    Family("letterbox", "geometry", _bars_params, lambda a, p: _bars(a, p, vertical=True)),
    Family("pillarbox", "geometry", _bars_params, lambda a, p: _bars(a, p, vertical=False)),
    Family("pip-flat", "geometry", lambda r, s: _pip_params(r, s, False), _pip),
    Family("pip-textured", "geometry", lambda r, s: _pip_params(r, s, True), _pip),
    Family("rotate", "rotate", _rotate_params, _rotate),
    Family("mirror", "mirror", _none, _mirror),
    Family("noise", "noise", _noise_params, _noise),
    Family("jpeg", "quality", _jpeg_params, _jpeg),
    Family("blur", "quality", _blur_params, _blur),
    Family("grey", "colour", _none, _grey),
    Family("photometric", "colour", _photometric_params, _photometric),
    Family("overlay", "overlay", _overlay_params, _overlay),
]}

#: the order edits are applied in: signal edits on the picture, then overlays, then framing
ORDER = ["crop", "mirror", "rotate", "grey", "photometric", "blur", "overlay", "letterbox", "pillarbox",
         "pip-flat", "pip-textured", "noise", "jpeg"]


@dataclass(frozen=True)
class Combination:
    names: tuple[str, ...]
    params: tuple[Params, ...]

    @property
    def label(self) -> str:
        return "+".join(self.names)

    def apply(self, image: np.ndarray) -> np.ndarray:
        for name, p in zip(self.names, self.params):
            image = FAMILIES[name].apply(image, p)
        return image


def combine(rng: np.random.Generator, shape: tuple[int, int], max_edits: int = 3,
            families: list[str] | None = None) -> Combination:
    """1..``max_edits`` families of distinct groups, in :data:`ORDER`, with their random parameters."""
    pool = list(families or FAMILIES)
    count = int(rng.integers(1, max_edits + 1))
    chosen: list[str] = []
    for name in rng.permutation(pool).tolist():
        if len(chosen) == count:
            break
        if all(FAMILIES[c].group != FAMILIES[name].group for c in chosen):
            chosen.append(name)
    chosen.sort(key=ORDER.index)
    return Combination(tuple(chosen), tuple(FAMILIES[n].params(rng, shape) for n in chosen))
