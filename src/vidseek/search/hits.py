"""A search result, and the JSON the command line and the server print for a query's results."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Hit:
    video: str  # absolute path of the indexed file
    score: float  # calibrated similarity: 1 identical, about 0 no closer than unrelated videos (see scoring)
    time: float  # seconds from the start of the video (image: best key frame; clip: where the clip starts)
    frame: int  # the frame at ``time``
    keyframe_id: int  # the best-matching key frame
    video_id: int
    keyframe_time: float = 0.0
    keyframe_frame: int = 0
    query_frame: int = 0  # the query frame that matched the best key frame (a clip's; 0 for an image)
    # an image's next best key frames in the same video at other moments, (time, frame, key frame id), best
    # first: checked when the best key frame fails verification (the right video at the wrong moment)
    moments: list[tuple[float, int, int]] = field(default_factory=list, repr=False)

    def to_json(self) -> dict:
        return {"video": self.video, "score": round(float(self.score), 6), "time": round(float(self.time), 3),
                "frame": int(self.frame), "keyframe_time": round(float(self.keyframe_time), 3),
                "keyframe_frame": int(self.keyframe_frame)}


def hits_json(query: str, hits: list[Hit]) -> dict:
    return {"query": query, "results": [h.to_json() for h in hits]}

