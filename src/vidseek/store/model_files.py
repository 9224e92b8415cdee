"""The fitted model on disk: ``features.json``, ``whitening.npz|json`` and ``pq.npz|json``.

Arrays go to an ``.npz`` and their parameters to a ``.json`` beside it, each written atomically; reloading
is bit-exact.  A missing or corrupt file raises :class:`~vidseek.errors.ModelError` naming it.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import __version__
from ..errors import ModelError
from ..features.config import FeatureConfig, PWAConfig
from ..features.whitening import PCAWhitening, WhiteningConfig
from ..quantize.ivf import CoarseQuantizer
from ..quantize.pq import PQConfig, ProductQuantizer
from .. import atomic

if TYPE_CHECKING:  # the network library loads only with a model (see load_model)
    from ..features.model import FeatureModel

FEATURES_FILE = "features.json"
WHITENING_FILE = "whitening.npz"
PQ_FILE = "pq.npz"
IVF_FILE = "ivf.npz"  # only in an inverted-file index: the coarse quantiser's centroids
REFERENCE_FILE = "reference.npz"  # descriptors of the calibration's reference pictures (indexes built since 0.1)
FORMAT_VERSION = 1


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """``path`` (.npz) with ``arrays`` and ``path`` with .json with ``meta``, both atomically."""
    path = Path(path)
    with atomic.atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    atomic.write_text(path.with_suffix(".json"), json.dumps(meta, indent=2))


def load_arrays(path: str | os.PathLike, what: str = "model file") -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, meta) of :func:`save_arrays`; errors say ``what`` the file is (e.g. "codebook file")."""
    path = Path(path)
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(path.with_suffix(".json").read_text())
    except FileNotFoundError as exc:
        raise ModelError(exc.filename or path, f"{what} missing") from None
    except (ValueError, KeyError, OSError, EOFError, UnicodeDecodeError) as exc:  # EOFError: an empty file
        raise ModelError(path, f"{what} is corrupt ({exc})") from None
    return arrays, meta


def _optional_arrays(path: str | os.PathLike, what: str) -> tuple[dict[str, np.ndarray], dict] | None:
    """:func:`load_arrays` of a model file only some indexes have: None when neither of its two files exists."""
    path = Path(path)
    if not path.exists() and not path.with_suffix(".json").exists():
        return None
    return load_arrays(path, what)


# -- product quantiser ---------------------------------------------------------------------------
def save_pq(pq: ProductQuantizer, path: str | os.PathLike) -> None:
    c = pq.config
    save_arrays(path, {"centroids": pq.centroids}, {"d": pq.d, "m": c.m, "nbits": c.nbits, "niter": c.niter, "seed": c.seed})


def load_pq(path: str | os.PathLike) -> ProductQuantizer:
    arrays, meta = load_arrays(path, "codebook file")
    try:
        pq = ProductQuantizer(int(meta["d"]), PQConfig(m=int(meta["m"]), nbits=int(meta["nbits"]),
                                                       niter=int(meta["niter"]), seed=int(meta["seed"])))
        return pq.set_centroids(arrays["centroids"])
    except (KeyError, ValueError) as exc:
        raise ModelError(path, f"codebook file is corrupt ({exc})") from None


def save_reference(vectors: np.ndarray, path: str | os.PathLike) -> None:
    """The descriptors of :func:`vidseek.features.reference.reference_pictures`, as float16."""
    save_arrays(path, {"vectors": np.asarray(vectors, np.float16)}, {"n": len(vectors), "d": int(vectors.shape[1])})


def load_reference(path: str | os.PathLike, d: int) -> np.ndarray | None:
    """(n, d) float32 reference descriptors; None for an index built without them (no such file)."""
    found = _optional_arrays(path, "reference descriptors file")
    if found is None:
        return None
    arrays, meta = found
    v = arrays.get("vectors")
    if v is None or v.ndim != 2 or v.shape != (meta.get("n"), d):
        raise ModelError(path, f"reference descriptors file is corrupt (shape does not match its .json or d={d})")
    return v.astype(np.float32)


# -- whitening -----------------------------------------------------------------------------------
def save_ivf(coarse: CoarseQuantizer, path: str | os.PathLike) -> None:
    save_arrays(path, {"centroids": coarse.centroids}, {"nlist": coarse.nlist, "d": coarse.d, "residual": coarse.residual})


