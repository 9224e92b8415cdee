"""Atomic file replacement, the one way vidseek writes a file that a reader may open at any moment.

A file is written under a temporary name in the same folder and renamed over its final name, so a reader
sees the old file or the new one, never a half-written one; with ``sync`` the data and the rename are also
flushed to disk (the manifest: the commit point of an index).
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def crash_point(name: str) -> None:
    """Fault injection for the interrupted-build tests: ``VIDSEEK_CRASH_AT=name`` kills this process here,
    as ``kill -9`` or a power cut would (no clean-up runs)."""
    if os.environ.get("VIDSEEK_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike, sync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so ``np.savez`` keeps it); once the block ends
    without error it replaces ``path``; on error it is removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        yield tmp
        if sync:
            _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync:
        _fsync(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes, sync: bool = False) -> None:
    with atomic_path(path, sync) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str, sync: bool = False) -> None:
    write_bytes(path, text.encode(), sync)
