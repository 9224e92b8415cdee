"""Where the picture is inside a query: uniform borders and inset rectangles (picture-in-picture).

Edited copies often put the video inside a frame of something else: black or coloured bars (letterbox,
pillarbox), a flat or textured background around a shrunken inset.  A global descriptor of the whole
query is then dominated by what surrounds the content, so the query is also searched with the content
region cut out (:func:`content_regions`).

- :func:`trim_borders` peels rows and columns off each side while they are flat (low spread on a box-filtered,
  smoothed copy, so grain and noise do not count as texture);
- :func:`find_inset` looks for the rectangle whose four sides are the longest straight steps in the image
  (an inset's edge is a straight discontinuity; texture and natural edges are short or curved).

Both work on a small grey copy, in a few milliseconds.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

ANALYSIS_SIDE = 160  # longer side of the copy the regions are found on
FLAT_STD = 4.0  # grey levels: a row whose values (smoothed along it) vary this little is flat
MIN_SIDE = 0.2  # a region's sides are at least this share of the frame's
MAX_AREA = 0.85  # a region larger than this share of the frame is not worth a second search
EDGE_STEP = 12.0  # grey-level step across an inset's edge
EDGE_COVER = 0.6  # share of an inset side that must show the step


def _small_grey(image: np.ndarray) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    scale = ANALYSIS_SIDE / max(h, w)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    grey = Image.fromarray(np.ascontiguousarray(image)).convert("L").resize(size, Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float32), scale


def trim_borders(image: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) pixel box inside flat borders, or None if no side is flat."""
    g, scale = _small_grey(image)
    h, w = g.shape
    flat_rows, flat_cols = _flat(g, axis=1), _flat(g, axis=0)
    top, bottom = _run(flat_rows), _run(flat_rows[::-1])
    left, right = _run(flat_cols), _run(flat_cols[::-1])
    if top + bottom + left + right == 0 or top + bottom >= h * (1 - MIN_SIDE) or left + right >= w * (1 - MIN_SIDE):
        return None
    # the inner rows/columns are not flat over their full length: trim again inside (bars + flat PiP ground)
    inner = g[top : h - bottom, left : w - right]
    r2, c2 = _flat(inner, axis=1), _flat(inner, axis=0)
    top2, bottom2 = _run(r2), _run(r2[::-1])
    left2, right2 = _run(c2), _run(c2[::-1])
    if top2 + bottom2 < inner.shape[0] * (1 - MIN_SIDE) and left2 + right2 < inner.shape[1] * (1 - MIN_SIDE):
        top, bottom, left, right = top + top2, bottom + bottom2, left + left2, right + right2
    return _to_pixels((top, h - bottom, left, w - right), scale, image.shape)


