"""Access control of `vidseek serve`: one shared token.

The security model (docs/reliability.md, section 6):
- On a loopback address (the default) the server is open to the users of this machine, as any local tool is.
- On any other address it refuses to start without a token (``--token`` or ``VIDSEEK_TOKEN``) unless
  ``--no-auth`` says that an open server is wanted.
- With a token, every ``/api/`` route (search, video list, streams, thumbnails, stats, health, reload) needs it:
  an ``Authorization: Bearer TOKEN`` header (scripts), or the session cookie that ``POST /api/login`` sets after
  checking the token (the web page, whose ``<img>`` and ``<video>`` requests cannot carry a header). Everything
  else answers 401 with ``WWW-Authenticate: Bearer``. The page, its static files and the OpenAPI schema are
  public: they hold nothing of the collection.
- Tokens are compared in constant time (:func:`hmac.compare_digest`). The cookie does not hold the token but an
  HMAC of it (HttpOnly, SameSite=Strict: other sites cannot use it, scripts cannot read it; Secure on HTTPS).
- No CORS headers are sent: other origins' pages cannot read the answers.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials

from ..errors import VidseekError

COOKIE = "vidseek_session"
TOKEN_ENV = "VIDSEEK_TOKEN"
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class TokenAuth:
    """Checks requests against one token (``None``: no access control)."""

    token: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    def session(self) -> str:
        """The cookie value: an HMAC of the token (the cookie never holds the token itself)."""
        return hmac.new(self.token.encode(), b"vidseek session v1", hashlib.sha256).hexdigest()

    def matches(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.token.encode())

    def allows(self, request: Request, bearer: HTTPAuthorizationCredentials | None) -> bool:
        if not self.enabled:
            return True
        if bearer is not None and self.matches(bearer.credentials):
            return True
        cookie = request.cookies.get(COOKIE)
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.session().encode())

    def require(self, request: Request, bearer: HTTPAuthorizationCredentials | None) -> None:
        if not self.allows(request, bearer):
            raise HTTPException(401, "this server needs its token: an 'Authorization: Bearer TOKEN' header, "
                                     "or log in on the page", headers={"WWW-Authenticate": "Bearer"})


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def choose_token(host: str, token: str | None, no_auth: bool) -> str | None:
    """The token to serve with; a one-line error where the choice is unsafe or contradictory."""
    token = token or None
    if no_auth and token:
        raise VidseekError(None, f"--no-auth and a token ({TOKEN_ENV} or --token) contradict each other: "
                                 "give one of them")
    if token is None and not no_auth and not is_loopback(host):
        raise VidseekError(None, f"refusing to serve on {host} without access control: anyone who can reach it could "
                                 f"search and stream every indexed video. Set {TOKEN_ENV} (or --token) to a long "
                                 "random secret, or pass --no-auth to serve openly on purpose")
    return token
