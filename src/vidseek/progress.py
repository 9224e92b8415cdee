"""Progress of long jobs: a bar with rate and ETA on a terminal, a log line every ``interval`` s otherwise.

Nothing is printed at all with ``quiet``.  The interval of the log lines defaults to 30 s
(``VIDSEEK_PROGRESS_INTERVAL`` changes it).
"""

from __future__ import annotations

import logging
import os
import sys
import time

log = logging.getLogger("vidseek.progress")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    m, s = divmod(seconds, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


class Progress:
    """``update(done, extra)`` with absolute counts; ``extra`` is a second count (key frames) shown as a rate."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "file", extra_unit: str | None = None,
                 quiet: bool = False, interval: float | None = None, tty: bool | None = None):
        self.desc, self.total, self.unit, self.extra_unit = desc, total, unit, extra_unit
        self.quiet = quiet
        self.interval = interval if interval is not None else float(os.environ.get("VIDSEEK_PROGRESS_INTERVAL", 30))
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.start = self.last_log = time.monotonic()
        self.done, self.extra = 0, 0
        self.bar = None
        if not quiet and self.tty:
            from tqdm import tqdm

            self.bar = tqdm(desc=desc, total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True)

    def update(self, done: int, extra: int | None = None, total: int | None = None) -> None:
        self.done = done
        self.extra = extra if extra is not None else self.extra
        self.total = total if total is not None else self.total
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.n = done
            if self.extra_unit:
                self.bar.set_postfix_str(self._rate(), refresh=False)
            self.bar.refresh()
        elif (done or self.total) and time.monotonic() - self.last_log >= self.interval:
            self.last_log = time.monotonic()
            log.info("%s", self.line())

    def _rate(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        return f"{self.extra} {self.extra_unit}, {self.extra / elapsed:.1f} {self.extra_unit}/s"

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        parts = [f"{self.desc}: {self.done}" + (f"/{self.total}" if self.total else "") + f" {self.unit}(s)"]
        if self.extra_unit:
            parts.append(self._rate())
        if self.total and 0 < self.done < self.total:
            parts.append(f"ETA {_duration(elapsed * (self.total - self.done) / self.done)}")
        parts.append(f"{_duration(elapsed)} elapsed")
        return ", ".join(parts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif not self.quiet and time.monotonic() - self.start >= self.interval:
            log.info("%s (done)", self.line())
