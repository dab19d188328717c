"""HTTP payloads of the web chat -> validated inputs -> `IncomingMessage` (pydantic at the edge).

Every refusal is a `BadInput` naming its sentence in prompts/{zh,en}/web.toml, so the API answers
integrators and the page alike with one clear message in the asker's language.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot import inputs
from bot.types import IncomingMessage

Model = TypeVar("Model", bound=BaseModel)

CHANNEL = "web"
SESSION_ID = r"^[A-Za-z0-9_-]{8,64}$"
MAX_BODY = 64 * 1024
LANGS = ("zh", "en")
MAX_ID = 2**62  # larger message ids cannot exist (and overflow the database's integers)
_FIELD_ERRORS = {"session_id": "error_session_id", "text": "error_text", "lang": "error_lang",
                 "message_id": "error_message_id", "value": "error_feedback_value", "after": "error_after",
                 "action": "error_action"}


class BadInput(Exception):
    """A request the API refuses: `key` is the sentence in web.toml, `fields` fill it in, `headers`
    go with the answer (Retry-After)."""

    def __init__(self, key: str, status: int = 400, lang: str = "zh", headers: dict[str, str] | None = None,
                 **fields: object):
        super().__init__(key)
        self.key, self.status, self.lang, self.fields, self.headers = key, status, lang, fields, headers or {}


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    session_id: str | None = Field(None, pattern=SESSION_ID)  # an API client's own secret; else the cookie
    text: str
    lang: Literal["zh", "en"] | None = None


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    session_id: str | None = Field(None, pattern=SESSION_ID)
    message_id: int = Field(gt=0, lt=MAX_ID)
    value: Literal["up", "down"] | None


class ButtonIn(BaseModel):
    """A pressed button the page cannot turn into text (a rating of the technology manager's service)."""
    model_config = ConfigDict(extra="ignore")

    session_id: str | None = Field(None, pattern=SESSION_ID)  # an API client's own secret; else the cookie
    action: str = Field(pattern=r"^rate:\d{1,19}:[1-5]$")


class StopIn(BaseModel):
    """Stop the answer being written for this session (the page's stop button)."""
    model_config = ConfigDict(extra="ignore")

    session_id: str | None = Field(None, pattern=SESSION_ID)  # an API client's own secret; else the cookie


class HistoryIn(BaseModel):
    after: int = Field(0, ge=0, lt=MAX_ID)


def lang_of(value: object) -> str:
    return value if isinstance(value, str) and value in LANGS else "zh"


async def read_body(request: web.Request) -> bytes:
    """The request body, refused with 413 beyond 64 KiB (announced or streamed)."""
    lang = lang_of(request.query.get("lang"))
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadInput("error_too_large", 413, lang)
    body = bytearray()
    async for chunk in request.content.iter_chunked(16 * 1024):
        body += chunk
        if len(body) > MAX_BODY:
            raise BadInput("error_too_large", 413, lang)
    return bytes(body)


def _json_object(body: bytes, lang: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadInput("error_bad_json", lang=lang) from None
    if not isinstance(data, dict):
        raise BadInput("error_bad_json", lang=lang)
    return data


def _validate(model: type[Model], data: dict[str, Any], lang: str) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        key = _FIELD_ERRORS.get(str(loc[0]) if loc else "", "error_bad_json")
        raise BadInput(key, lang=lang) from None


def parse_chat(body: bytes, max_chars: int, default_lang: str = "zh") -> ChatIn:
    """A chat request; refused when it is not JSON, lacks a valid session_id, or its text is empty or too long."""
    data = _json_object(body, default_lang)
    lang = lang_of(data.get("lang", default_lang))
    chat = _validate(ChatIn, data, lang)
    chat.text = inputs.scrub(chat.text)
    if inputs.is_blank(chat.text):
        raise BadInput("error_empty", lang=lang)
    if len(chat.text) > max_chars:
        raise BadInput("error_too_long", lang=lang, limit=max_chars)
    return chat


def parse_feedback(body: bytes, default_lang: str = "zh") -> FeedbackIn:
    data = _json_object(body, default_lang)
    return _validate(FeedbackIn, data, lang_of(data.get("lang", default_lang)))


def parse_button(body: bytes, default_lang: str = "zh") -> ButtonIn:
    data = _json_object(body, default_lang)
    return _validate(ButtonIn, data, lang_of(data.get("lang", default_lang)))


def parse_stop(body: bytes, default_lang: str = "zh") -> StopIn:
    data = _json_object(body or b"{}", default_lang)
    return _validate(StopIn, data, lang_of(data.get("lang", default_lang)))


def parse_history(query: Mapping[str, str]) -> HistoryIn:
    """`after` only: a session id in a query string is refused (URLs are logged and leak in Referer)."""
    lang = lang_of(query.get("lang"))
    if "session_id" in query:
        raise BadInput("error_session_in_query", lang=lang)
    return _validate(HistoryIn, {k: v for k, v in query.items() if k == "after"}, lang)


def to_message(chat: ChatIn, public_id: str) -> IncomingMessage:
    """The web session is both the chat and the user (one browser, one conversation), stored under the
    public id derived from its secret (`adapters.web.session`)."""
    return IncomingMessage(channel=CHANNEL, chat_id=public_id, user_id=public_id, text=chat.text, lang=chat.lang)
