"""The writer lock of an index in object storage: one object, ``.lock``, created only where there is none.

Its body names the holder (host, pid, time), a random token and the lease: the holder rewrites the object every
sixth of the lease while it works (:class:`LockKeeper`), so a lock that has not been rewritten for a whole lease
belongs to a writer that is gone.  Creation is a conditional PUT (``If-None-Match: *``), so of two writers starting
together exactly one gets it.  A lock is taken over, with a PUT conditional on its ETag (so two takers cannot both
win), when its process is known dead (this host, no such pid) or when the service's clock says it has not been
rewritten for longer than its lease (another host, whose processes this one cannot see; or a process of this host
that holds the pid of a dead writer now, or a writer that hung).

Taking over is safe even if the old holder still runs (a stalled network): its next rewrite fails, it stops and
publishes nothing, and the commit itself is a PUT of the pointer conditional on the ETag read at the start, so of
two writers of one generation at most one commits (vidseek/store/remote.py).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING

from ..errors import StoreError

if TYPE_CHECKING:
    from .remote import RemoteIndex

log = logging.getLogger(__name__)

LOCK = ".lock"
DEFAULT_LEASE = 120.0  # seconds a lock stays valid without being rewritten; $VIDSEEK_LOCK_LEASE overrides
RENEWALS_PER_LEASE = 6


def lease_seconds() -> float:
    """The lease this process gives its locks: ``$VIDSEEK_LOCK_LEASE`` seconds, else :data:`DEFAULT_LEASE`."""
    raw = os.environ.get("VIDSEEK_LOCK_LEASE")
    if not raw:
        return DEFAULT_LEASE
    try:
        value = float(raw)
    except ValueError:
        raise StoreError(None, f"VIDSEEK_LOCK_LEASE must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise StoreError(None, f"VIDSEEK_LOCK_LEASE must be more than 0 seconds, got {raw!r}")
    return value


def lock_body(token: str, lease: float, since: float) -> bytes:
    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": since, "renewed": time.time(),
                       "lease": lease, "token": token}).encode()


def acquire_lock(remote: RemoteIndex) -> LockKeeper:
    """Create the lock object (only if there is none), or take over one whose writer is gone; returns the keeper
    that rewrites it while the work goes on (start it, stop it with :func:`release_lock`)."""
    token, lease, since = uuid.uuid4().hex, lease_seconds(), time.time()
    body = lock_body(token, lease, since)
    etag = remote.put_if(LOCK, body, None)
    if etag is None:
        held = remote.get_aged(LOCK)
        if held is None:  # released in between
            etag = remote.put_if(LOCK, body, None)
        else:
            etag = _take_over(remote, held, body)
    if etag is None:
        raise StoreError(remote.uri, "another vidseek process took the lock at the same moment; try again")
    return LockKeeper(remote, token, lease, since, etag)


def _take_over(remote: RemoteIndex, held: tuple[bytes, str, float], body: bytes) -> str | None:
    """The lock's new ETag if its writer is gone and we took it over atomically; else the error naming the holder."""
    raw, etag, age = held
    try:
        who = json.loads(raw)
    except ValueError:
        who = {}
    who = who if isinstance(who, dict) else {}
    lease = _number(who.get("lease"), DEFAULT_LEASE)
    here = who.get("host") == socket.gethostname()
    pid = int(_number(who.get("pid"), 0))
    if here and not alive(pid):
        why = f"left by process {pid}, which no longer runs"
    elif age > lease:
        why = f"of process {pid} on {who.get('host', '?')}, not renewed for {age:.0f} s (its lease: {lease:.0f} s)"
    else:
        wait = f", or for its lease to run out ({max(0.0, lease - age):.0f} s more if it has stopped)"
        raise StoreError(remote.uri, f"another vidseek process (pid {who.get('pid', '?')} on {who.get('host', '?')}, "
                                     f"since {time.ctime(_number(who.get('since'), 0))}) is writing this index; wait "
                                     f"for it to finish{wait}, or delete {remote.uri}/{LOCK} if that process is gone")
    new = remote.put_if(LOCK, body, etag)
    if new is not None:
        log.warning("took over the lock of %s %s", remote.uri, why)
    return new


def _number(value, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


class LockKeeper:
    """Rewrites our lock every sixth of its lease from a background thread, each time conditional on the ETag it
    wrote last; ``lost`` says why it could not (the lock was taken over or deleted)."""

    def __init__(self, remote: RemoteIndex, token: str, lease: float, since: float, etag: str):
        self.remote, self.token, self.lease, self.since, self.etag = remote, token, lease, since, etag
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vidseek-lock-keeper", daemon=True)

    def start(self) -> LockKeeper:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.lease / RENEWALS_PER_LEASE):
            self.renew()
            if self.lost:
                log.warning("lost the lock of %s: %s", self.remote.uri, self.lost)
                return

    def renew(self) -> None:
        try:
            etag = self.remote.put_if(LOCK, lock_body(self.token, self.lease, self.since), self.etag)
        except StoreError as exc:  # the service did not answer this time: the next try may get through
            log.debug("lock renewal failed: %s", exc)
            return
        if etag is None:
            self.lost = "another process took it over or deleted it"
        else:
            self.etag = etag

    def check(self) -> None:
        """Raise if the lock was lost: then this process must not publish."""
        if self.lost:
            raise StoreError(f"{self.remote.uri}/{LOCK}", f"lost the writer lock ({self.lost}); nothing was published")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def release_lock(remote: RemoteIndex, keeper: LockKeeper) -> None:
    """Stop rewriting the lock and delete it if it is still ours."""
    keeper.stop()
    held = remote.get(LOCK)
    if held is not None:
        try:
            ours = json.loads(held[0]).get("token") == keeper.token
        except (ValueError, AttributeError):
            ours = False
        if ours:
            remote.delete(LOCK)


def alive(pid: int) -> bool:
    """Whether a process of this host with that pid runs."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
