"""Search defaults the command line shows in ``--help`` without loading the search (and torch) itself."""

from __future__ import annotations

#: candidates of the PQ scan re-ranked with their exact (float16) vectors
DEFAULT_REFINE = 256
