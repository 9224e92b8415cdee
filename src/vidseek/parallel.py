"""Run one function over many files in worker processes, one bad file never stopping the rest."""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator

from .errors import VidseekError


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _call(fn: Callable, item: Any) -> tuple[Any, Any, str | None]:
    try:
        return item, fn(item), None
    except VidseekError as exc:
        return item, None, exc.cause
    except Exception as exc:  # noqa: BLE001 - reported per file, the batch goes on
        return item, None, f"unexpected error: {type(exc).__name__}: {exc}"


def map_files(fn: Callable, items: Iterable, jobs: int) -> Iterator[tuple[Any, Any, str | None]]:
    """Yield ``(item, result, error)`` for each item as it completes; ``error`` is a one-line cause.

    ``fn`` must be a module-level function (it is sent to the workers).  With ``jobs <= 1`` it runs
    in this process.  Workers are started with ``spawn`` (no state forked from the parent).
    """
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        for item in items:
            yield _call(fn, item)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=mp.get_context("spawn")) as pool:
        pending = {pool.submit(_call, fn, item) for item in items}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
