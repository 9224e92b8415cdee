"""Asymmetric distance computation over PQ codes, exhaustive, blocked, multi-threaded.

For each query the m x 2^nbits table of squared distances to every centroid is computed once; the
distance to a code is the sum of its m table entries.  The sums run as ``torch.embedding_bag(mode=
"sum")``: the codes (offset by sub-space) index the rows of a (m*k, nq) matrix holding the tables of
up to ``query_block`` queries side by side, so one pass over the codes serves a whole block of
queries, in optimised multi-threaded C++.  Top-k per block is merged into a running top-k.
"""

from __future__ import annotations

import numpy as np
import torch

from ..quantize.pq import ProductQuantizer


class ADCSearcher:
    def __init__(self, codes: np.ndarray, pq: ProductQuantizer, code_block: int = 65536, query_block: int = 64):
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.ndim != 2 or codes.shape[1] != pq.m:
            raise ValueError(f"codes must be (n, {pq.m}) uint8, got {codes.shape}")
        self.pq = pq
        self.n = len(codes)
        offsets = (np.arange(pq.m, dtype=np.int32) * pq.k)[None, :]
        self._idx = torch.from_numpy(codes.astype(np.int32) + offsets)  # (n, m) rows of the stacked tables
        self.code_block = code_block
        self.query_block = query_block

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
        for q0 in range(0, nq, self.query_block):
            qb = queries[q0 : q0 + self.query_block]
            t = self.tables(qb)  # (b, m, ksub)
            w = torch.from_numpy(np.ascontiguousarray(t.reshape(len(qb), -1).T))  # (m*ksub, b)
            best_d = best_i = None
            with torch.inference_mode():
                for s in range(0, self.n, self.code_block):
                    block = torch.nn.functional.embedding_bag(self._idx[s : s + self.code_block], w, mode="sum")
                    kk = min(k_eff, block.shape[0])
                    d, i = torch.topk(block, kk, dim=0, largest=False, sorted=False)  # (kk, b)
                    i = i + s
                    if best_d is None:
                        best_d, best_i = d, i
                    else:
                        cat_d, cat_i = torch.cat([best_d, d]), torch.cat([best_i, i])
                        best_d, pos = torch.topk(cat_d, k_eff, dim=0, largest=False, sorted=False)
                        best_i = torch.gather(cat_i, 0, pos)
                order = torch.argsort(best_d, dim=0, stable=True)
                best_d = torch.gather(best_d, 0, order).T.numpy()
                best_i = torch.gather(best_i, 0, order).T.numpy()
            dist[q0 : q0 + len(qb), :k_eff] = best_d
            ids[q0 : q0 + len(qb), :k_eff] = best_i
        return dist, ids

    def distances(self, queries: np.ndarray) -> np.ndarray:
        """(nq, n) ADC distances to every code (for small indexes and tests)."""
        t = self.tables(np.asarray(queries, dtype=np.float32))
        w = torch.from_numpy(np.ascontiguousarray(t.reshape(len(t), -1).T))
        with torch.inference_mode():
            return torch.nn.functional.embedding_bag(self._idx, w, mode="sum").T.numpy().copy()
