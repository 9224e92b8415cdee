"""Asymmetric distance computation over PQ codes, exhaustive, blocked, multi-threaded.

For each query the m x 2^nbits table of squared distances to every centroid is computed once; the
distance to a code is the sum of its m table entries.  The sums run as ``torch.embedding_bag(mode=
"sum")``: the codes (offset by sub-space) index the rows of a (m*k, nq) matrix holding the tables of
up to ``query_block`` queries side by side, so one pass over the codes serves a whole block of
queries, in optimised multi-threaded C++.  Selection keeps a running top-k per query: the first block
is reduced with ``topk``; later blocks only pass entries below each query's current k-th distance (a
vectorised compare), which after the first block are few.

That pays for batches.  A few queries at a time (the interactive case: one picture and its variants, one clip
frame) go through ``faiss.IndexPQ`` filled with the same codebooks and codes instead: a single query over 1M
codes takes milliseconds there against hundreds here (bench/search.py).  Each engine is built on first use.
"""

from __future__ import annotations

import numpy as np
import torch

from ..quantize.pq import ProductQuantizer

#: calls with at most this many queries are answered by faiss.IndexPQ, larger batches by the blocked scan
FAISS_MAX_QUERIES = 8


class ADCSearcher:
    def __init__(self, codes: np.ndarray, pq: ProductQuantizer, code_block: int = 16384, query_block: int = 64):
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.ndim != 2 or codes.shape[1] != pq.m:
            raise ValueError(f"codes must be (n, {pq.m}) uint8, got {codes.shape}")
        self.pq = pq
        self.n = len(codes)
        self._codes = codes
        self._idx_cache: torch.Tensor | None = None
        self._faiss = None
        self.code_block = code_block
        self.query_block = query_block

    @property
    def _idx(self) -> torch.Tensor:
        """(n, m) rows of the stacked tables; int64 indices: embedding_bag's fastest path (8 bytes per sub-code)."""
        if self._idx_cache is None:
            offsets = (np.arange(self.pq.m, dtype=np.int64) * self.pq.k)[None, :]
            self._idx_cache = torch.from_numpy(self._codes.astype(np.int64) + offsets)
        return self._idx_cache

    def _faiss_index(self):
        """A faiss.IndexPQ holding the same codebooks and codes (no re-encoding)."""
        if self._faiss is None:
            import faiss

            index = faiss.IndexPQ(self.pq.d, self.pq.m, self.pq.config.nbits)
            faiss.copy_array_to_vector(np.ascontiguousarray(self.pq.centroids, dtype=np.float32).ravel(),
                                       index.pq.centroids)
            index.is_trained = True
            faiss.copy_array_to_vector(self._codes.ravel(), index.codes)
            index.ntotal = self.n
            self._faiss = index
        return self._faiss

    def tables(self, queries: np.ndarray) -> np.ndarray:
        return self.pq.distance_tables(queries)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(nq, d) queries -> (distances, ids), each (nq, k) ascending; ids -1 where n < k."""
        queries = np.asarray(queries, dtype=np.float32)
        nq = len(queries)
        k_eff = min(k, self.n)
        dist = np.full((nq, k), np.inf, dtype=np.float32)
        ids = np.full((nq, k), -1, dtype=np.int64)
        if self.n == 0 or nq == 0:
            return dist, ids
        if nq <= FAISS_MAX_QUERIES:
            fd, fi = self._faiss_index().search(np.ascontiguousarray(queries), k_eff)
            dist[:, :k_eff] = np.where(fi >= 0, fd, np.inf)
            ids[:, :k_eff] = fi
            return dist, ids
        for q0 in range(0, nq, self.query_block):
            qb = queries[q0 : q0 + self.query_block]
            t = self.tables(qb)  # (b, m, ksub)
            w = torch.from_numpy(np.ascontiguousarray(t.reshape(len(qb), -1).T))  # (m*ksub, b)
            with torch.inference_mode():
                best_d, best_i = self._scan(w, k_eff)
                order = torch.argsort(best_d, dim=1, stable=True)
                best_d = torch.gather(best_d, 1, order).numpy()
                best_i = torch.gather(best_i, 1, order).numpy()
            dist[q0 : q0 + len(qb), :k_eff] = best_d
            ids[q0 : q0 + len(qb), :k_eff] = best_i
        return dist, ids

    def _scan(self, w: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Running top-k over all codes for the queries whose tables are the columns of ``w``."""
        best_d = best_i = None
        for s in range(0, self.n, self.code_block):
            block = torch.nn.functional.embedding_bag(self._idx[s : s + self.code_block], w, mode="sum")  # (B, b)
            if best_d is None or best_d.shape[1] < k:
                bt = block.T.contiguous()
                if best_d is not None:
                    bt = torch.cat([best_d, bt], dim=1)
                    ids = torch.cat([best_i, torch.arange(s, s + block.shape[0]).expand(len(bt), -1)], dim=1)
                else:
                    ids = torch.arange(s, s + block.shape[0]).expand(len(bt), -1)
                kk = min(k, bt.shape[1])
                best_d, pos = torch.topk(bt, kk, dim=1, largest=False, sorted=False)
                best_i = torch.gather(ids, 1, pos)
                continue
            kth = best_d.max(dim=1).values  # current k-th distance per query
            rows, cols = torch.nonzero(block < kth, as_tuple=True)
            if len(rows) == 0:
                continue
            # pack each query's few candidates into a padded (b, max count) matrix, merge with one topk
            order = torch.argsort(cols, stable=True)
            rows, cols = rows[order], cols[order]
            counts = torch.bincount(cols, minlength=block.shape[1])
            pos = torch.arange(len(cols)) - (torch.cumsum(counts, 0) - counts)[cols]
            width = int(counts.max())
            cand_d = torch.full((block.shape[1], width), float("inf"))
            cand_i = torch.full((block.shape[1], width), -1, dtype=torch.long)
            cand_d[cols, pos] = block[rows, cols]
            cand_i[cols, pos] = rows + s
            best_d, p = torch.topk(torch.cat([best_d, cand_d], 1), k, dim=1, largest=False, sorted=False)
            best_i = torch.gather(torch.cat([best_i, cand_i], 1), 1, p)
        return best_d, best_i
