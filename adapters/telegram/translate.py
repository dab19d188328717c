"""Telegram `Update` -> `IncomingMessage`: chat, user, text, language hint and kind.

Private chats are always answered. In groups a message counts only when it mentions the bot
(``@username``, or a text mention of the bot), replies to one of the bot's messages, or is a
command of ours addressed to the bot (``/help@bot``) or to every bot (``/help``); the mention is stripped.
Everything else (service messages, edits, other bots' commands) translates to None.
"""
from __future__ import annotations

import re

from telegram import CallbackQuery, Message, MessageEntity, Update, User

from bot.engine import COMMANDS
from bot.types import IncomingMessage

CHANNEL = "telegram"
_MEDIA = (("sticker", "sticker"), ("photo", "photo"), ("voice", "voice"), ("audio", "voice"),
          ("video_note", "voice"), ("document", "document"), ("video", "video"),
          ("animation", "video"), ("location", "location"), ("contact", "contact"))
_COMMAND = re.compile(r"^(/[A-Za-z0-9_]+)@([A-Za-z0-9_]+)")


def lang_hint(language_code: str | None) -> str | None:
    """Telegram's language_code as the engine's hint: zh* -> zh, anything else -> en, none -> None."""
    if not language_code:
        return None
    return "zh" if language_code.lower().startswith("zh") else "en"


def kind_of(message: Message) -> str | None:
    """"text" for a text message (even an empty one), the media kind otherwise, None for service messages."""
    if message.text is not None:
        return "text"
    for attribute, kind in _MEDIA:
        if getattr(message, attribute, None):
            return kind
    return None


def _entity_texts(message: Message) -> dict[MessageEntity, str]:
    """Each entity's text. Offsets count UTF-16 units; an entity that cuts a surrogate pair in half
    (never sent by Telegram, but a forged webhook may) yields U+FFFD instead of an exception."""
    text, entities = (message.text, message.entities) if message.text else (message.caption, message.caption_entities)
    if not text:
        return {}
    units = text.encode("utf-16-le")
    return {e: units[e.offset * 2:(e.offset + e.length) * 2].decode("utf-16-le", errors="replace")
            for e in entities or ()}


def _mentions(message: Message, me: User) -> bool:
    for entity, text in _entity_texts(message).items():
        if entity.type == MessageEntity.MENTION and text[1:].lower() == (me.username or "").lower():
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == me.id:
            return True
    return False


def _replies_to_bot(message: Message, me: User) -> bool:
    target = message.reply_to_message
    return bool(target and target.from_user and target.from_user.id == me.id)


def _command_target(text: str) -> str | None:
    match = _COMMAND.match(text.strip())
    return match.group(2).lower() if match else None


def addressed(message: Message, me: User) -> bool:
    """Is this message meant for the bot? Always in private chats; see the module docstring."""
    target = _command_target(message.text or "")
    if target is not None:
        return target == (me.username or "").lower()
    if message.chat.type == "private":
        return True
    text = (message.text or "").strip()
    bare_command = text.split(" ")[0].lower() in COMMANDS
    return bare_command or _mentions(message, me) or _replies_to_bot(message, me)


def clean_text(text: str, me: User) -> str:
    """Drop the bot's @mention and a command's @bot suffix (``/start@bot`` -> ``/start``)."""
    text = _COMMAND.sub(r"\1", text.strip())
    if me.username:
        text = re.sub(rf"@{re.escape(me.username)}\b", "", text, flags=re.IGNORECASE)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _user_name(user: User | None) -> str | None:
    return (user.full_name or user.username) if user else None


def incoming(update: Update, me: User) -> IncomingMessage | None:
    """The message of this update as the engine sees it, or None when it is not for the bot."""
    message = update.message
    if message is None or (kind := kind_of(message)) is None or not addressed(message, me):
        return None
    user = message.from_user
    raw = message.text if kind == "text" else (message.caption or "")
    return IncomingMessage(
        channel=CHANNEL, chat_id=str(message.chat.id), user_id=str(user.id if user else message.chat.id),
        text=clean_text(raw or "", me), channel_message_id=f"{message.chat.id}:{message.message_id}",
        received_at=message.date, lang=lang_hint(user.language_code if user else None), kind=kind,
        user_name=_user_name(user),
    )


def handoff_request(query: CallbackQuery, chat_id: int) -> IncomingMessage:
    """The "contact a technology manager" button (pressed in chat `chat_id`), as the engine's /human command."""
    return IncomingMessage(
        channel=CHANNEL, chat_id=str(chat_id), user_id=str(query.from_user.id), text="/human",
        channel_message_id=f"{chat_id}:cb:{query.id}", lang=lang_hint(query.from_user.language_code),
        user_name=_user_name(query.from_user),
    )
