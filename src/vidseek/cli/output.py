"""Writing rows as a text table (with a header), JSON or CSV to standard output."""

from __future__ import annotations

import csv
import json
import sys
from typing import Sequence

FORMATS = ("table", "json", "csv")


def write_rows(rows: list[dict], columns: Sequence[str], fmt: str, headers: Sequence[str] | None = None,
               out=None) -> None:
    """``rows`` (dicts) as ``fmt``: a table of ``columns`` with a header line, a JSON array, or CSV (to ``out``,
    standard output by default)."""
    out = out or sys.stdout
    if fmt == "json":
        out.write(json.dumps(rows, indent=2) + "\n")
    elif fmt == "csv":
        w = csv.writer(out)
        w.writerow(columns)
        w.writerows([[r.get(c, "") for c in columns] for r in rows])
    else:
        headers = list(headers or columns)
        cells = [[_cell(r.get(c)) for c in columns] for r in rows]
        widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
        out.write("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip() + "\n")
        for row in cells:
            out.write("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def fmt_time(t: float) -> str:
    m, s = divmod(max(t, 0.0), 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:06.3f}" if h else f"{m:02d}:{s:06.3f}"
