"""Queries read and embedded for search: the variants of each query frame (the picture, its content region, its
mirror image), the signatures that place hits frame-exactly and the small pictures that verify them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .query import Query, read_query
from .timing import query_signatures
from .verify import small_grey


@dataclass
class PreparedQuery:
    """A query read and embedded: (frames, variants, d) vectors; variants are the whole picture, the content
    region when one is found (padded with the picture where a frame has none) and, last, the mirror image
    (``flipped``).  The mirror is searched only when the rest leaves the answer doubtful; ``pending``, when set,
    computes its vectors (frames, d), left out of ``vectors`` until then."""

    kind: str  # "image" | "clip"
    times: list[float]
    vectors: np.ndarray
    signatures: np.ndarray | None = None  # of the first frame, to place hits frame-exactly (:mod:`.timing`)
    pictures: list[np.ndarray] | None = None  # each frame small and grey, to verify doubtful hits (:mod:`.verify`)
    regions: list[np.ndarray | None] | None = None  # each frame's content region the same way (None: it has none)
    flipped: bool = False  # the last variant is the mirror image (in ``vectors``, or computed by ``pending``)
    pending: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)

    def first(self) -> PreparedQuery:
        """The query without its mirror variant."""
        vectors = self.vectors if self.pending is not None or not self.flipped else self.vectors[:, :-1]
        return replace(self, vectors=vectors, flipped=False, pending=None)

    def complete(self) -> PreparedQuery:
        """The query with its mirror variant computed."""
        if self.pending is None:
            return self
        return replace(self, vectors=np.concatenate([self.vectors, self.pending()[:, None]], axis=1), pending=None)


class QueryPreparation:
    """How an :class:`~vidseek.search.index.Index` turns a query into a :class:`PreparedQuery` (with its
    ``model`` and ``verify_config``)."""

    def embed_images(self, images: list[np.ndarray], flip: bool = True, regions: bool = True,
                     boxes: list | None = None) -> np.ndarray:
        """(n, variants, d): each image, its content region (``regions``: flat borders or an inset cut out, see
        :mod:`.regions`; ``boxes``: found already, :func:`.regions.query_boxes`) and, last, its mirror (``flip``).
        A clip's region is found once for all its frames (:func:`.regions.clip_region`); its frames' mirror is
        then the region's: the region is what the clip shows.  Images without a region repeat the whole picture
        in its place, so every image has the same number of variants."""
        vectors, mirrors = self._embed_views(images, flip, regions, boxes, mirrors=True)
        return vectors if mirrors is None else np.concatenate([vectors, mirrors[:, None]], axis=1)

    def _embed_views(self, images: list[np.ndarray], flip: bool, regions: bool, boxes: list | None,
                     mirrors: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(n, variants, d) of the views but the mirror, and (n, d) of the mirrors (``flip``; embedded here when
        ``mirrors``, else left to a later :meth:`embed_mirrors` call: None)."""
        from .regions import query_boxes

        boxes = query_boxes(images, regions) if boxes is None else boxes
        views = _views(images, boxes, flip)
        n_var = max(len(v) for v, _ in views)
        batch = [v[i] if i < len(v) else v[0] for v, _ in views for i in range(n_var)]
        n_main = len(batch)
        if flip and mirrors:
            batch += [m for _, m in views]
        out = self.model.embed(batch)
        main = out[:n_main].reshape(len(images), n_var, -1)
        return main, (out[n_main:] if flip and mirrors else None)

    def embed_mirrors(self, images: list[np.ndarray], boxes: list) -> np.ndarray:
        """(n, d): each image's mirror view (:func:`.regions.query_views`)."""
        return self.model.embed([mirror for _, mirror in _views(images, boxes, flip=True)])

    def prepare(self, query: Query, flip: bool = True, regions: bool = True, lazy: bool = False) -> PreparedQuery:
        """Read and embed a query (the costly part of a search; :meth:`rank` is the rest).  ``lazy``: a clip's
        mirror views are embedded only if :meth:`rank` needs them (an interactive search); a still's, and every view
        without ``lazy``, are embedded at once (:meth:`rank` ranks a mirror only when needed either way)."""
        from .regions import crop, query_boxes

        images, times, kind = self.query_frames(query)
        boxes = query_boxes(images, regions)
        first = images[0]
        sigs = query_signatures(first, [crop(first, b) for b in boxes[0]])
        pictures = [small_grey(im, self.verify_config.side) for im in images] if self.verify_config.hits else None
        cut = _region_pictures(images, boxes, self.verify_config.side) if pictures else None
        # a still's mirror is as large as the picture: in its batch it costs a third of a forward pass, against a
        # whole one later (640x360 alone 21 ms, with its mirror 28): embedded at once (rank leaves it out until
        # needed, PreparedQuery.first); a clip's mirrors would double its batches: embedded only if ranked
        if lazy and flip and kind == "clip":
            vectors, _ = self._embed_views(images, flip, regions, boxes, mirrors=False)
            return PreparedQuery(kind, times, vectors, sigs, pictures, cut, flipped=True,
                                 pending=lambda: self.embed_mirrors(images, boxes))
        return PreparedQuery(kind, times, self.embed_images(images, flip=flip, boxes=boxes), sigs, pictures, cut, flip)

    def query_frames(self, query: Query) -> tuple[list[np.ndarray], list[float], str]:
        """Decode a query: (images, their times in the query, 'image' | 'clip')."""
        return read_query(query)


def _views(images: list[np.ndarray], boxes: list, flip: bool) -> list[tuple[list[np.ndarray], np.ndarray | None]]:
    """Per image its views and mirror view (:func:`.regions.query_views`), its regions cut out of it (``boxes``,
    :func:`.regions.query_boxes`)."""
    from .regions import crop, query_views

    clip = len(images) > 2
    return [query_views(im, [crop(im, b) for b in bs], flip, clip) for im, bs in zip(images, boxes)]


def _region_pictures(images: list[np.ndarray], boxes: list, side: int) -> list[np.ndarray | None] | None:
    """Each image's first content region cut out, small and grey as :mod:`.verify` compares it (None: the image
    has none); None when no image has one."""
    from .regions import crop

    cut = [small_grey(crop(im, bs[0]), side) if bs else None for im, bs in zip(images, boxes)]
    return cut if any(c is not None for c in cut) else None
