"""Response models of the HTTP API (they are what the OpenAPI page at /docs documents)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Problem(BaseModel):
    detail: str = Field(description="what went wrong, in one line")


class Health(BaseModel):
    status: str = Field(description='"ok" while the server answers')
    keyframes: int
    videos: int
    generation: int = Field(description="index generation being served")


class Reload(BaseModel):
    generation: int = Field(description="index generation being served after the request")
    changed: bool = Field(description="whether a new generation was found and switched to")


class Stats(BaseModel):
    videos: int
    keyframes: int
    generation: int = Field(description="index generation being served")
    bytes: int = Field(description="size of the index on disk")
    dim: int = Field(description="descriptor dimension")
    pq_m: int = Field(description="bytes per PQ code")
    engine: str = Field(description="'flat' (every code scanned) or 'ivf' (inverted file)")
    nlist: int = Field(description="inverted lists (0: flat)")
    backbone: str
    image_size: int
    max_upload_mb: float


class Video(BaseModel):
    id: str = Field(description="video id (a string: 64-bit ids do not fit a JavaScript number)")
    name: str
    path: str
    duration: float = Field(description="seconds")
    keyframes: int
    stream_url: str


class VideoPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[Video]


class SearchResult(Video):
    score: float = Field(description="calibrated similarity: 1 for an identical picture, about 0 for one no closer "
                                     "than unrelated videos; results below the minimum score are not returned")
    time: float = Field(description="seconds from the start of the video: the best key frame (image query), or "
                                    "where the clip starts in this video (clip query)")
    frame: int = Field(description="frame number at `time`")
    keyframe_time: float = Field(description="seconds: the best-matching key frame")
    keyframe_frame: int = Field(description="frame number of the best-matching key frame")
    keyframe_id: str
    thumbnail_url: str


class SearchResponse(BaseModel):
    query: str | None = Field(description="the uploaded file's name")
    kind: str = Field(description='"image" or "clip": how the upload was read')
    took_ms: float
    min_score: float | None = Field(description="the threshold applied (null with all=true)")
    results: list[SearchResult] = Field(description="best first; empty when nothing in the collection matches")


class DuplicateSegment(BaseModel):
    a_start: float = Field(description="seconds from the first frame of video a")
    a_end: float
    b_start: float = Field(description="seconds from the first frame of video b")
    b_end: float
    score: float = Field(description="the segment's best key-frame score (what a search score means)")
    a_thumbnail_url: str | None = Field(description="the best-matching key frame of a in this segment")
    b_thumbnail_url: str | None


class DuplicatePair(BaseModel):
    a: Video = Field(description="the video whose path sorts first")
    b: Video
    score: float = Field(description="the best segment's score")
    segments: list[DuplicateSegment] = Field(description="in time order in a")


class Duplicates(BaseModel):
    generation: int
    min_score: float
    pairs: list[DuplicatePair] = Field(description="best first; empty when no two videos share footage")
