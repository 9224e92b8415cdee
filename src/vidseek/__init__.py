"""vidseek: content-based video retrieval — key frames, PWA deep features, product quantisation on Spark."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vidseek")  # one source: pyproject.toml
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0+unknown"
