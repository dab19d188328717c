"""Inbound translation: decrypted callback fields and kf ``sync_msg`` items -> core nouns.

Pure functions and small frozen records; no I/O. Channel names: ``wecom`` (self-built app, chat id
= the member's UserID) and ``wecom_kf`` (chat id = ``"<open_kfid>:<external_userid>"``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bot.types import IncomingMessage, utcnow

APP_CHANNEL, KF_CHANNEL = "wecom", "wecom_kf"
KF_TRIGGER = "kf_msg_or_event"
WELCOME_EVENTS = frozenset({"subscribe"})  # the app's own events answered with the welcome
MENU_PREFIX, MENU_ID_BYTES = "qd:", 64
_PER_ANSWER = frozenset({"feedback:up", "feedback:down"})  # the answer's id is appended


@dataclass(frozen=True, slots=True)
class KfTrigger:
    """A ``kf_msg_or_event`` callback: pull ``open_kfid`` with this sync token."""

    open_kfid: str
    token: str


@dataclass(frozen=True, slots=True)
class KfClick:
    """A tap on one of our msgmenu buttons (it arrives as customer text with ``menu_id``)."""

    msg: IncomingMessage
    action: str  # a Button.action as Engine.button takes it: "feedback:up:<id>", "handoff", ...


@dataclass(frozen=True, slots=True)
class KfServicerText:
    """A message a human servicer typed in the WeCom client (origin 5)."""

    chat_id: str
    external_userid: str
    servicer_userid: str
    text: str
    msgid: str


@dataclass(frozen=True, slots=True)
class KfEvent:
    """A system event (origin 4): enter_session, session_status_change, msg_send_fail ..."""

    event_type: str
    chat_id: str
    external_userid: str
    msgid: str
    data: dict[str, Any] = field(default_factory=dict)


KfItem = IncomingMessage | KfClick | KfServicerText | KfEvent


def _when(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return utcnow()


# --- self-built app callbacks -------------------------------------------------------------


def kf_trigger(fields: dict[str, str]) -> KfTrigger | None:
    if fields.get("MsgType") == "event" and fields.get("Event") == KF_TRIGGER:
        return KfTrigger(fields.get("OpenKfId", ""), fields.get("Token", ""))
    return None


def dedupe_key(fields: dict[str, str]) -> str:
    """MsgId for messages; FromUserName + CreateTime (+ Event) for events."""
    if fields.get("MsgId"):
        return f"{APP_CHANNEL}:msg:{fields.get('AgentID', '')}:{fields['MsgId']}"
    return (f"{APP_CHANNEL}:event:{fields.get('FromUserName', '')}:{fields.get('CreateTime', '')}"
            f":{fields.get('Event', '')}")


def app_message(fields: dict[str, str]) -> IncomingMessage | None:
    """A member's message (text or, for the polite notice, any other type); None for other events."""
    user, kind = fields.get("FromUserName", ""), fields.get("MsgType", "")
    if not user or not kind:
        return None
    if kind == "event":
        if fields.get("Event") not in WELCOME_EVENTS:
            return None
        text, kind = "/start", "text"
    else:
        text = fields.get("Content", "") if kind == "text" else ""
    return IncomingMessage(channel=APP_CHANNEL, chat_id=user, user_id=user, text=text,
                           channel_message_id=fields.get("MsgId") or dedupe_key(fields)[:128],
                           received_at=_when(fields.get("CreateTime")), kind=kind)


# --- WeChat Customer Service (kf) --------------------------------------------------------


def kf_chat_id(open_kfid: str, external_userid: str) -> str:
    return f"{open_kfid}:{external_userid}"


def split_chat_id(chat_id: str) -> tuple[str, str]:
    open_kfid, _, external_userid = chat_id.partition(":")
    return open_kfid, external_userid


def menu_id(action: str, message_id: int | None) -> str | None:
    """The msgmenu click id of a button (<= 64 bytes): our prefix and the action, with the answer's
    id for feedback; None for a link button or an id that would be too long."""
    if action.startswith("url:") or (action in _PER_ANSWER and message_id is None):
        return None
    ident = f"{MENU_PREFIX}{action}:{message_id}" if action in _PER_ANSWER else f"{MENU_PREFIX}{action}"
    return ident if len(ident.encode("utf-8")) <= MENU_ID_BYTES else None


def parse_menu_id(value: str) -> str | None:
    """The button action of one of our click ids; None for anything else."""
    if not value.startswith(MENU_PREFIX):
        return None
    return value[len(MENU_PREFIX):] or None


def kf_item(msg: dict[str, Any]) -> KfItem | None:
    """One ``msg_list`` entry -> what the kf channel acts on; None for what it ignores."""
    origin = msg.get("origin")
    if msg.get("msgtype") == "event" or origin == 4:
        return _kf_event(msg)
    if origin == 5:
        return _kf_servicer(msg)
    if origin == 3:
        return _kf_customer(msg)
    return None


def _kf_customer(msg: dict[str, Any]) -> IncomingMessage | KfClick:
    kind = str(msg.get("msgtype", ""))
    text = msg.get("text") or {}
    incoming = IncomingMessage(
        channel=KF_CHANNEL, chat_id=kf_chat_id(msg.get("open_kfid", ""), msg.get("external_userid", "")),
        user_id=str(msg.get("external_userid", "")), text=str(text.get("content", "")) if kind == "text" else "",
        channel_message_id=str(msg.get("msgid", "")), received_at=_when(msg.get("send_time")), kind=kind)
    action = parse_menu_id(str(text.get("menu_id", ""))) if kind == "text" else None
    return KfClick(incoming, action) if action else incoming


def _kf_servicer(msg: dict[str, Any]) -> KfServicerText:
    kind = msg.get("msgtype")
    text = str((msg.get("text") or {}).get("content", "")) if kind == "text" else f"[{kind}]"
    user = str(msg.get("external_userid", ""))
    return KfServicerText(kf_chat_id(msg.get("open_kfid", ""), user), user,
                          str(msg.get("servicer_userid", "")), text, str(msg.get("msgid", "")))


def _kf_event(msg: dict[str, Any]) -> KfEvent:
    event = dict(msg.get("event") or {})
    user = str(event.get("external_userid", ""))
    return KfEvent(str(event.get("event_type", "")), kf_chat_id(event.get("open_kfid", ""), user), user,
                   str(msg.get("msgid", "")), event)
