"""Video stage: decoding (PyAV) and the video summary (shots and key frames)."""

from .decode import DecodedFrame, VideoInfo, VideoReader, iter_frames
from .detector import AdaptiveCutDetector, DetectorConfig
from .keyframes import KeyFrame, KeyframeConfig, Shot, VideoSummary, summarise

__all__ = [
    "AdaptiveCutDetector",
    "DecodedFrame",
    "DetectorConfig",
    "KeyFrame",
    "KeyframeConfig",
    "Shot",
    "VideoInfo",
    "VideoReader",
    "VideoSummary",
    "iter_frames",
    "summarise",
]
