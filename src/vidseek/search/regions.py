"""Where the picture is inside a query: uniform borders and inset rectangles (picture-in-picture).

Edited copies often put the video inside a frame of something else: black or coloured bars (letterbox,
pillarbox), a flat or textured background around a shrunken inset.  A global descriptor of the whole
query is then dominated by what surrounds the content, so the query is also searched with the content
region cut out (:func:`content_regions`).

- :func:`trim_borders` peels rows and columns off each side while they are flat (low spread on a box-filtered,
  smoothed copy, so grain and noise do not count as texture);
- :func:`find_inset` looks for the rectangle whose four sides are straight colour steps, each standing out of the
  ground just outside it (an inset's edge is a straight discontinuity; texture and natural edges are short,
  slanted or repeated nearby).  Where the inset's colours meet similar ones of the ground (a photo or a video
  behind it), its side is a weak step, but still a step where the picture on either side of it is smooth: the
  sides are measured on the steps that stand out of their own neighbourhood, whatever their strength;
- :func:`clip_region` gives a clip one region, the one most of its frames agree on.

They work on small copies of the picture, in a few milliseconds.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

ANALYSIS_SIDE = 160  # longer side of the copy the regions are found on
FLAT_STD = 4.0  # grey levels: a row whose values (smoothed along it) vary this little is flat
MIN_SIDE = 0.2  # a region's sides are at least this share of the frame's
MAX_AREA = 0.85  # a region larger than this share of the frame is not worth a second search
MAX_ASPECT = 4.0  # a region's longer side is at most this many times its shorter one: a picture, not a strip
INSET_SIDE = 240  # longer side of the copy insets are looked for on
EDGE_STEP = 30.0  # RGB step (summed over channels) across an inset's side, after smoothing along it
EDGE_COVER = 0.6  # share of an inset side that must show the step
MAX_SIDES = 16  # candidate rows (columns) kept per direction
EDGE_EXCESS = 0.35  # ... and this much more than the parallel lines a few pixels away on either side
STEP_PERCENTILE = 95  # ... and in the top 5% of the picture's steps
SIDE_GAP = 3  # pixels (analysis copy) between a side and the parallel lines it is compared with
WEAK_BORDERS = 1  # a rectangle of weak sides touches at most this many borders of the frame
WEAK_STEP = 12.0  # a weak side's step (summed over channels) at least this ...
WEAK_RATIO = 1.5  # ... and this many times the mean step of the lines 3-6 px before or after it, whichever is more


def _small(image: np.ndarray, side: int = ANALYSIS_SIDE, mode: str = "L") -> tuple[np.ndarray, float]:
    """A box-filtered copy whose longer side is ``side`` (grey for ``mode`` "L", colour for "RGB"), as float32,
    and the scale from the image to it."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = Image.fromarray(np.ascontiguousarray(image)).convert(mode).resize(size, Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32), scale


def trim_borders(image: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) pixel box inside flat borders, or None if no side is flat."""
    g, scale = _small(image)
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


def content_regions(image: np.ndarray, weak: bool = True, both: bool = False) -> list[tuple[int, int, int, int]]:
    """Boxes (top, bottom, left, right) worth searching besides the whole query, best first: the smallest
    plausible content region found by :func:`trim_borders` or :func:`find_inset`, except that an inset holding
    the trimmed box wins: the trim went on into flat (dark, empty) parts of the inset's own picture, which the
    indexed key frames hold too.  ``weak``: insets whose sides are weak steps count too (:func:`find_inset`).
    ``both``: an inset inside the trimmed box is followed by the trimmed box (it may be a picture-in-picture
    inside bars, or a rectangle of the picture's own content); else one box at most."""
    h, w = image.shape[:2]
    trimmed, inset = trim_borders(image), find_inset(image, weak)
    found = [b for b in (trimmed, inset) if b is not None and (b[1] - b[0]) * (b[3] - b[2]) <= MAX_AREA * h * w
             and _picture_shaped(b[1] - b[0], b[3] - b[2])]
    if not found:
        return []
    slack = round(0.02 * max(h, w))
    if trimmed in found and inset in found and _inside(trimmed, inset, slack):
        return [inset]
    if both and trimmed in found and inset in found and _inside(inset, trimmed, slack) and _iou(inset, trimmed) < 0.8:
        return [inset, trimmed]
    return [min(found, key=lambda b: (b[1] - b[0]) * (b[3] - b[2]))]


def _picture_shaped(height, width):
    """Whether boxes of these sides (numbers or arrays) are shaped like a picture: no side more than
    ``MAX_ASPECT`` times the other (2.76:1, the widest film format, passes; a strip of bars or of background
    between an inset and the frame's border does not)."""
    return (width <= MAX_ASPECT * height) & (height <= MAX_ASPECT * width)


def _inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int], slack: int) -> bool:
    """Box ``a`` lies within box ``b`` (to ``slack`` pixels)."""
    return a[0] >= b[0] - slack and a[1] <= b[1] + slack and a[2] >= b[2] - slack and a[3] <= b[3] + slack


