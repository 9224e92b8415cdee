"""Handing freed memory back to the system.

glibc serves large temporary arrays from its heap once its mmap threshold has grown past their size, and keeps
what they free in its arenas: after opening a big index (every codes part read, sorted and copied into the
search engine) the process stays at its high-water mark.  ``malloc_trim`` returns those pages; elsewhere than
glibc it is not there and nothing happens.
"""

from __future__ import annotations

import ctypes
import gc


def release_memory(collect: bool = True) -> bool:
    """Return freed heap to the system (``collect``: run the garbage collector first); whether it could."""
    if collect:
        gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return False
    return True
