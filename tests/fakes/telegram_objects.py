"""The pieces behind tests.fakes.telegram_server.FakeTelegram.

- wire: ApiError (an error reply), Call (a recorded request), Fault (an injected failure),
  read_params (PTB's form-urlencoded / multipart bodies back to Python values);
- builders: dicts shaped like the Bot API's JSON objects (User, Chat, Message, ForumTopic, ...);
- rendered_text: Telegram's HTML parse mode to plain text plus entities (UTF-16 offsets),
  rejecting what the real API rejects;
- ChatState: the chats, messages and forum topics the fake remembers.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser

from aiohttp import web

#: Parameters the Bot API types as strings; PTB sends them unencoded, so never json.loads them.
STRING_PARAMS = frozenset(
    "text parse_mode url secret_token callback_query_id action name icon_custom_emoji_id "
    "caption language_code business_connection_id message_effect_id ip_address".split()
)

_ENTITY_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "code": "code", "pre": "pre", "a": "text_link", "blockquote": "blockquote",
    "tg-spoiler": "spoiler", "span": "spoiler", "tg-emoji": "custom_emoji",
}


class ApiError(Exception):
    """A Bot API error reply: HTTP status, description and optional response parameters."""

    def __init__(self, status: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters

    def body(self) -> dict:
        body = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


FAULT_KINDS = frozenset({"429", "403", "400_thread_not_found", "500", "slow"})
CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note".split()
)


@dataclass(frozen=True)
class Call:
    """One request the fake received: method as sent, decoded params, HTTP status returned."""
    method: str
    params: dict
    status: int

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Fault:
    kind: str
    retry_after: int = 1
    seconds: float = 1.0

    def error(self) -> ApiError:
        if self.kind == "429":
            return ApiError(429, f"Too Many Requests: retry after {self.retry_after}",
                            {"retry_after": self.retry_after})
        if self.kind == "403":
            return ApiError(403, "Forbidden: bot was blocked by the user")
        if self.kind == "400_thread_not_found":
            return ApiError(400, "Bad Request: message thread not found")
        return ApiError(500, "Internal Server Error")


class Signal:
    """Wakes every current waiter on notify(); waiters re-check their condition."""

    def __init__(self):
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._event.wait(), max(timeout, 0))
        except TimeoutError:
            pass


async def read_params(request: web.Request) -> dict:
    if request.content_type == "application/json":
        return dict(await request.json())
    fields = {**request.query, **(await request.post())}
    return {name: value.file.read() if isinstance(value, web.FileField)
            else decode_param(name, value) for name, value in fields.items()}


def unconfirmed(updates: list[dict], offset: int | None) -> list[dict]:
    """getUpdates offset semantics: drop ids below offset; a negative offset keeps the last -offset."""
    if offset is not None and offset < 0:
        return updates[offset:]
    return [update for update in updates if update["update_id"] >= (offset or 0)]


def decode_param(name: str, value: str):
    """PTB JSON-encodes every non-string value; strings (``@channel``, texts) go as they are."""
    if name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def bot_user(bot_id: int, username: str) -> dict:
    return {"id": bot_id, "is_bot": True, "first_name": "Fake Bot", "username": username,
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


def user(user_id: int, first_name: str, language_code: str | None = None) -> dict:
    result = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        result["language_code"] = language_code
    return result


def chat(chat_id: int, chat_type: str, name: str, is_forum: bool = False) -> dict:
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": name}
    result = {"id": chat_id, "type": chat_type, "title": name}
    if is_forum:
        result["is_forum"] = True
    return result


def chat_full_info(chat_dict: dict) -> dict:
    gifts = dict.fromkeys(("unlimited_gifts", "limited_gifts", "unique_gifts",
                           "premium_subscription", "gifts_from_channels"), False)
    return {**chat_dict, "accent_color_id": 0, "max_reaction_count": 11,
            "accepted_gift_types": gifts}


def message(message_id: int, chat_dict: dict, sender: dict, **fields) -> dict:
    """A Message: the given optional fields are kept when not None."""
    base = {"message_id": message_id, "date": int(time.time()), "chat": chat_dict,
            "from": sender}
    return base | {key: value for key, value in fields.items() if value is not None}


def command_entities(text: str) -> list[dict] | None:
    """Telegram marks a leading ``/command`` as a bot_command entity (PTB's CommandHandler needs it)."""
    if not text.startswith("/"):
        return None
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])}]


def media(kind: str, serial: int) -> dict:
    ids = {"file_id": f"{kind}-{serial}", "file_unique_id": f"u{kind}{serial}"}
    if kind == "sticker":
        return {"sticker": ids | {"type": "regular", "width": 512, "height": 512,
                                  "is_animated": False, "is_video": False, "emoji": "🙂"}}
    if kind == "photo":
        return {"photo": [ids | {"width": 90, "height": 90}, ids | {"width": 800, "height": 800}]}
    return {"voice": ids | {"duration": 2, "mime_type": "audio/ogg"}}