def clip_region(frames: list[np.ndarray], samples: int = 3) -> tuple[int, int, int, int] | None:
    """One content region for all frames of a clip: the region :func:`content_regions` finds on most of
    ``samples`` frames spread over the clip (an edited clip keeps its framing; a box seen on one frame only is
    a coincidence of its content).  (The box where the picture moves was tried as well: it found nothing the
    frames' own regions missed on bench/accuracy.py, and in footage with local motion it is a false region.)
    Insets of weak sides only are not looked for: in the frames of a static shot a false one recurs, and a
    clip searched with a region loses its whole picture's mirror (a crop and a turned clip lost their moment to
    such a region on bench/accuracy.py)."""
    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, min(samples, len(frames))).round().astype(int)]
    boxes = [b for f in picks for b in content_regions(f, weak=False)[:1]]
    for box in boxes:
        if sum(_iou(box, other) >= 0.8 for other in boxes) * 2 > len(picks):
            return box
    return None


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    t, bo, l, r = max(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), min(a[3], b[3])
    inter = max(0, bo - t) * max(0, r - l)
    union = (a[1] - a[0]) * (a[3] - a[2]) + (b[1] - b[0]) * (b[3] - b[2]) - inter
    return inter / union if union > 0 else 0.0


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    t, b, l, r = box
    return np.ascontiguousarray(image[t:b, l:r])


# longer side of the copy insets are looked for on


