"""The compilations of the duplicates bench: excerpts fitted into their frame as a video editor does."""

from __future__ import annotations

import numpy as np

from vidseek.eval.compilations import excerpt
from vidseek.eval.queries import grab_frames

from media import DATA

PORTRAIT = DATA / "extra-videos" / "gcp-python-docs-samples" / "describe_video_content.mp4"  # 540x960


def test_a_portrait_excerpt_keeps_its_aspect_between_black_bars():
    frames = excerpt(PORTRAIT, 3.0, 0.2, (), np.random.default_rng(0), (384, 216))
    assert len(frames) == 2 and frames[0].shape == (216, 384, 3)
    lit = np.flatnonzero(frames[0].max(axis=(0, 2)) > 24)  # columns holding the picture
    width = lit[-1] - lit[0] + 1
    assert abs(width - 216 * 540 / 960) <= 3  # 121.5 px wide, not stretched to 384
    assert frames[0][:, : lit[0]].max() == 0 and frames[0][:, lit[-1] + 1 :].max() == 0
    # the picture is the source frame scaled down, not distorted: it matches the source frame shrunk alike
    source = grab_frames(PORTRAIT, [3.0], max_side=400)[0][1].astype(np.float32)
    mean_rows = frames[0][:, lit[0] : lit[-1] + 1].astype(np.float32).mean(axis=(1, 2))
    src_rows = source.mean(axis=(1, 2))
    src_rows = np.interp(np.linspace(0, len(src_rows) - 1, len(mean_rows)), np.arange(len(src_rows)), src_rows)
    assert np.corrcoef(mean_rows, src_rows)[0, 1] > 0.9
