"""Peak memory of a command and all its descendant processes (Spark JVM and Python workers included).

    python bench/memory.py -- vidseek build ../shared/data/videos --index /tmp/idx
    python bench/memory.py            # the measurements recorded in docs/reliability.md and bench/README.md
    python bench/memory.py --long 15 60   # only the long-video builds (minutes of video)

Samples /proc every 0.2 s; prints the peak of the summed resident set size over the process tree, the largest
single process, and the peak of each kind of process (the driver's Python, the Spark JVM, the largest Spark
Python worker).  The long-video case remuxes a shared clip (opencv/vtest.avi, 79.5 s) in a loop with PyAV
(no re-encoding) into 15- and 60-minute files and builds each alone: a build's memory must not grow with the
length of a video, so the peaks of each kind must agree within 10%.
"""

from __future__ import annotations

import argparse
import math
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


def kind(pid: int, root: int) -> str:
    if pid == root:
        return "driver"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    if "java" in cmd.split(" ")[0]:
        return "jvm"
    if "pyspark" in cmd or "python" in cmd.split(" ")[0]:
        return "worker"
    return "other"


def measure(cmd: list[str]) -> tuple[int, float, float, float, dict[str, float]]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_total = peak_single = 0
    per_kind: dict[str, int] = {}
    while proc.poll() is None:
        sizes = {p: rss_kb(p) for p in tree(proc.pid)}
        peak_total = max(peak_total, sum(sizes.values()))
        peak_single = max(peak_single, max(sizes.values(), default=0))
        for p, kb in sizes.items():
            k = kind(p, proc.pid)
            per_kind[k] = max(per_kind.get(k, 0), kb)
        time.sleep(0.2)
    kinds = {k: v / 1024 for k, v in per_kind.items() if k != "other"}
    return proc.returncode, peak_total / 1024, peak_single / 1024, time.perf_counter() - t0, kinds


def report(label: str, cmd: list[str]) -> dict[str, float]:
    rc, total, single, secs, kinds = measure(cmd)
    print(f"{label}: exit {rc}, {secs:.0f} s, peak RSS of the process tree {total:.0f} MiB, "
          f"largest process {single:.0f} MiB", flush=True)
    print("  peak per process kind: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in sorted(kinds.items())), flush=True)
    return kinds


def loop_video(src: Path, out: Path, minutes: float) -> float:
    """Remux ``src`` (no re-encoding) in a loop into ``out`` until it lasts ``minutes``; returns seconds."""
    import av

    with av.open(str(src)) as probe:
        s = probe.streams.video[0]
        length = int(s.duration or s.frames)  # in time-base units (one per frame for vtest.avi)
        tb = s.time_base
    loops = max(1, math.ceil(minutes * 60 / float(length * tb)))
    with av.open(str(out), "w") as dst:
        ostream = None
        for i in range(loops):
            with av.open(str(src)) as inp:
                istream = inp.streams.video[0]
                if ostream is None:
                    ostream = dst.add_stream_from_template(istream)
                for packet in inp.demux(istream):
                    if packet.dts is None:
                        continue
                    packet.dts += i * length
                    if packet.pts is not None:
                        packet.pts += i * length
                    packet.stream = ostream
                    dst.mux(packet)
    return float(loops * length * tb)


def long_videos(minutes: list[float], work: Path) -> None:
    src = ROOT.parent / "shared" / "data" / "videos" / "opencv" / "vtest.avi"
    peaks = []
    for m in minutes:
        video = work / f"vtest-{m:g}min.avi"
        secs = loop_video(src, video, m)
        idx = work / f"idx-{m:g}"
        peaks.append(report(f"build of one {secs / 60:.1f}-minute video ({video.stat().st_size >> 20} MiB, local[2])",
                            [sys.executable, "-m", "vidseek", "build", str(video), "--index", str(idx),
                             "--master", "local[2]"]))
        video.unlink()
    if len(peaks) > 1:
        for k in sorted(peaks[0]):
            vals = [p.get(k, 0.0) for p in peaks]
            spread = (max(vals) - min(vals)) / max(min(vals), 1e-9)
            verdict = "ok" if spread <= 0.10 else "GROWS"
            print(f"  {k}: " + " / ".join(f"{v:.0f}" for v in vals) + f" MiB: spread {spread:.1%} ({verdict})")


def main() -> None:
    if "--" in sys.argv:
        report("command", sys.argv[sys.argv.index("--") + 1 :])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--long", type=float, nargs="+", metavar="MIN", help="only the long-video builds, these lengths")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidseek-mem-"))
    if args.long:
        long_videos(args.long, work)
        return
    data = ROOT.parent / "shared" / "data" / "videos"
    report("build of all shared videos (local[2])",
           [sys.executable, "-m", "vidseek", "build", str(data), "--index", str(work / "idx"), "--master", "local[2]"])
    report("train + encode 1M x 256-d vectors on Spark (local[2])",
           [sys.executable, str(ROOT / "bench" / "pq_spark.py"), "--skip-faiss"])
    long_videos([15, 60], work)


if __name__ == "__main__":
    main()
