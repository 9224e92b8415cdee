"""The code scanners an opened index searches with; each answers ``search(queries, k) -> (distances, rows)``
with the key-frame table's row numbers (-1 where fewer than k codes exist).

- :class:`FlatEngine`: every code, exhaustively (:class:`.adc.ADCSearcher`: faiss.IndexPQ for a few queries,
  a blocked multi-threaded scan for batches);
- :class:`IVFEngine`: an inverted file (``faiss.IndexIVFPQ``; codes of the residuals, or of the vectors in an
  index built before residual codes: :attr:`CoarseQuantizer.residual`), filled from the stored codes and lists
  without re-encoding (``add_entries``), so it holds the codes once: m bytes plus an 8-byte row number per key
  frame.  ``nprobe`` lists per query; no precomputed table (nlist x m x 256 floats: 268 MB at 16,384 lists), so
  each probed list's distance table is made from the query's residual.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..quantize.ivf import DEFAULT_NPROBE, CoarseQuantizer
from ..quantize.pq import ProductQuantizer
from .adc import ADCSearcher


class FlatEngine:
    kind = "flat"

    def __init__(self, pq: ProductQuantizer, parts: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]],
                 live: np.ndarray | None = None):
        """``parts``: (rows, lists, codes) of searchable rows, or of any rows with ``live`` (a bool per row)."""
        rows = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        codes = np.concatenate([p[2] for p in parts]) if parts else np.zeros((0, pq.m), np.uint8)
        keep = live[rows] if live is not None else slice(None)
        self.rows = rows[keep]
        self.adc = ADCSearcher(codes[keep], pq)

    @property
    def codes(self) -> np.ndarray:
        return self.adc._codes

    def __len__(self) -> int:
        return len(self.rows)

    def search(self, queries: np.ndarray, k: int, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Exhaustive ADC (``nprobe``: for the inverted file's interface; every code is scanned here)."""
        dist, ids = self.adc.search(queries, k)
        return dist, np.where(ids >= 0, self.rows[np.maximum(ids, 0)], -1)

    def resident_bytes(self) -> int:
        return self.codes.nbytes + self.rows.nbytes + (self.codes.nbytes if self.adc._faiss is not None else 0)


class IVFEngine:
    kind = "ivf"

    def __init__(self, pq: ProductQuantizer, coarse: CoarseQuantizer,
                 parts: Iterable[tuple[np.ndarray, np.ndarray | None, np.ndarray]], live: np.ndarray | None = None,
                 nprobe: int = DEFAULT_NPROBE):
        """``parts``: (rows, lists, codes) of searchable rows, or of any rows with ``live`` (a bool per row); added
        one part at a time, so a stream of parts is never all in memory."""
        import faiss

        self.coarse = coarse
        self.quantizer = coarse.flat_index()  # kept referenced: the IVF index does not own it
        index = faiss.IndexIVFPQ(self.quantizer, pq.d, coarse.nlist, pq.m, pq.config.nbits)
        index.by_residual = coarse.residual
        index.use_precomputed_table = -1  # never: see the module's docstring
        faiss.copy_array_to_vector(np.ascontiguousarray(pq.centroids, np.float32).ravel(), index.pq.centroids)
        index.is_trained = True
        # probed lists shared among the threads within each query, not the queries among the threads: faiss 1.15.1's
        # default (parallel_mode 0) answers a thread's slice of exactly one query with one id repeated k times at
        # nlist 16,384 (a picture and its mirror, 2 queries on 2 threads: bench/scale.py at 10M); mode 1 is right
        # for every batch size (10M, query + mirror: 1.13 ms; one query per call 3.4 ms; mode 0, wrong, 0.41 ms)
        index.parallel_mode = 1
        self.index = index
        self.nprobe = nprobe
        self._params: dict[int, object] = {}  # nprobe -> faiss.SearchParametersIVF: per call, nothing shared mutated
        self._n = 0
        for rows, lists, codes in parts:
            if lists is None:
                raise ValueError("an inverted-file index needs the list of every code")
            keep = live[rows] if live is not None else slice(None)
            self._add(lists[keep], codes[keep], rows[keep])

    def _add(self, lists: np.ndarray, codes: np.ndarray, rows: np.ndarray) -> None:
        """Append codes to their lists: one ``add_entries`` per list present (rows sorted by list on disk)."""
        import faiss

        if len(rows) == 0:
            return
        lists = np.asarray(lists, np.int64)
        if lists.min() < 0 or lists.max() >= self.coarse.nlist:
            raise ValueError(f"list numbers out of range 0..{self.coarse.nlist - 1}")
        if (np.diff(lists) < 0).any():  # stored parts come sorted by list: no copy then
            order = np.argsort(lists, kind="stable")
            lists, codes, rows = lists[order], codes[order], rows[order]
        codes, rows = np.ascontiguousarray(codes), np.ascontiguousarray(rows, np.int64)
        bounds = np.flatnonzero(np.diff(lists)) + 1
        starts = np.concatenate([[0], bounds]).tolist()
        ends = np.concatenate([bounds, [len(lists)]]).tolist()
        inv = self.index.invlists
        for s, e in zip(starts, ends):
            inv.add_entries(int(lists[s]), e - s, faiss.swig_ptr(rows[s:e]), faiss.swig_ptr(codes[s:e]))
        self._n += len(rows)
        self.index.ntotal = self._n

    def __len__(self) -> int:
        return self._n

    def list_sizes(self) -> np.ndarray:
        inv = self.index.invlists
        return np.array([inv.list_size(i) for i in range(self.coarse.nlist)], np.int64)

    def search(self, queries: np.ndarray, k: int, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        probe = max(1, min(nprobe or self.nprobe, self.coarse.nlist))
        params = self._params.get(probe)
        if params is None:
            import faiss

            params = self._params[probe] = faiss.SearchParametersIVF(nprobe=probe)
        if self._n == 0 or len(queries) == 0 or k > self._n:
            return self._padded(queries, k, params)
        d, i = self.index.search(queries, k, params=params)  # fewer than k codes probed: -1 rows, inf distances
        d[i < 0] = np.inf
        return d, i

    def _padded(self, queries: np.ndarray, k: int, params) -> tuple[np.ndarray, np.ndarray]:
        dist = np.full((len(queries), k), np.inf, np.float32)
        rows = np.full((len(queries), k), -1, np.int64)
        if self._n and len(queries):
            d, i = self.index.search(queries, self._n, params=params)
            dist[:, : self._n], rows[:, : self._n] = np.where(i >= 0, d, np.inf), i
        return dist, rows

    def resident_bytes(self) -> int:
        return self._n * (self.index.code_size + 8) + self.coarse.centroids.nbytes

