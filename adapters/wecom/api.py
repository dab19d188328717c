"""The WeCom server API client (aiohttp), shared by the app and the kf channel.

- ``access_token`` cached per secret and refreshed ``refresh_early`` seconds before it expires,
  one refresh at a time per secret (single flight); with a `TokenShare` (the server passes
  `adapters.wecom.tokens.StoreTokens`) the token is shared by every worker through the database:
  fetched once per expiry for the whole deployment, dropped everywhere when WeCom rejects it;
  when the database is unreachable each worker fetches its own;
- errcode 40014/42001/42007/42009: the token is refreshed and the call retried once;
- errcode 45009: bounded exponential back-off, then ``WeComRateLimited``;
- errcode 40001/40013/60020 (bad secret, bad corp id, untrusted IP): ``WeComConfigError`` at once,
  logged for operators, never retried;
- transport failures are retried once only for calls that are safe to repeat (``idempotent``).

Errors::

    DeliveryError
    └── WeComAPIError            WeCom answered an errcode (``.errcode``, ``.path``)
        ├── WeComConfigError     a deployment problem an operator must fix
        ├── WeComRateLimited     45009 after the back-off budget
        └── WeComTransportError  no usable answer (network, HTTP status, not JSON)
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import structlog

from adapters.wecom.tokens import TokenShare, token_key
from bot.errors import DeliveryError, StorageError

log = structlog.get_logger("qdbot.wecom")
TOKEN_CODES = frozenset({40014, 42001, 42007, 42009})
RATE_LIMITED = 45009
OPERATOR_HINTS = {
    40001: "WeCom: the secret was rejected (40001 invalid credential); check WECOM_SECRET / WECOM_KF_SECRET",
    40013: "WeCom: the corp id was rejected (40013); check WECOM_CORP_ID",
    60020: "WeCom: calling IP not in the app's trusted IPs (60020); add this server's egress IP "
           "to the app's 企业可信IP",
}


class WeComAPIError(DeliveryError):
    def __init__(self, path: str, errcode: int, errmsg: str = ""):
        super().__init__(f"WeCom {path} failed: errcode {errcode} {errmsg}".strip())
        self.path, self.errcode, self.errmsg = path, errcode, errmsg


class WeComConfigError(WeComAPIError):
    """A deployment problem (secret, corp id, trusted IP): retrying cannot help."""

    def __init__(self, path: str, errcode: int, errmsg: str = ""):
        super().__init__(path, errcode, errmsg)
        self.args = (OPERATOR_HINTS[errcode],)


class WeComRateLimited(WeComAPIError):
    pass


class WeComTransportError(WeComAPIError):
    pass


class WeComClient:
    """Calls ``{base_url}/cgi-bin/...`` with a cached access_token for the given secret."""

    def __init__(self, base_url: str, corp_id: str, *, timeout: float = 10.0,
                 refresh_early: float = 300.0, backoff: Sequence[float] = (0.5, 1.0, 2.0),
                 clock: Callable[[], float] = time.time, shared: TokenShare | None = None):
        self.base_url, self.corp_id, self.shared = base_url.rstrip("/"), corp_id, shared
        self.refresh_early, self.backoff, self._clock = refresh_early, tuple(backoff), clock
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, tuple[str, float]] = {}  # secret -> (token, refresh at)
        self._locks: dict[str, asyncio.Lock] = {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    # --- access_token -------------------------------------------------------------------

    async def token(self, secret: str) -> str:
        """A valid access_token for ``secret``: cached, refreshed early, one refresh at a time
        (in this worker, and across workers when the token is shared)."""
        cached = self._fresh(secret)
        if cached:
            return cached
        async with self._locks.setdefault(secret, asyncio.Lock()):
            cached = self._fresh(secret)
            if cached:
                return cached
            if self.shared is None:
                return await self._refresh(secret)
            try:
                return await self._shared_token(secret)
            except StorageError as exc:
                log.warning("wecom_token_not_shared", error=str(exc))  # the database is away: fetch our own
                return self._fresh(secret) or await self._refresh(secret)

    async def _shared_token(self, secret: str) -> str:
        assert self.shared is not None
        key = token_key(self.corp_id, secret)
        async with self.shared.refreshing(key):
            stored = await self.shared.load(key)
            if stored is not None and stored[0] and self._clock() < stored[1]:
                self._tokens[secret] = stored
                return stored[0]
            token = await self._refresh(secret)
            await self.shared.save(key, *self._tokens[secret])
            return token

    def _fresh(self, secret: str) -> str | None:
        token, refresh_at = self._tokens.get(secret, ("", 0.0))
        return token if token and self._clock() < refresh_at else None

    async def _refresh(self, secret: str) -> str:
        data = await self._checked("GET", "/cgi-bin/gettoken", None, idempotent=True,
                                   params={"corpid": self.corp_id, "corpsecret": secret})
        expires_in = float(data.get("expires_in", 7200))
        early = min(self.refresh_early, expires_in / 2)
        self._tokens[secret] = (str(data["access_token"]), self._clock() + expires_in - early)
        return self._tokens[secret][0]

    async def _invalidate(self, secret: str, token: str) -> None:
        if self._tokens.get(secret, ("",))[0] == token:  # a newer token stays
            self._tokens.pop(secret, None)
        if self.shared is not None:
            try:
                await self.shared.forget(token_key(self.corp_id, secret), token)
            except StorageError as exc:
                log.warning("wecom_token_not_shared", error=str(exc))

    # --- calls --------------------------------------------------------------------------

    async def call(self, path: str, secret: str, body: dict[str, Any] | None = None, *, method: str = "POST",
                   params: dict[str, str] | None = None, idempotent: bool = False) -> dict[str, Any]:
        """One API call; the token is refreshed and the call retried once on a token errcode."""
        for attempt in (1, 2):
            token = await self.token(secret)
            query = {**(params or {}), "access_token": token}
            try:
                return await self._checked(method, path, body, params=query, idempotent=idempotent)
            except WeComAPIError as exc:
                if exc.errcode not in TOKEN_CODES or attempt == 2:
                    raise
                log.info("wecom_token_refresh", path=path, errcode=exc.errcode)
                await self._invalidate(secret, token)
        raise AssertionError("unreachable")

    async def _checked(self, method: str, path: str, body: dict[str, Any] | None, *, params: dict[str, str],
                       idempotent: bool) -> dict[str, Any]:
        """Send, backing off on 45009; raise for any other errcode."""
        for delay in (*self.backoff, None):
            data = await self._send(method, path, body, params, idempotent)
            code = int(data.get("errcode", 0) or 0)
            if code == 0:
                return data
            if code != RATE_LIMITED or delay is None:
                raise _error(path, code, str(data.get("errmsg", "")))
            log.warning("wecom_rate_limited", path=path, retry_in=delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _send(self, method: str, path: str, body: dict[str, Any] | None, params: dict[str, str],
                    idempotent: bool) -> dict[str, Any]:
        tries = 2 if idempotent else 1
        for attempt in range(1, tries + 1):
            try:
                return await self._once(method, path, body, params)
            except WeComTransportError as exc:
                if attempt == tries:
                    raise
                log.warning("wecom_transport_retry", path=path, error=str(exc))
        raise AssertionError("unreachable")

    async def _once(self, method: str, path: str, body: dict[str, Any] | None, params: dict[str, str]) -> dict[str, Any]:
        try:
            async with self._http().request(method, self.base_url + path, params=params,
                                            json=body) as resp:
                if resp.status != 200:
                    raise WeComTransportError(path, -1, f"HTTP {resp.status}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise WeComTransportError(path, -1, exc.__class__.__name__) from exc
        if not isinstance(data, dict):
            raise WeComTransportError(path, -1, "answer is not a JSON object")
        return data


def _error(path: str, code: int, errmsg: str) -> WeComAPIError:
    if code in OPERATOR_HINTS:
        log.error(OPERATOR_HINTS[code], path=path, errcode=code)
        return WeComConfigError(path, code, errmsg)
    if code == RATE_LIMITED:
        return WeComRateLimited(path, code, errmsg)
    return WeComAPIError(path, code, errmsg)