def forum_topic(thread_id: int, name: str, icon_color: int | None) -> dict:
    return {"message_thread_id": thread_id, "name": name, "icon_color": icon_color or 7322096}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _TelegramHTML(HTMLParser):
    def __init__(self, raw: str):
        super().__init__(convert_charrefs=False)
        self.raw, self.text, self.entities, self.open = raw, "", [], []

    def fail(self, problem: str):
        line, column = self.getpos()
        index = sum(len(row) + 1 for row in self.raw.split("\n")[: line - 1]) + column
        offset = len(self.raw[:index].encode())
        raise ApiError(400, f"Bad Request: can't parse entities: {problem} at byte offset {offset}")

    def handle_starttag(self, tag, attrs):
        if tag not in _ENTITY_TAGS:
            self.fail(f'Unsupported start tag "{tag}"')
        entity = {"type": _ENTITY_TAGS[tag], "offset": utf16_len(self.text)}
        if tag == "a":
            entity["url"] = dict(attrs).get("href", "")
        self.open.append((tag, entity))

    def handle_endtag(self, tag):
        if not self.open or self.open[-1][0] != tag:
            self.fail("Unexpected end tag")
        entity = self.open.pop()[1]
        entity["length"] = utf16_len(self.text) - entity["offset"]
        if entity["length"]:
            self.entities.append(entity)

    def handle_data(self, data):
        if "<" in data:  # an unescaped "<" that starts no tag
            self.fail('Unsupported start tag ""')
        self.text += data

    def handle_entityref(self, name):
        known = html.unescape(f"&{name};")
        self.text += f"&{name}" if known.startswith("&" + name) else known

    def handle_charref(self, name):
        self.text += html.unescape(f"&#{name};")


def parse_html(raw: str) -> tuple[str, list[dict]]:
    """Telegram HTML -> (plain text, entities); ApiError(400) on what Telegram refuses."""
    parser = _TelegramHTML(raw)
    parser.feed(raw)
    parser.close()
    if parser.open:
        tag = parser.open[-1][0]
        raise ApiError(400, "Bad Request: can't parse entities: "
                            f'Can\'t find end tag corresponding to start tag "{tag}"')
    return parser.text, sorted(parser.entities, key=lambda e: e["offset"])


def rendered_text(params: dict, *, allow_empty: bool = False) -> tuple[str, list[dict] | None]:
    """The text and entities Telegram would store for ``text``/``parse_mode``/``entities``."""
    raw = params.get("text") or ""
    if str(params.get("parse_mode") or "").upper() == "HTML":
        text, entities = parse_html(raw)
    else:  # MarkdownV2 / Markdown are stored raw, not parsed
        text, entities = raw, params.get("entities")
    if not text.strip() and not allow_empty:
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(text) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    return text, entities or None


class ChatState:
    """Telegram's side of the conversation: chats, messages, forum topics, drafts, commands."""

    def __init__(self, me: dict):
        self.me = me
        self.chats: dict[int, dict] = {}
        self.messages: dict[tuple[int, int], dict] = {}  # (chat_id, message_id) -> Message
        self.topics: dict[tuple[int, int], dict] = {}  # (chat_id, thread_id) -> ForumTopic
        self.closed_topics: set[tuple[int, int]] = set()
        self.deleted_topics: set[tuple[int, int]] = set()
        self.drafts: dict[tuple[int, int], str] = {}  # (chat_id, draft_id) -> latest text
        self.commands: list[dict] = []
        self._serials = itertools.count(1)
        self._message_ids: dict[int, itertools.count] = defaultdict(lambda: itertools.count(1))

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """A human deleted the topic: sends into it now fail with "message thread not found"."""
        self.topics.pop((chat_id, thread_id), None)
        self.deleted_topics.add((chat_id, thread_id))

    def _remember_chat(self, chat_id: int, chat_type: str, name: str, is_forum: bool = False) -> dict:
        title = name if chat_type == "private" else f"Group {chat_id}"
        known = self.chats.setdefault(chat_id, chat(chat_id, chat_type, title, is_forum))
        if is_forum:
            known["is_forum"] = True
        return known

    def _chat(self, chat_id) -> dict:
        """A known chat, or one made up from the id's sign (users > 0, supergroups < 0)."""
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        kind = "private" if chat_id > 0 else "supergroup"
        return self.chats.get(chat_id) or self._remember_chat(chat_id, kind, "Test User", chat_id < 0)

    def _store(self, msg: dict) -> dict:
        self.messages[(msg["chat"]["id"], msg["message_id"])] = msg
        return msg

    def _content(self, text: str, entities, *, sticker: bool, photo: bool, voice: bool) -> dict:
        kind = "sticker" if sticker else "photo" if photo else "voice" if voice else None
        if kind is None:
            return {"text": text, "entities": entities or command_entities(text)}
        caption = None if sticker or not text else text
        return media(kind, next(self._serials)) | {"caption": caption}

    def _reply_target(self, chat: dict, reply_to: int | dict | None) -> dict | None:
        if reply_to is None or isinstance(reply_to, dict):
            return reply_to
        return self.messages.get((chat["id"], reply_to)) or message(reply_to, chat, self.me)

    def _bot_message(self, params: dict) -> dict:
        msg = self.messages.get((params.get("chat_id"), params.get("message_id")))
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg["from"]["id"] != self.me["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return msg

    def _thread(self, chat_id: int, thread_id: int | None) -> int | None:
        if thread_id and (chat_id, thread_id) in self.deleted_topics:
            raise ApiError(400, "Bad Request: message thread not found")
        return thread_id

    def _topic(self, params: dict) -> dict:
        topic = self.topics.get((params.get("chat_id"), params.get("message_thread_id")))
        if topic is None:
            raise ApiError(400, "Bad Request: message thread not found")
        return topic

