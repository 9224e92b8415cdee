"""Interactive latency of `Index.search` for given query files (model loaded; best and median of --repeat).

    python bench/latency.py IDX QUERY... [--repeat 5]

To compare with another version of vidseek, point VIDSEEK_SRC at its source tree (for example a git worktree of an
older commit) and give it an index that version built:

    git worktree add /tmp/prev ab72222
    PYTHONPATH=/tmp/prev/src python -m vidseek build VIDEOS... --index /tmp/prev-idx
    VIDSEEK_SRC=/tmp/prev/src python bench/latency.py /tmp/prev-idx q.png clip.mp4
    python bench/latency.py IDX q.png clip.mp4
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("VIDSEEK_SRC", str(ROOT / "src")))

import numpy as np  # noqa: E402

from vidseek.search import Index  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("index")
    ap.add_argument("queries", nargs="+")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--time-hits", type=int, help="hits placed frame-exactly (vidseek.search.timing; 0: key-frame "
                    "times; default: the library's)")
    ap.add_argument("--keep-frames", action="store_true", help="keep the features of the frames checked by one "
                    "search for the next (as a server does; vidseek.search.frame_cache); by default each search "
                    "starts without them, as the first to check its frames")
    ap.add_argument("--verify-hits", type=int, help="hits checked with local features when the answer is doubtful "
                    "(vidseek.search.verify; 0: none; default: the library's)")
    args = ap.parse_args()
    index = Index.open(args.index, device="cpu")
    if args.time_hits is not None and hasattr(index, "time_config"):  # versions before the timing have none
        from dataclasses import replace

        index.time_config = replace(index.time_config, hits=args.time_hits)
    if args.verify_hits is not None and hasattr(index, "verify_config"):  # versions before the verification have none
        from dataclasses import replace

        index.verify_config = replace(index.verify_config, hits=args.verify_hits)
    index.search(args.queries[0])  # loads the model
    import vidseek

    placed = getattr(index, "time_config", None)
    print(f"vidseek from {Path(vidseek.__file__).parent}, index {args.index} ({len(index)} key frames)"
          + (f"; hits placed frame-exactly: {placed.hits}" if placed else "")
          + (f"; hits verified when doubtful: {index.verify_config.hits}" if hasattr(index, "verify_config") else ""))
    for q in args.queries:
        times = []
        for _ in range(args.repeat):
            if not args.keep_frames and hasattr(index, "frame_cache"):  # versions before the cache have none
                index.frame_cache.clear()
            t0 = time.perf_counter()
            index.search(q)
            times.append(time.perf_counter() - t0)
        print(f"  {Path(q).name:<40} best {1000 * min(times):6.0f} ms   median {1000 * np.median(times):6.0f} ms")


if __name__ == "__main__":
    main()
