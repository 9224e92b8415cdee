"""Streaming a video that lives in object storage, with HTTP range requests (the browser's player seeks).

Each response reads only the bytes asked for, in ranged GETs of :data:`CHUNK`; nothing is copied to local disk.
"""

from __future__ import annotations

import mimetypes
import re
from typing import Iterator

from fastapi import HTTPException
from fastapi.responses import Response, StreamingResponse

from ..errors import InputError
from ..storage import object_info, open_object

CHUNK = 1 << 20
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single-range ``Range`` header, None for the whole file; HTTP 416 when it cannot be
    satisfied (multiple ranges are answered with the whole file, as RFC 9110 allows)."""
    m = _RANGE.match((header or "").strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):  # the last N bytes
        n = int(m.group(2))
        if n == 0 or size == 0:
            raise HTTPException(416, "range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
        return max(0, size - n), size - 1
    first = int(m.group(1))
    last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if first >= size or last < first:
        raise HTTPException(416, "range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    return first, last


def _chunks(uri: str, first: int, last: int) -> Iterator[bytes]:
    with open_object(uri) as f:
        pos = first
        while pos <= last:
            data = f.read_at(min(CHUNK, last + 1 - pos), pos)
            if not data:
                return
            pos += len(data)
            yield data


def object_response(uri: str, range_header: str | None) -> Response:
    """The object at ``uri`` (or the range asked for) as a streamed response; 404 when it is gone."""
    try:
        info = object_info(uri)
    except InputError:
        raise HTTPException(404, "not found") from None
    if info.type.name != "File":
        raise HTTPException(404, "not found")
    size = info.size
    media = mimetypes.guess_type(uri)[0] or "application/octet-stream"
    name = uri.rsplit("/", 1)[-1].replace('"', "")
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": f'inline; filename="{name}"'}
    got = byte_range(range_header, size)
    first, last = got if got else (0, size - 1)
    headers["Content-Length"] = str(last - first + 1)
    if got:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(_chunks(uri, first, last), status_code=206 if got else 200, media_type=media,
                             headers=headers)