def find_inset(image: np.ndarray, weak: bool = True) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of a rectangular inset whose sides are straight steps, or None.

    Edge pixels are the thin maxima of the colour step across rows (columns), on a copy smoothed along them
    (grain averages out; texture and natural edges give short or slanted runs).  Rows and columns with a run
    of edges at least a fifth of the frame long are candidate sides, and so are the frame's own borders (an
    inset may touch two of them).  A rectangle they make is an inset if each of its four sides shows the step
    along ``EDGE_COVER`` of its length and stands out of the parallel line just outside, and at least two of
    its sides are inside the frame.  Edges are counted twice: strong steps (the picture's top 5%), and weak
    steps that stand out of their own neighbourhood (an inset over a photo or another video, whose colours
    meet similar ones behind it).  The rectangle whose strong sides score best wins; if none has four strong
    sides (and ``weak``), the one whose weak sides do, touching at most ``WEAK_BORDERS`` borders.
    """
    rgb, scale = _small(image, INSET_SIDE, "RGB")
    # cumulative edge counts of rows ((h + 1, w): row b is the line between rows b-1 and b; 0 and h are the
    # borders) and of columns
    steps = [_steps(rgb), _steps(rgb.transpose(1, 0, 2))]
    strong = [_cumulative(_side_edges(s, weak=False)) for s in steps]
    box = _best_rectangle(strong, [strong], borders=2)
    if box is None and weak:
        faint = [_cumulative(_side_edges(s, weak=True)) for s in steps]
        box = _best_rectangle(faint, [strong, faint], borders=WEAK_BORDERS)
    return None if box is None else _to_pixels(box, scale, image.shape)


def _best_rectangle(edges: list[np.ndarray], candidates: list[list[np.ndarray]], borders: int):
    """The rectangle (top, bottom, left, right) whose sides score best on ``edges`` (cumulative edge counts of
    rows, of columns) among the candidate lines of ``candidates``, if each of its sides stands out and it touches
    at most ``borders`` borders of the frame; or None."""
    h, w = edges[0].shape[0] - 1, edges[1].shape[0] - 1
    y = np.array(sorted({n for c in candidates for n in _candidates(c[0], int(w * MIN_SIDE))}))
    x = np.array(sorted({n for c in candidates for n in _candidates(c[1], int(h * MIN_SIDE))}))
    cover, mean = _rectangles(*edges, y, x)
    hh = (y[None, :] - y[:, None])[:, :, None, None]
    ww = (x[None, :] - x[:, None])[None, None, :, :]
    touching = ((y == 0)[:, None, None, None].astype(int) + (y == h)[None, :, None, None]
                + (x == 0)[None, None, :, None] + (x == w)[None, None, None, :])
    ok = ((cover >= EDGE_EXCESS) & (hh >= h * MIN_SIDE) & (ww >= w * MIN_SIDE)
          & (hh * ww <= MAX_AREA * h * w) & _picture_shaped(hh, ww) & (touching <= borders))
    if not ok.any():
        return None
    i, l, j, k = np.unravel_index(int(np.argmax(np.where(ok, mean, -1.0))), ok.shape)
    return int(y[i]), int(y[l]), int(x[j]), int(x[k])


# -- helpers -----------------------------------------------------------------------------------
def _rectangles(ch: np.ndarray, cv: np.ndarray, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ny, ny, nx, nx) scores of rectangle (i, l, j, k), rows y[i] < y[l] and columns x[j] < x[k], from the
    cumulative edge counts of rows ``ch`` and columns ``cv``: its weakest side's and its sides' mean."""
    # (ny, nx, nx): row y[i] over columns x[j]..x[k] as a top (the ground above it) or a bottom side
    top, bottom = _side_score(ch, y, x, -1), _side_score(ch, y, x, +1)
    # (ny, ny, nx): column x[j] over rows y[i]..y[l] as a left or a right side
    left, right = (_side_score(cv, x, y, d).transpose(1, 2, 0) for d in (-1, +1))
    four = (top[:, None, :, :], bottom[None, :, :, :], left[:, :, :, None], right[:, :, None, :])
    cover = np.minimum(np.minimum(four[0], four[1]), np.minimum(four[2], four[3]))
    return cover, (four[0] + four[1] + four[2] + four[3]) / 4


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


def _steps(rgb: np.ndarray) -> np.ndarray:
    """(h + 1, w): the colour step across the line above row b at column x, on a copy smoothed along the rows
    (summed over channels; rows b - 2 and b + 1 compared)."""
    h = rgb.shape[0]
    k = 5
    c = np.cumsum(np.pad(rgb, ((0, 0), (k // 2 + 1, k // 2), (0, 0)), mode="edge"), axis=1)
    smooth = (c[:, k:] - c[:, :-k]) / k  # (h, w, 3): smoothed along the row
    pad = np.pad(smooth, ((2, 2), (0, 0), (0, 0)), mode="edge")
    return np.abs(pad[3:] - pad[: h + 1]).sum(axis=2)


def _side_edges(step: np.ndarray, weak: bool) -> np.ndarray:
    """(h + 1, w) booleans from :func:`_steps`: is the line above row b a sharp colour step at column x (borders:
    True).  A step is a thin maximum across the lines, at least ``EDGE_STEP`` and in the picture's top
    ``STEP_PERCENTILE`` (``weak``: at least ``WEAK_STEP`` and ``WEAK_RATIO`` times the steps 3-6 lines away on
    either side)."""
    up = np.pad(step, ((1, 1), (0, 0)))
    if weak:
        threshold = np.maximum(WEAK_STEP, WEAK_RATIO * _neighbourhood(step, 3, 6))
    else:
        threshold = max(EDGE_STEP, float(np.percentile(step, STEP_PERCENTILE)))  # a textured ground steps often
    thin = (step >= threshold) & (step >= up[:-2]) & (step >= up[2:])
    near = np.pad(thin, ((1, 1), (0, 0)))
    edges = near[:-2] | thin | near[2:]
    edges[0] = edges[-1] = True
    return edges


def _neighbourhood(step: np.ndarray, g0: int, g1: int) -> np.ndarray:
    """Per line and position: the mean of ``step`` over the lines ``g0``..``g1`` before it or after it, the
    larger of the two (edge lines repeated past the ends)."""
    n, span = step.shape[0], g1 - g0 + 1
    cs = np.cumsum(np.pad(np.pad(step, ((g1, g1), (0, 0)), mode="edge"), ((1, 0), (0, 0))), axis=0)
    before = (cs[span : span + n] - cs[:n]) / span  # padded lines b .. b + span - 1: lines b - g1 .. b - g0
    after = (cs[g1 + g1 + 1 : g1 + g1 + 1 + n] - cs[g1 + g0 : g1 + g0 + n]) / span  # lines b + g0 .. b + g1
    return np.maximum(before, after)


def _cumulative(edges: np.ndarray) -> np.ndarray:
    """Running count of edge pixels along each line, with a leading zero: (lines, length + 1)."""
    return np.pad(np.cumsum(edges, axis=1, dtype=np.int32), ((0, 0), (1, 0)))


def _candidates(cum: np.ndarray, length: int) -> list[int]:
    """Lines holding a run of ``length`` pixels at least ``EDGE_COVER`` full (local maxima, strongest first,
    at most ``MAX_SIDES``), plus the two borders."""
    n = cum.shape[0] - 1
    length = max(length, 2)
    best = (cum[:, length:] - cum[:, :-length]).max(axis=1) / length
    best[0] = best[n] = 0
    around = np.pad(best, 2)
    peak = (best >= EDGE_COVER) & (best >= np.max([around[i : i + n + 1] for i in (0, 1, 3, 4)], axis=0))
    found = np.flatnonzero(peak)
    found = found[np.argsort(-best[found], kind="stable")][:MAX_SIDES]
    return sorted({0, n, *found.tolist()})


def _coverage(cum: np.ndarray, lines: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(len(lines), len(ends), len(ends)): share of edge pixels on each line between each pair of ends."""
    c = cum[lines][:, ends].astype(np.float32)  # (L, E)
    span = (ends[None, :] - ends[:, None]).astype(np.float32)  # (E, E)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (c[:, None, :] - c[:, :, None]) / span[None]
    return np.where(span[None] > 0, out, 0.0)


def _side_score(cum: np.ndarray, lines: np.ndarray, ends: np.ndarray, outward: int) -> np.ndarray:
    """(len(lines), len(ends), len(ends)): how well each line between each pair of ends is a side whose outside
    lies towards ``outward`` (-1: lower indices): its share of edge pixels if at least ``EDGE_COVER``, minus that
    of the parallel line ``SIDE_GAP`` outside it (a textured ground fills both; an inset's side stands out of
    its ground, while the picture inside may hold bars or a frame of its own); a border of the frame scores
    ``EDGE_EXCESS``."""
    n = cum.shape[0] - 1
    own = _coverage(cum, lines, ends)
    near = _coverage(cum, np.clip(lines + outward * SIDE_GAP, 0, n), ends)
    score = np.where(own >= EDGE_COVER, own - near, 0.0)
    score[(lines == 0) | (lines == n)] = EDGE_EXCESS
    return score


def query_boxes(images: list[np.ndarray], regions: bool = True) -> list[list[tuple[int, int, int, int]]]:
    """The content regions (top, bottom, left, right) of each query picture, best first (none: empty): one for
    all frames of a clip, each still its own (two at most, :func:`content_regions`)."""
    if not regions:
        return [[] for _ in images]
    if len(images) > 2:
        box = clip_region(images)
        return [[box] if box else [] for _ in images]
    return [content_regions(im, both=True) for im in images]


def query_views(image: np.ndarray, regions: list[np.ndarray], flip: bool, clip: bool
                ) -> tuple[list[np.ndarray], np.ndarray | None]:
    """What one query picture is searched as: (views, mirror view or None).  The views are the picture and its
    regions (cut out); the mirror view (``flip``) is the picture's mirror, or a clip frame's region's mirror: the
    region is what the clip shows (the region's mirror gained nothing for a still on bench/accuracy.py: the whole
    picture's mirror finds mirrored copies)."""
    mirror = lambda a: np.ascontiguousarray(a[:, ::-1])  # noqa: E731
    views = [image, *regions]
    if not flip:
        return views, None
    return views, mirror(regions[0] if clip and regions else image)
