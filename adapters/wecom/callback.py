"""The callback URL both WeCom channels share: URL verification (GET) and checked POST bodies.

A POST is size-capped, signature-checked (constant time), decrypted (the ReceiveId must be our
CorpID), freshness-checked and parsed with the hardened parser before anything else happens. The
URL verification (GET echostr) is signature-checked and freshness-checked alike: a recorded
verification request cannot be replayed after ``max_age`` seconds.
What fails is answered 400 (malformed), 403 (signature, corp id, stale) or 413 (oversized) and
logged; nothing is processed.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from adapters.wecom.crypto import WeComCrypto, ensure_fresh
from adapters.wecom.xml import parse_xml
from bot.errors import BadRequestError, SignatureError

log = structlog.get_logger("qdbot.wecom")
MAX_BODY_BYTES = 64 * 1024
_QUERY = ("msg_signature", "timestamp", "nonce")


class TooLarge(BadRequestError):
    pass


def _params(request: web.Request, names: tuple[str, ...]) -> list[str]:
    values = [request.query.get(name, "") for name in names]
    if not all(values):
        raise BadRequestError(f"missing query parameter(s): {', '.join(n for n, v in zip(names, values) if not v)}")
    return values


def verify_url(request: web.Request, crypto: WeComCrypto, max_age: int = 0) -> web.Response:
    """GET: the decrypted echostr as the raw body (no quotes, no newline); a timestamp more than
    ``max_age`` seconds off (when > 0) is refused like a stale POST."""
    try:
        signature, timestamp, nonce, echostr = _params(request, (*_QUERY, "echostr"))
        echo = crypto.verify_url(signature, timestamp, nonce, echostr)
        if max_age > 0:
            ensure_fresh(timestamp, max_age)
    except (BadRequestError, SignatureError) as exc:
        return rejected(request, exc)
    return web.Response(body=echo.encode("utf-8"), content_type="text/plain")


async def read_post(request: web.Request, crypto: WeComCrypto, max_age: int) -> dict[str, str]:
    """POST: the decrypted inner XML as ``{tag: text}``; raises BadRequestError / SignatureError."""
    signature, timestamp, nonce = _params(request, _QUERY)
    body = await _body(request)
    inner = crypto.decrypt_post(signature, timestamp, nonce, body)
    if max_age > 0:
        ensure_fresh(timestamp, max_age)
    return parse_xml(inner)


async def _body(request: web.Request) -> bytes:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise TooLarge(f"body of {request.content_length} bytes exceeds {MAX_BODY_BYTES}")
    body = await request.content.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise TooLarge(f"body exceeds {MAX_BODY_BYTES} bytes")
    return body


def rejected(request: web.Request, exc: Exception) -> web.Response:
    """Log a refused callback and answer it with the status its error deserves."""
    status = 413 if isinstance(exc, TooLarge) else 403 if isinstance(exc, SignatureError) else 400
    log.warning("wecom_callback_rejected", method=request.method, path=request.path, status=status,
                reason=str(exc)[:200], remote=request.remote)
    return web.Response(status=status)


def ack() -> web.Response:
    """The immediate acknowledgement WeCom expects: 200 with an empty body."""
    return web.Response(status=200, body=b"")


class CallbackEndpoint:
    """GET and POST on one path: POSTs that pass every check go to ``dispatch(fields)``.

    While ``ready()`` is false (the channel is not started or is stopping) a POST is answered 503,
    so WeCom delivers it again later instead of it being lost.
    """

    def __init__(self, crypto: WeComCrypto, max_age: int,
                 dispatch: Callable[[dict[str, str]], Awaitable[web.Response]],
                 ready: Callable[[], bool]):
        self.crypto, self.max_age, self._dispatch, self._ready = crypto, max_age, dispatch, ready

    def routes(self, path: str) -> list[web.RouteDef]:
        return [web.get(path, self._get), web.post(path, self._post)]

    async def _get(self, request: web.Request) -> web.Response:
        return verify_url(request, self.crypto, self.max_age)

    async def _post(self, request: web.Request) -> web.Response:
        if not self._ready():
            return web.Response(status=503)
        try:
            fields = await read_post(request, self.crypto, self.max_age)
        except (BadRequestError, SignatureError) as exc:
            return rejected(request, exc)
        return await self._dispatch(fields)
