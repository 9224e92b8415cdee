"""The ``vidseek`` command line: one program, one sub-command per job (see :mod:`vidseek.cli.parser`).

Exit codes: 0 success; 1 nothing could be done (bad arguments, every input failed, a missing
index...); 3 with ``--strict``, when some inputs failed and the rest succeeded.  A user's error is one
line ``error: FILE: CAUSE``; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import logging
import os
import sys

from ..errors import VidseekError
from ..logs import setup
from .commands import EXIT_FAILED

log = logging.getLogger("vidseek.cli")

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command whose reader went away


def main(argv: list[str] | None = None) -> int:
    from .parser import build_parser

    args = build_parser().parse_args(argv)
    setup(verbose=args.verbose or args.debug, quiet=args.quiet)
    try:
        code = args.func(args)
        sys.stdout.flush()  # inside the try: a reader that went away shows up here
        return code
    except VidseekError as exc:
        log.error("%s", exc, exc_info=args.debug)
        return EXIT_FAILED
    except BrokenPipeError:  # `vidseek ... | head`: the reader is gone; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
