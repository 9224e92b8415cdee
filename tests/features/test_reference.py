"""The calibration's reference pictures: seeded (every build the same), of every kind, varied."""

from __future__ import annotations

import numpy as np

from vidseek.features.reference import KINDS, reference_pictures


def test_reference_pictures_are_seeded_varied_and_of_every_kind():
    a, b = reference_pictures(2 * len(KINDS)), reference_pictures(2 * len(KINDS))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert {x.shape for x in a} == {(480, 640, 3), (360, 640, 3)}
    assert all(x.dtype == np.uint8 and x.std() > 5 for x in a)  # none is a flat picture
    flat = np.stack([np.asarray(x[::8, ::8], np.float32).mean(axis=2)[:45, :80].ravel() for x in a])
    corr = np.corrcoef(flat)
    assert (corr[~np.eye(len(a), dtype=bool)] < 0.99).all()  # no two alike
    other = reference_pictures(len(KINDS), seed=1)
    assert not any(np.array_equal(x, y) for x, y in zip(a, other))
