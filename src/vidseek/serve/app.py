"""HTTP API and web page: `vidseek serve IDX`.

Endpoints (OpenAPI docs at /docs):
    POST /api/search                     multipart upload of an image or a short clip (field ``file``), ``k``
    GET  /api/videos?offset=&limit=      indexed videos, paged
    GET  /api/videos/{id}/stream         the indexed file, with HTTP range requests (the browser can seek)
    GET  /api/keyframes/{id}/thumbnail   JPEG thumbnail of a key frame
    GET  /api/duplicates?min_score=      pairs of indexed videos that share footage, with the segments
    GET  /api/stats                      index statistics (the generation served)
    GET  /api/health                     liveness and the generation served
    POST /api/reload                     switch to a newly committed generation now (also done every 2 s: .live)
    POST /api/login, /api/logout         set / clear the session cookie of the page (token field)
    GET  /                               the search page (all assets served locally, no CDN)

With a token (:mod:`.auth`) every other ``/api/`` route needs it, as a Bearer header or the login cookie.

The index is loaded at start-up and follows the index folder (:mod:`.live`).  Searches run in a bounded thread pool (torch, PyAV and numpy release
the GIL), so the event loop never blocks; the model is loaded once and shared read-only by all searches.
Only files that belong to the index can be streamed: URLs carry ids, never paths.  Uploads are size-limited
(413) and checked by decoding, not by extension (400 with the cause).
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from ..errors import VidseekError
from ..search.scoring import DEFAULT_MIN_SCORE
from ..storage import is_uri
from .auth import COOKIE, TokenAuth
from .config import ServeConfig  # noqa: F401 - part of this module's interface
from .live import Generation, LiveIndex
from .duplicates import DuplicateCache, thumbnail_url
from .objects import object_response
from .models import DuplicatePair, Duplicates, DuplicateSegment, Health, Problem, Reload, SearchResponse, SearchResult, Stats, Video, VideoPage

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("vidseek.serve")
CHUNK = 1 << 20


def _parse_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise HTTPException(404, "not found") from None


def _thumbnail(live: LiveIndex, kid: int) -> bytes:
    try:
        return live.current().index.thumbnail(kid)
    except (VidseekError, OSError):  # this generation's files are gone (a compaction): a newer one is committed
        live.reload()
        return live.current().index.thumbnail(kid)


def create_app(config: ServeConfig) -> FastAPI:
    live = LiveIndex(config.index, device=config.device, nprobe=config.nprobe, interval=config.reload_interval,
                     place=not config.keyframe_times, verify=config.verify)
    pool = ThreadPoolExecutor(max_workers=max(1, config.workers), thread_name_prefix="vidseek-search")
    limit = int(config.max_upload_mb * 1024 * 1024)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        live.start()
        yield
        live.stop()
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="vidseek", version="1", lifespan=lifespan,
                  description="Find where an image or a clip appears in a video collection.")
    app.state.live = live
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    auth = TokenAuth(config.token)
    bearer = HTTPBearer(auto_error=False, description="the server's token (--token / VIDSEEK_TOKEN)")

    def authorised(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        auth.require(request, credentials)

    api = APIRouter(prefix="/api", dependencies=[Depends(authorised)],
                    responses={401: {"model": Problem, "description": "no valid token (the server has one)"}})

    def video_json(g: Generation, vid: int) -> dict:
        path = g.index.video_paths[vid]
        return {"id": str(vid), "name": Path(path).name, "path": path, "duration": g.index.video_durations.get(vid, 0.0),
                "keyframes": g.keyframes.get(vid, 0), "stream_url": f"/api/videos/{vid}/stream"}

    @api.get("/health")
    def health() -> Health:
        g = live.current()
        return Health(status="ok", keyframes=len(g.index), videos=len(g.index.video_paths), generation=g.number)

    @api.get("/stats")
    def stats() -> Stats:
        index = live.current().index
        return Stats(**index.stats(), backbone=index.model.backbone.name, image_size=index.model.backbone.image_size,
                     max_upload_mb=config.max_upload_mb)

    @api.post("/reload")
    def reload() -> Reload:
        """Look for a newly committed generation now (the server also looks every few seconds)."""
        changed = live.reload()
        return Reload(generation=live.current().number, changed=changed)

    @api.get("/videos")
    def list_videos(offset: int = 0, limit: int = 50) -> VideoPage:
        g = live.current()
        offset, limit = max(0, offset), min(max(1, limit), 500)
        return VideoPage(total=len(g.videos), offset=offset, limit=limit,
                         items=[Video(**video_json(g, vid)) for vid, _ in g.videos[offset : offset + limit]])

    @api.get("/videos/{video_id}/stream", response_class=FileResponse, responses={
        200: {"description": "the whole file", "content": {"video/*": {}, "application/octet-stream": {}}},
        206: {"description": "the range asked for", "content": {"video/*": {}, "application/octet-stream": {}}},
        404: {"model": Problem, "description": "no such video in the index"}})
    def stream(video_id: str, request: Request) -> Response:
        vid = _parse_id(video_id)
        path = live.current().index.video_paths.get(vid)
        if path is not None and is_uri(path):  # a video in object storage: ranged reads, no local copy
            return object_response(path, request.headers.get("range"))
        if path is None or not os.path.isfile(path):
            raise HTTPException(404, "not found")
        media = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media, filename=Path(path).name, content_disposition_type="inline")

    @api.get("/keyframes/{kf_id}/thumbnail", response_class=Response, responses={
        200: {"description": "a JPEG", "content": {"image/jpeg": {}}},
        404: {"model": Problem, "description": "no such key frame in the index"},
        503: {"model": Problem, "description": "the index's files changed under the request, or are damaged"}})
    def thumbnail(kf_id: str) -> Response:
        # a plain function: it runs in the server's I/O threads, not behind the searches in the CNN pool
        kid = _parse_id(kf_id)
        try:
            data = _thumbnail(live, kid)
        except KeyError:
            raise HTTPException(404, "not found") from None
        except (VidseekError, OSError) as exc:
            log.warning("thumbnail %s: %s", kid, exc)
            raise HTTPException(503, "thumbnail unavailable: the index's files changed or are damaged (the server "
                                     "log says which); try again") from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})

    @api.post("/search", responses={400: {"model": Problem, "description": "not a readable image or video"},
                                     413: {"model": Problem, "description": "larger than --max-upload-mb"}})
    async def search(request: Request, file: UploadFile = File(...), k: int = Form(10),
                     show_all: bool = Form(False, alias="all", description="also return results below the minimum score"),
                     min_score: float = Form(DEFAULT_MIN_SCORE, description="results scoring below are not returned "
                                             "(an empty list means nothing in the collection matches)")) -> SearchResponse:
        g = live.current()  # this request's generation, to its end
        k = min(max(1, k), config.max_k)
        threshold = None if show_all else min_score
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise HTTPException(413, f"upload larger than the limit of {config.max_upload_mb:g} MB")
        suffix = Path(file.filename or "upload").suffix.lower()[:8]
        fd, tmp = tempfile.mkstemp(prefix="vidseek-upload-", suffix=suffix)
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := await file.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise HTTPException(413, f"upload larger than the limit of {config.max_upload_mb:g} MB")
                    out.write(chunk)
            if size == 0:
                raise HTTPException(400, "empty upload")
            t0 = time.perf_counter()
            try:
                hits, kind = await asyncio.get_running_loop().run_in_executor(pool, partial(g.index.search_query, tmp, k,
                                                                                     min_score=threshold))
            except VidseekError as exc:
                raise HTTPException(400, f"{file.filename}: {exc.cause}") from None
            except Exception as exc:  # noqa: BLE001 - a query must never crash the server
                raise HTTPException(400, f"{file.filename}: could not be read as an image or video "
                                         f"({type(exc).__name__})") from None
            took = (time.perf_counter() - t0) * 1000
        finally:
            Path(tmp).unlink(missing_ok=True)
        results = [SearchResult(**video_json(g, h.video_id), score=round(h.score, 6), time=round(h.time, 3), frame=h.frame,
                                keyframe_time=round(h.keyframe_time, 3), keyframe_frame=h.keyframe_frame,
                                keyframe_id=str(h.keyframe_id), thumbnail_url=f"/api/keyframes/{h.keyframe_id}/thumbnail")
                   for h in hits]
        return SearchResponse(query=file.filename, kind=kind, took_ms=round(took, 1), results=results,
                              min_score=threshold)

    dup_cache = DuplicateCache()

    @api.get("/duplicates", responses={503: {"model": Problem, "description": "the index is too large to compare "
                                                                               "in the server; use `vidseek dups`"}})
    async def duplicates(min_score: float = DEFAULT_MIN_SCORE) -> Duplicates:
        """Every pair of indexed videos that share footage, best first (computed once per generation: the first
        request on a new one takes a while, about a second per 20 key frames on 2 cores). Segments scoring at least
        the default threshold are placed frame by frame; weaker ones, returned only with a lower `min_score`, are
        as found from the key frames (their ends may be off by a key-frame interval)."""
        g = live.current()
        try:
            pairs = await asyncio.get_running_loop().run_in_executor(pool, dup_cache.pairs, g, min_score)
        except VidseekError as exc:
            raise HTTPException(503, exc.cause) from None
        ids = {path: vid for vid, path in g.index.video_paths.items()}
        out = []
        for p in pairs:
            a, b = ids.get(p.a), ids.get(p.b)
            if a is None or b is None:
                continue
            segs = [DuplicateSegment(**s.to_json(), a_thumbnail_url=thumbnail_url(p.a, s.a_frame),
                                     b_thumbnail_url=thumbnail_url(p.b, s.b_frame)) for s in p.segments]
            out.append(DuplicatePair(a=Video(**video_json(g, a)), b=Video(**video_json(g, b)), score=round(p.score, 6),
                                     segments=segs))
        return Duplicates(generation=g.number, min_score=min_score, pairs=out)

    @app.post("/api/login", status_code=204, responses={401: {"model": Problem, "description": "wrong token"}})
    def login(request: Request, token: str = Form(..., min_length=1, description="the server's token")) -> Response:
        """Check the token and set the page's session cookie (HttpOnly, SameSite=Strict)."""
        if auth.enabled and not auth.matches(token):
            raise HTTPException(401, "wrong token")
        out = Response(status_code=204)
        if auth.enabled:
            out.set_cookie(COOKIE, auth.session(), httponly=True, samesite="strict", path="/",
                           secure=request.url.scheme == "https")
        return out

    @app.post("/api/logout", status_code=204)
    def logout() -> Response:
        out = Response(status_code=204)
        out.delete_cookie(COOKIE, path="/")
        return out

    app.include_router(api)

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text())

    return app


def serve(config: ServeConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # searches run side by side in worker threads: BLAS threads
    # would only contend with them and with faiss's (each search sets one thread anyway; set once, nothing races)

    app = create_app(config)
    uvicorn.run(app, host=host, port=port, log_level="warning")
