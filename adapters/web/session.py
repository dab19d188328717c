"""Who a web chat user is: a secret only their browser holds, and the id staff see, derived from it.

The server issues the secret: a random 256-bit value in the `qdbot_chat` cookie (HttpOnly, so page
scripts cannot read it; SameSite=Strict, so other sites cannot send it; Secure behind https). An API
client without cookies may instead send its own secret as `session_id` in the JSON body (or the
`X-Chat-Session` header for the history); it should be random, like a password. A session id in a
query string is refused: URLs end up in proxy logs, browser history and Referer headers.

The conversation is stored under `public_id(secret)`, an HMAC of the secret with the server's key:
that is what operators and managers see (lists, exports, ticket authors), and it lets no one act as
the user, because nothing maps it back to the secret.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from aiohttp import web

COOKIE = "qdbot_chat"
HEADER = "X-Chat-Session"
MAX_AGE = 180 * 86400
SECRET = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def public_id(key: bytes, secret: str) -> str:
    """The id the conversation is stored under: `w` + 32 hex digits of HMAC-SHA256(key, secret)."""
    return "w" + hmac.new(key, b"web-session:" + secret.encode(), hashlib.sha256).hexdigest()[:32]


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def from_cookie(request: web.Request) -> str | None:
    value = request.cookies.get(COOKIE, "")
    return value if SECRET.match(value) else None


def from_header(request: web.Request) -> str | None:
    value = request.headers.get(HEADER, "")
    return value if SECRET.match(value) else None


def set_cookie(resp: web.StreamResponse, request: web.Request, secret: str, public_url: str | None) -> None:
    secure = request.secure or (public_url or "").lower().startswith("https://")
    resp.set_cookie(COOKIE, secret, max_age=MAX_AGE, path="/", httponly=True, samesite="Strict", secure=secure)
