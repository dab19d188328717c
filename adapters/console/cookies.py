"""The console's cookies and the caller of one request (`Ctx`): a leaf module that the pages (`html`) and the
`endpoint` decorator (`auth`) both build on."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

from adapters.console.context import ConsoleContext
from bot import links
from bot.records import AccountRecord

SESSION_COOKIE = "qdbot_console"
FLASH_COOKIE = "qdbot_flash"


@dataclass
class Ctx:
    """The caller of one request."""

    account: AccountRecord
    via: str  # "session" | "token"
    lang: str
    ip: str
    session: str | None = None
    read_only: bool = False
    csrf: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)  # a form's repeated fields (checkboxes), all values
    form: bool = False
    multipart: MultipartReader | None = None
    pending_part: BodyPartReader | None = None  # a multipart's first part, when it was not the CSRF token

    @property
    def role(self) -> str:
        return self.account.role


def secure_cookies(request: web.Request, public_url: str | None) -> bool:
    return request.secure or (public_url or "").lower().startswith("https://")


def set_cookie(resp: web.StreamResponse, request: web.Request, console: ConsoleContext, name: str, value: str,
               max_age: int | None = None) -> None:
    resp.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Lax",
                    secure=secure_cookies(request, console.settings.qdbot_public_url))


def pop_flash(console: ConsoleContext, request: web.Request) -> tuple[str, str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    payload = links.verify(console.secret, raw, "flash") if raw else None
    if payload is None:
        return None
    try:
        kind, key, detail = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return None
    return str(kind), str(key), str(detail)