def load_ivf(path: str | os.PathLike) -> CoarseQuantizer | None:
    """The coarse quantiser of an inverted-file index; None when the index is flat (no such file).  Files written
    before residual codes have no ``residual`` entry: their codes are of the vectors."""
    found = _optional_arrays(path, "inverted-file centroids file")
    if found is None:
        return None
    arrays, meta = found
    c = arrays.get("centroids")
    if c is None or c.ndim != 2 or len(c) != meta.get("nlist"):
        raise ModelError(path, "inverted-file centroids file is corrupt (shape does not match its .json)")
    residual = meta.get("residual", False)
    if not isinstance(residual, bool):
        raise ModelError(path, f"inverted-file centroids file is corrupt (residual is {residual!r}, not true or false)")
    return CoarseQuantizer(c, residual=residual)


def save_whitening(w: PCAWhitening, path: str | os.PathLike) -> None:
    save_arrays(path, {"mean": w.mean, "projection": w.projection, "eigenvalues": w.eigenvalues},
                {"config": asdict(w.config), "n_train": w.n_train, "n_pairs": w.n_pairs, "in_dim": w.in_dim,
                 "out_dim": w.out_dim})


def load_whitening(path: str | os.PathLike) -> PCAWhitening:
    arrays, meta = load_arrays(path, "whitening file")
    try:
        w = PCAWhitening(WhiteningConfig(**meta["config"]))
        w.mean, w.projection, w.eigenvalues = arrays["mean"], arrays["projection"], arrays["eigenvalues"]
        w.n_train = int(meta["n_train"])
        w.n_pairs = int(meta.get("n_pairs", 0))
        shape_ok = w.projection.shape == (meta["out_dim"], meta["in_dim"])
    except (KeyError, TypeError) as exc:
        raise ModelError(path, f"whitening file is corrupt ({exc})") from None
    if not shape_ok:
        raise ModelError(path, f"projection shape {w.projection.shape} does not match its JSON")
    return w


# -- the feature model ---------------------------------------------------------------------------
def describe_model(model: FeatureModel) -> dict:
    import torch

    w = model.whitening
    return {
        "format_version": FORMAT_VERSION,
        "backbone": model.backbone.describe(),
        "pwa": {**asdict(model.config.pwa), "channels": None if model.channels is None else model.channels.tolist()},
        "whitening": None if w is None else {**asdict(w.config), "in_dim": w.in_dim, "out_dim": w.out_dim,
                                            "n_train": w.n_train, "n_pairs": w.n_pairs},
        "versions": {"vidseek": __version__, "torch": torch.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }


def save_model(model: FeatureModel, folder: str | os.PathLike) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if model.whitening is not None:
        save_whitening(model.whitening, folder / WHITENING_FILE)
    atomic.write_text(folder / FEATURES_FILE, json.dumps(describe_model(model), indent=2))


def read_features_json(folder: str | os.PathLike) -> dict:
    path = Path(folder) / FEATURES_FILE
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(path, "model file missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(path, f"model file is corrupt ({exc})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelError(path, f"model format {meta.get('format_version')} is not supported "
                               f"(this vidseek reads format {FORMAT_VERSION})")
    return meta


def load_model(folder: str | os.PathLike, weights: str | None = None, device: str = "auto",
               backbone_cache=None) -> FeatureModel:
    """Load a saved model; the backbone weights must be the ones it was fitted with (checked by hash).

    ``backbone_cache(name, weights, device, image_size) -> Backbone`` lets a caller that loads several
    models of one backbone (a Spark worker: stage 0, then extraction) load the network once.
    """
    folder = Path(folder)
    meta = read_features_json(folder)
    b, pwa, wcfg = meta["backbone"], meta["pwa"], meta.get("whitening")
    config = FeatureConfig(
        backbone=b["name"], weights=weights, device=device, image_size=int(b["image_size"]),
        pwa=PWAConfig(n_parts=int(pwa["n_parts"]), alpha=float(pwa["alpha"]), beta=float(pwa["beta"])),
        whitening=WhiteningConfig(dim=int(wcfg["dim"]), shrink=float(wcfg["shrink"]), whiten=bool(wcfg["whiten"]),
                                  pair_ridge=float(wcfg.get("pair_ridge", 1.0)))
        if wcfg else WhiteningConfig(),
    )
    backbone = backbone_cache(config.backbone, weights, device, config.image_size) if backbone_cache else None
    from ..features.model import FeatureModel

    model = FeatureModel(config, backbone=backbone)
    if model.backbone.weights_sha256 != b["weights_sha256"]:
        raise ModelError(
            model.backbone.weights_path,
            f"backbone weights differ from the ones this model was fitted with "
            f"(sha256 {model.backbone.weights_sha256[:12]} != {b['weights_sha256'][:12]})",
        )
    if pwa.get("channels") is not None:
        model.channels = np.asarray(pwa["channels"], dtype=np.int64)
    if wcfg:
        model.whitening = load_whitening(folder / WHITENING_FILE)
    return model
