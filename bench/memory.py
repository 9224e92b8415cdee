"""Peak memory of a command and all its descendant processes (Spark JVM and Python workers included).

    python bench/memory.py -- vidseek build ../shared/data/videos --index /tmp/idx
    python bench/memory.py            # the two measurements recorded in docs/reliability.md

Samples /proc every 0.2 s; prints the peak of the summed resident set size over the process tree, and the
largest single process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: list[str]) -> tuple[int, float, float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_total = peak_single = 0
    while proc.poll() is None:
        sizes = [rss_kb(p) for p in tree(proc.pid)]
        peak_total = max(peak_total, sum(sizes))
        peak_single = max(peak_single, max(sizes, default=0))
        time.sleep(0.2)
    return proc.returncode, peak_total / 1024, peak_single / 1024, time.perf_counter() - t0


def report(label: str, cmd: list[str]) -> None:
    rc, total, single, secs = measure(cmd)
    print(f"{label}: exit {rc}, {secs:.0f} s, peak RSS of the process tree {total:.0f} MiB, "
          f"largest process {single:.0f} MiB")


def main() -> None:
    if "--" in sys.argv:
        report("command", sys.argv[sys.argv.index("--") + 1 :])
        return
    data = ROOT.parent / "shared" / "data" / "videos"
    idx = Path(tempfile.mkdtemp(prefix="vidseek-mem-")) / "idx"
    report("build of all shared videos (local[2])",
           [sys.executable, "-m", "vidseek", "build", str(data), "--index", str(idx), "--master", "local[2]"])
    report("train + encode 1M x 256-d vectors on Spark (local[2])",
           [sys.executable, str(ROOT / "bench" / "pq_spark.py"), "--skip-faiss"])


if __name__ == "__main__":
    main()
