"""The prepared queries a Spark batch search hands from its embedding tasks to its driver keep what verification
compares: the grey pictures and the content regions, None where a frame has no region, byte for byte."""

from __future__ import annotations

import numpy as np

from vidseek.engine.batch_search import _png, _unpng


def test_pictures_and_regions_survive_the_trip_with_frames_that_have_none():
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (203, 360), dtype=np.uint8), rng.integers(0, 256, (120, 97), dtype=np.uint8)]
    regions = [None, pictures[1][10:90, 5:80].copy()]
    for sent in (pictures, regions):
        back = _unpng(_png(sent))
        assert len(back) == len(sent)
        for a, b in zip(sent, back):
            assert (a is None and b is None) or (b.dtype == np.uint8 and np.array_equal(a, b))
    assert _png(None) is None and _unpng(None) is None
