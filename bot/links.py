"""Signed, expiring links (e.g. from a WeCom message to the full answer on the web chat).

token = base64url(payload) "." base64url(HMAC-SHA256(secret, payload)); payload = "<kind>:<id>:<expires>".
Checked in constant time; an expired or altered token is rejected.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, kind: str, ident: str | int, ttl_seconds: int = 7 * 86400, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    payload = f"{kind}:{ident}:{expires}".encode()
    mac = hmac.new(secret, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(secret: bytes, token: str, kind: str, now: float | None = None) -> str | None:
    """The id the token was signed for, or None when it is altered, expired or of another kind."""
    try:
        payload_b64, mac_b64 = token.split(".", 1)
        payload, mac = _unb64(payload_b64), _unb64(mac_b64)
        got_kind, ident, expires = payload.decode().rsplit(":", 2)
    except (ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(hmac.new(secret, payload, hashlib.sha256).digest(), mac):
        return None
    if got_kind != kind or int(expires) < (now if now is not None else time.time()):
        return None
    return ident
