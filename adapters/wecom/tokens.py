"""WeCom access tokens shared by every worker through the database.

WeCom limits how often ``gettoken`` may be called and hands every caller the same token while it is
valid; with several workers each fetching its own, a restart wave or an expiry makes each of them
call at once. `StoreTokens` keeps the token of each (corp id, secret) in ``channel_state`` and lets
one worker at a time refresh it (a named lock), so the whole deployment fetches it once per expiry,
and a token WeCom rejects (40014/42001/...) is dropped for every worker, not just the one that saw
the error.

The row's key is a hash of corp id and secret (the secret itself is never stored); the value is
the token and the wall-clock time at which to refresh it, encrypted with AES-GCM under a key
derived from QDBOT_SECRET_KEY (which every worker of a deployment shares), so a database dump does
not hand out a working token. A value that does not decrypt (another key, or damaged) counts as
absent: a fresh token is fetched. Tokens live two hours at most.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

class TokenShare(Protocol):
    """Where `WeComClient` keeps tokens so that other workers can use them."""

    async def load(self, key: str) -> tuple[str, float] | None: ...  # (token, refresh at: epoch seconds)

    async def save(self, key: str, token: str, refresh_at: float) -> None: ...

    async def forget(self, key: str, token: str) -> None: ...  # only if it is still this token

    def refreshing(self, key: str) -> AbstractAsyncContextManager[None]: ...  # one refresher at a time


def token_key(corp_id: str, secret: str) -> str:
    return "wecom:token:" + hashlib.sha256(f"{corp_id}\n{secret}".encode()).hexdigest()[:32]


class SharedState(Protocol):
    """The engine's channel state and shared locks (`Engine.get_state`, `set_state`, `hold`)."""

    async def get_state(self, key: str) -> str | None: ...

    async def set_state(self, key: str, value: str) -> None: ...

    def hold(self, name: str) -> AbstractAsyncContextManager[None]: ...


class StoreTokens:
    """`TokenShare` on the shared state: encrypted ``channel_state`` rows and a named lock."""

    def __init__(self, store: SharedState, secret_key: bytes):
        self.store = store
        self._aead = AESGCM(hashlib.sha256(b"qdbot wecom access token\n" + secret_key).digest())

    async def load(self, key: str) -> tuple[str, float] | None:
        raw = await self.store.get_state(key)
        if not raw:
            return None
        try:
            sealed = base64.b64decode(raw, validate=True)
            data = json.loads(self._aead.decrypt(sealed[:12], sealed[12:], key.encode()))
            return str(data["token"]), float(data["refresh_at"])
        except (ValueError, KeyError, TypeError, InvalidTag):
            return None  # unreadable here: fetch a fresh one

    async def save(self, key: str, token: str, refresh_at: float) -> None:
        nonce = os.urandom(12)
        plain = json.dumps({"token": token, "refresh_at": refresh_at}).encode()
        sealed = nonce + self._aead.encrypt(nonce, plain, key.encode())
        await self.store.set_state(key, base64.b64encode(sealed).decode())

    async def forget(self, key: str, token: str) -> None:
        current = await self.load(key)
        if current is not None and current[0] == token:  # a newer token another worker saved stays
            await self.store.set_state(key, "")

    @asynccontextmanager
    async def refreshing(self, key: str) -> AsyncIterator[None]:
        async with self.store.hold(key):
            yield
