"""Whole index build over all shared videos: seconds and key frames/s per stage.

    python bench/build.py [--master local[*]] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vidseek.engine.build import BuildConfig, build_index  # noqa: E402
from vidseek.engine.session import SparkConfig  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--master", default="local[*]")
    args = ap.parse_args()
    idx = Path(tempfile.mkdtemp(prefix="vidseek-buildbench-")) / "idx"
    t0 = time.perf_counter()
    r = build_index([str(Path(args.data) / "videos")], idx, BuildConfig(spark=SparkConfig(master=args.master), quiet=True))
    total = time.perf_counter() - t0
    print(f"{r.files} files ({r.ok} indexed, {len(r.failed)} failed), {r.keyframes} key frames, "
          f"{r.bytes_on_disk / 1e6:.1f} MB index; master {args.master}; total {total:.1f} s")
    print(f"{'stage':<14}{'seconds':>9}{'key frames/s':>14}")
    for stage, s in r.stages.items():
        rate = f"{r.keyframes / s:>14.1f}" if stage not in ("spark start",) else f"{'':>14}"
        print(f"{stage:<14}{s:>9.1f}{rate}")
    for path, cause in r.failed:
        print(f"failed: {path}: {cause}")
    shutil.rmtree(idx.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
