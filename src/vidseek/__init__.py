"""vidseek: content-based video retrieval — key frames, PWA deep features, product quantisation on Spark."""

__version__ = "0.1.0"
