"""Reply, Citation, Outcome and stored messages -> the JSON of the web chat API."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.engine import Outcome
from bot.records import StoredMessage
from bot.states import ButtonAction, OutcomeStatus
from bot.types import AnswerMode, Citation, Reply

SOURCE_KEYS = ("title", "section", "source", "text", "score", "region")


def citation_json(n: int, c: Citation) -> dict[str, Any]:
    """One source as the page shows it: `n` is the [n] marker in the answer text."""
    return {"n": n, "title": c.title, "section": c.section, "source": c.source, "text": c.snippet,
            "score": round(c.score, 4), "region": c.region}


def sources_json(citations: Sequence[Citation]) -> list[dict[str, Any]]:
    return [citation_json(n, c) for n, c in enumerate(citations, 1)]


def stored_sources_json(stored: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sources kept in a stored answer's meta, numbered as in its text."""
    return [{"n": n, **{k: s.get(k) for k in SOURCE_KEYS}} for n, s in enumerate(stored, 1)]


def buttons_json(buttons: Iterable[Any]) -> list[dict[str, str]]:
    """Quick replies the page draws as buttons (👍/👎 have their own bar and "联系技术经理人" its own button,
    so they are left out)."""
    out = [{"label": b["label"], "action": b["action"]} if isinstance(b, dict) else {"label": b.label, "action": b.action}
           for b in buttons]
    return [b for b in out if not b["action"].startswith(f"{ButtonAction.FEEDBACK}:") and b["action"] != ButtonAction.HANDOFF]


def reply_json(reply: Reply) -> dict[str, Any]:
    """One reply the engine sent (the `reply` event of the stream)."""
    return {"message_id": reply.message_id, "role": reply.role.value, "text": reply.text,
            "sources": sources_json(reply.citations), "buttons": buttons_json(reply.buttons)}


def _mode(out: Outcome, default: str) -> str:
    mode = out.answer.mode.value if out.answer else default
    return "llm" if mode == AnswerMode.LLM.value else "extractive"


def _main_reply(out: Outcome, heard: Sequence[Reply]) -> Reply | None:
    """The last reply to this message that was delivered (the engine withholds answers while a human owns the chat)."""
    delivered = {r.message_id for r in heard}
    return next((r for r in reversed(out.replies) if r.message_id in delivered), None)


def outcome_json(out: Outcome, heard: Sequence[Reply], default_mode: str) -> dict[str, Any]:
    """The answer of /api/chat (and the `done` event): the last delivered reply; the others are notices."""
    main = _main_reply(out, heard)
    return {
        "answer": main.text if main else "",
        "sources": sources_json(main.citations) if main else [],
        "handoff": out.status == OutcomeStatus.HANDOFF,
        "no_answer": bool(out.answer and out.answer.no_answer),
        "mode": _mode(out, default_mode),
        "message_id": main.message_id if main else None,
        "question_id": out.message_id,
        "status": out.status,
        "stopped": bool(out.answer and out.answer.stopped),
        "notices": [r.text for r in heard if main is None or r.message_id != main.message_id],
        "replies": [reply_json(r) for r in heard],
    }


def message_json(m: StoredMessage) -> dict[str, Any]:
    """A stored message of the conversation, as /api/chat/history lists it."""
    return {
        "id": m.id,
        "role": m.role,
        "text": m.text,
        "sources": stored_sources_json(m.meta.get("sources") or ()),
        "feedback": m.feedback,
        "no_answer": m.no_answer,
        "handoff": m.handoff,
        "stopped": bool(m.meta.get("stopped")),
        "buttons": buttons_json(m.meta.get("buttons") or ()),
        "created_at": m.created_at.isoformat(),
    }


def ticket_json(t: Any) -> dict[str, Any] | None:
    """The open ticket the page's banner shows (None: the assistant answers)."""
    return {"id": t.id, "state": t.state, "unstaffed": t.meta.get("unstaffed")} if t is not None else None
