"""The index a running server searches, kept up to date with the index folder.

A watcher thread looks at ``IDX/manifest.json`` (of an ``s3://`` index: its ``LATEST`` pointer, the local copy
brought up to date when it moved) every ``interval`` seconds (and ``POST /api/reload`` asks at
once).  When a new generation has been committed (``vidseek add``, ``remove``, ``compact``, a rebuild), it is
opened beside the current one, sharing the loaded network when the model folder is the same, and then swapped in
with one reference assignment.  A request takes the generation current when it starts and uses it to the end, so
searches in flight finish on the old generation and new ones use the new; the old one is freed when the last
request holding it ends.  A generation that fails to open (a half-copied folder, a corrupt file) is logged and the
server keeps the one it has.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from ..errors import VidseekError
from ..memory import release_memory
from ..search import Index
from ..search.timing import TimeConfig
from ..search.verify import VerifyConfig
from ..storage import is_uri
from ..store.layout import MANIFEST
from ..store.remote import readable_index

log = logging.getLogger(__name__)


@dataclass
class Generation:
    """One opened generation and what the API lists about it."""

    index: Index
    videos: list[tuple[int, str]] = field(default_factory=list)  # (id, path), in path order
    keyframes: dict[int, int] = field(default_factory=dict)  # video id -> key frames

    @classmethod
    def of(cls, index: Index) -> Generation:
        t = index.table
        counts = np.bincount(t.video[t.video >= 0], minlength=len(t.video_ids)).tolist()
        return cls(index, sorted(index.video_paths.items(), key=lambda kv: kv[1]),
                   dict(zip(t.video_ids.tolist(), counts)))

    @property
    def number(self) -> int:
        return self.index.manifest.generation


class LiveIndex:
    def __init__(self, path: str, device: str = "auto", nprobe: int | None = None, interval: float = 2.0,
                 place: bool = True, verify: bool = True):
        self.source = str(path)  # a folder, or an s3:// URI whose local copy is brought up to date at each look
        self.path = readable_index(self.source)
        self._device, self._nprobe, self.interval = device, nprobe, interval
        self._time_config = TimeConfig() if place else TimeConfig(hits=0)  # the best hit placed frame-exactly
        self._verify_config = VerifyConfig() if verify else VerifyConfig(hits=0)  # doubtful answers checked
        self._current = Generation.of(self._open())
        self._current.index.model  # load the network now, not on the first request
        self._stamp = self._manifest_stamp()
        self._failed: tuple[int, int] | None = None
        self._lock = threading.Lock()  # one reload at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _open(self, like: Index | None = None) -> Index:
        index = Index.open(self.path, device=self._device, nprobe=self._nprobe, time_config=self._time_config,
                           verify_config=self._verify_config)
        if like is not None and like.manifest.model_dir == index.manifest.model_dir and like._model is not None:
            index._model = like._model  # the same network: shared, not loaded again
        return index

    def _manifest_stamp(self) -> tuple[int, int] | None:
        if is_uri(self.source):
            try:  # one GET of the pointer; files are fetched only for a new generation
                readable_index(self.source)
            except VidseekError as exc:
                log.warning("could not look for a new generation of %s: %s", self.source, exc)
        try:
            st = (self.path / MANIFEST).stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def current(self) -> Generation:
        return self._current

    def reload(self) -> bool:
        """Open and switch to the index's newest generation if it changed; whether it did."""
        with self._lock:
            stamp = self._manifest_stamp()
            if stamp is None or stamp == self._stamp:
                return False
            old = self._current
            try:
                index = self._open(like=old.index)
            except VidseekError as exc:
                if stamp != self._failed:  # said once per manifest, not at every look
                    log.warning("index changed but could not be opened, still serving generation %d: %s",
                                old.number, exc)
                self._failed = stamp
                return False
            self._stamp = stamp
            if index.manifest.generation == old.number:
                return False
            index.model  # a new model folder (a rebuild): its network is loaded before the switch
            self._current = Generation.of(index)
            log.info("now serving generation %d (was %d)", self._current.number, old.number)
            return True

    def start(self) -> None:
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="vidseek-reload", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        trim = False
        while not self._stop.wait(self.interval):
            if trim:  # a tick after a switch: the old generation's requests have ended, its memory is free
                release_memory()
            try:
                trim = self.reload()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one failed reload
                log.exception("reload failed; still serving generation %d", self._current.number)

    def stop(self) -> None:
        self._stop.set()
