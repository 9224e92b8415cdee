"""Video stage: decoding (PyAV) and the video summary (shots and key frames)."""

from .decode import DecodedFrame, VideoInfo, VideoReader
from .detector import AdaptiveCutDetector, DetectorConfig
from .keyframes import KeyFrame, KeyframeConfig, KeyframeStream, Shot, VideoSummary, summarise
from .sample import sample_frames

__all__ = [
    "AdaptiveCutDetector",
    "DecodedFrame",
    "DetectorConfig",
    "KeyFrame",
    "KeyframeConfig",
    "KeyframeStream",
    "Shot",
    "VideoInfo",
    "VideoReader",
    "VideoSummary",
    "sample_frames",
    "summarise",
]
