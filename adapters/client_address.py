"""Who is on the other end of an HTTP request: the peer, or behind a trusted reverse proxy the
address the proxy saw. Shared by the web chat (per-address message limit) and the console (per-address
login limit); the adapters stay independent of each other."""
from __future__ import annotations

from aiohttp import web


def trusted_proxies(setting: str) -> frozenset[str]:
    """A comma-separated list of proxy addresses (a setting) as a set; blanks are ignored."""
    return frozenset(p.strip() for p in setting.split(",") if p.strip())


def client_ip(request: web.Request, trusted: frozenset[str] = frozenset()) -> str:
    """The caller's address; behind a trusted reverse proxy, the address the proxy saw (the last
    X-Forwarded-For hop: the one the proxy appended, whatever the client sent before it).
    From any other peer the header is ignored, so a client cannot choose its own address."""
    peer = request.remote or "-"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if peer in trusted and forwarded.strip():
        return forwarded.split(",")[-1].strip()[:64] or peer
    return peer
