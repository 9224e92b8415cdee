"""Product quantisation: per-sub-space k-means codebooks, m-byte codes, ADC lookup tables."""

from .kmeans import kmeans
from .pq import ProductQuantizer

__all__ = ["ProductQuantizer", "kmeans"]
