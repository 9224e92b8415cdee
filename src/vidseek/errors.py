"""Errors that carry the offending file and a human-readable cause.

Every error a user can trigger with bad input is a :class:`VidseekError` whose
``str()`` is one line: ``<path>: <cause>``.  The CLI prints that line and exits
non-zero; batch jobs record it and carry on with the next file.
"""

from __future__ import annotations

from pathlib import Path


class VidseekError(Exception):
    """Base class for errors reported to the user as one line."""

    def __init__(self, path: str | Path | None, cause: str):
        self.path = None if path is None else str(path)
        self.cause = cause
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.path}: {self.cause}" if self.path else self.cause


class InputError(VidseekError):
    """A file given to vidseek cannot be read as the media it should be."""


class ModelError(VidseekError):
    """A model (weights, fitted state) is missing, corrupt or incompatible."""


class StoreError(VidseekError):
    """An index on disk is missing, corrupt or locked."""