def find_inset(image: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of a rectangular inset whose four sides are straight steps, or None.

    Candidate sides are rows (columns) where many more pixels step than in the rows around them (a straight
    edge stands out of texture); every pair of candidate rows and of candidate columns makes a rectangle,
    kept if each of its four sides shows the step along most of its length; the largest such rectangle wins.
    """
    g, scale = _small_grey(image)
    h, w = g.shape
    ady, adx = np.abs(g[1:] - g[:-1]), np.abs(g[:, 1:] - g[:, :-1])
    # a side of an inset is a straight step across it and flat along it: |across| well above |along|
    along_y = np.maximum(adx[1:], adx[:-1])  # (h-1, w-1): along a horizontal edge
    along_x = np.maximum(ady[:, 1:], ady[:, :-1])  # (h-1, w-1): along a vertical edge
    ady = ady.copy()
    ady[:, :-1][ady[:, :-1] < 2 * along_y] = 0
    adx = adx.copy()
    adx[:-1][adx[:-1] < 2 * along_x] = 0
    dy = _steps(ady)  # (h-1, w): a step between rows y and y+1
    dx = _steps(adx.T).T  # (h, w-1)
    rows = _peaks(dy.sum(axis=1), int(w * MIN_SIDE))
    cols = _peaks(dx.sum(axis=0), int(h * MIN_SIDE))
    best, best_area = None, 0
    for i, y0 in enumerate(rows):
        for y1 in rows[i + 1 :]:
            if y1 - y0 < h * MIN_SIDE:
                continue
            for j, x0 in enumerate(cols):
                for x1 in cols[j + 1 :]:
                    area = (y1 - y0) * (x1 - x0)
                    if x1 - x0 < w * MIN_SIDE or area <= best_area or area > MAX_AREA * h * w:
                        continue
                    sides = (dy[y0, x0 + 1 : x1 + 1].mean(), dy[y1, x0 + 1 : x1 + 1].mean(),
                             dx[y0 + 1 : y1 + 1, x0].mean(), dx[y0 + 1 : y1 + 1, x1].mean())
                    if min(sides) >= EDGE_COVER:
                        best, best_area = (y0 + 1, y1 + 1, x0 + 1, x1 + 1), area
    return None if best is None else _to_pixels(best, scale, image.shape)


def _steps(d: np.ndarray) -> np.ndarray:
    """Step pixels: a grey-level jump of at least EDGE_STEP that is the largest of its own and the next rows
    (so a blurred edge counts once), dilated by one row for edges that fall between rows."""
    up = np.pad(d, ((1, 1), (0, 0)))
    peak = (d >= EDGE_STEP) & (d >= up[:-2]) & (d >= up[2:])
    padded = np.pad(peak, ((1, 1), (0, 0)))
    return padded[:-2] | peak | padded[2:]


def _peaks(counts: np.ndarray, min_count: int, keep: int = 8) -> list[int]:
    """Up to ``keep`` positions whose count of step pixels is at least ``min_count`` and well above the
    median of their neighbourhood (+-4), strongest first, then sorted by position."""
    n = len(counts)
    cand = []
    for i in range(n):
        if counts[i] < min_count:
            continue
        around = np.concatenate([counts[max(0, i - 4) : max(0, i - 1)], counts[i + 2 : i + 5]])
        base = float(np.median(around)) if len(around) else 0.0
        if counts[i] >= 2 * base + min_count / 2 and counts[i] >= counts[max(0, i - 1) : i + 2].max():
            cand.append((counts[i] - base, i))
    cand.sort(reverse=True)
    return sorted(i for _, i in cand[:keep])


def content_regions(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes (top, bottom, left, right) worth searching besides the whole query: at most one, the smallest
    plausible content region found by :func:`trim_borders` or :func:`find_inset`."""
    h, w = image.shape[:2]
    found = [b for b in (trim_borders(image), find_inset(image)) if b is not None]
    found = [b for b in found if (b[1] - b[0]) * (b[3] - b[2]) <= MAX_AREA * h * w]
    if not found:
        return []
    return [min(found, key=lambda b: (b[1] - b[0]) * (b[3] - b[2]))]


def moving_region(frames: list[np.ndarray], threshold: float = 6.0,
                  min_share: float = 0.25) -> tuple[int, int, int, int] | None:
    """The box of a clip where the picture changes over time, if it is clearly smaller than the frame.

    A video inset on a still background (picture-in-picture), or a video between static bars or under a
    static frame: pixels whose grey level varies by more than ``threshold`` (std over the frames) mark the
    content; rows and columns with at least ``min_share`` of such pixels bound it.
    """
    if len(frames) < 3 or any(f.shape != frames[0].shape for f in frames):
        return None
    small = [_small_grey(f) for f in frames]
    stack, scale = np.stack([g for g, _ in small]), small[0][1]
    moving = stack.std(axis=0) > threshold
    h, w = moving.shape
    rows = np.flatnonzero(moving.mean(axis=1) >= min_share * moving.mean(axis=1).max()) if moving.any() else []
    cols = np.flatnonzero(moving.mean(axis=0) >= min_share * moving.mean(axis=0).max()) if moving.any() else []
    if len(rows) == 0 or len(cols) == 0 or moving.mean() < 0.02:
        return None
    box = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
    bh, bw = box[1] - box[0], box[3] - box[2]
    if bh < h * MIN_SIDE or bw < w * MIN_SIDE or bh * bw > MAX_AREA * h * w:
        return None
    return _to_pixels(box, scale, frames[0].shape)


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    t, b, l, r = box
    return np.ascontiguousarray(image[t:b, l:r])


# -- helpers -----------------------------------------------------------------------------------
def _flat(g: np.ndarray, axis: int) -> np.ndarray:
    """Per row (axis=1) or column (axis=0): flat, i.e. its values smoothed along it over 5 px (grain and noise
    average out) have a standard deviation of at most FLAT_STD."""
    k = np.ones(5, dtype=np.float32) / 5
    sm = np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), axis, g)
    return sm.std(axis=axis) <= FLAT_STD


def _run(flat: np.ndarray) -> int:
    """Length of the leading run of True."""
    idx = np.flatnonzero(~flat)
    return int(idx[0]) if len(idx) else len(flat)


def _to_pixels(box, scale: float, shape) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    t, b, l, r = box
    return (max(0, int(np.floor(t / scale))), min(h, int(np.ceil(b / scale))),
            max(0, int(np.floor(l / scale))), min(w, int(np.ceil(r / scale))))
