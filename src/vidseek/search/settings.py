"""Search defaults the command line shows in ``--help`` without loading the search (and torch) itself."""

from __future__ import annotations

#: candidates of the PQ scan re-ranked with their exact (float16) vectors
DEFAULT_REFINE = 256
MAX_DEPTH = 4096  # a picture's candidates are looked for this deep at most while they hold fewer than k videos
