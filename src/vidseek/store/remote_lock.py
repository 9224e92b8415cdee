"""The writer lock of an index in object storage: one object, ``.lock``, created only where there is none.

Its body names the holder (host, pid, time) and a random token.  It is created with a conditional PUT
(``If-None-Match: *``), so of two writers starting together exactly one gets it.  A lock left by a dead process of
this host is taken over with a PUT conditional on that lock's ETag, so two takers cannot both win.  A lock held by
another host is never broken: this host cannot see whether its writer still runs.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING

from ..errors import StoreError

if TYPE_CHECKING:
    from .remote import RemoteIndex

log = logging.getLogger(__name__)

LOCK = ".lock"


def acquire_lock(remote: RemoteIndex) -> str:
    """Create the lock object (only if there is none), or take over one a dead process of this host left; returns
    the token that proves it is ours."""
    token = uuid.uuid4().hex
    body = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time(), "token": token})
    if remote.put_if(LOCK, body.encode(), None):
        return token
    held = remote.get(LOCK)
    if held is None and remote.put_if(LOCK, body.encode(), None):  # released in between
        return token
    try:
        who = json.loads(held[0]) if held else {}
    except ValueError:
        who = {}
    if who.get("host") == socket.gethostname() and not alive(int(who.get("pid", 0))):
        if remote.put_if(LOCK, body.encode(), held[1]):  # its writer died: taken over, atomically
            log.warning("took over the lock of %s left by process %s, which no longer runs", remote.uri, who["pid"])
            return token
    raise StoreError(remote.uri, f"another vidseek process (pid {who.get('pid', '?')} on {who.get('host', '?')}, "
                               f"since {time.ctime(who.get('since', 0))}) is writing this index; wait for it to "
                               f"finish, or delete {remote.uri}/{LOCK} if that process is gone")


def release_lock(remote: RemoteIndex, token: str) -> None:
    """Delete the lock object if it is still ours."""
    held = remote.get(LOCK)
    if held is not None and json.loads(held[0]).get("token") == token:
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
