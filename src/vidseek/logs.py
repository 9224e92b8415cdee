"""How vidseek's messages reach a terminal: one line each on standard error.

Library code logs through ``logging.getLogger(__name__)``; the command line installs :func:`setup`.
Levels: ``DEBUG`` (``-v``), ``INFO`` (stages, per-file lines, progress: the default), ``NOTICE`` (results
and summaries: the least ``-q`` shows), ``WARNING`` (``warning: ...``), ``ERROR`` (``error: ...``).
"""

from __future__ import annotations

import logging
import sys

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

_PREFIX = {logging.DEBUG: "debug: ", logging.WARNING: "warning: ", logging.ERROR: "error: ", logging.CRITICAL: "error: "}


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = _PREFIX.get(record.levelno, "") + record.getMessage()
        if record.exc_info:  # only asked for with --debug
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup(verbose: int = 0, quiet: bool = False) -> None:
    """Send the ``vidseek`` loggers to standard error: INFO by default, NOTICE with ``quiet``, DEBUG with ``verbose``."""
    logger = logging.getLogger("vidseek")
    for h in list(logger.handlers):
        logger.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else NOTICE if quiet else logging.INFO)
    logger.propagate = False
