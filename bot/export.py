"""Export of conversations (with the console's filters) as CSV or JSON Lines, personal data masked.

Streams in batches along the same keyset pagination as the list, so exporting 100k conversations
holds one batch in memory. Every free-text field goes through `bot.privacy.mask` (phone numbers,
e-mails, ID numbers), whoever exports. CSV: one row per message, UTF-8 with a BOM (spreadsheets in
Chinese locales read it right), cells that a spreadsheet would run as a formula are quoted with '.
JSONL: one conversation per line with its messages and tickets.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from datetime import tzinfo, timezone

from bot.privacy import mask, mask_name
from bot.states import OutcomeStatus
from bot.store import Store
from bot.records import StoredMessage, TicketRecord
from bot.store.eligibility import ELIGIBILITY_AUTHOR
from bot.records import ConversationFilter, ConversationSummary

NAME_FIELDS = ("contact_name",)  # ticket fields holding a person's name: masked like phones
CSV_FIELDS = ["conversation_id", "channel", "user", "message_id", "created_at", "role", "author", "text", "mode",
              "no_answer", "feedback", "latency_ms", "sources", "ticket_id", "ticket_state", "ticket_outcome",
              "ticket_rating"]
PROFILE_HIDDEN = "［企业资料，不导出］"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
Batch = tuple[ConversationSummary, list[StoredMessage], list[TicketRecord]]


async def batches(store: Store, f: ConversationFilter, size: int = 200) -> AsyncIterator[list[Batch]]:
    """The filtered conversations with their messages and tickets, a batch at a time."""
    search, cursor = store.console.search, None
    while True:
        page = await search.page(f, cursor, limit=size)
        ids = [c.id for c in page.rows]
        if ids:
            messages, tickets = await search.messages_of(ids), await search.tickets_of(ids)
            yield [(c, messages[c.id], tickets[c.id]) for c in page.rows]
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _sources(m: StoredMessage) -> list[dict[str, Any]]:
    return [{"title": s.get("title"), "section": s.get("section"), "source": s.get("source"), "score": s.get("score")}
            for s in m.meta.get("sources") or ()]


def _field(name: str, value: Any) -> Any:
    if not value:
        return value
    return mask_name(str(value)) if name in NAME_FIELDS else mask(str(value))


def _user(c: ConversationSummary) -> str:
    return mask_name(c.user_name) if c.user_name else mask(c.user_id)


def _ticket_json(t: TicketRecord, tz: tzinfo) -> dict[str, Any]:
    return {"id": t.id, "state": t.state, "outcome": t.outcome, "rating": t.rating, "manager_id": t.manager_id,
            "fields": {k: _field(k, v) for k, v in t.fields.items()}, "summary": mask(t.summary),
            "created_at": _iso(t.created_at, tz), "waiting_since": _iso(t.waiting_since, tz),
            "claimed_at": _iso(t.claimed_at, tz), "first_response_at": _iso(t.first_response_at, tz),
            "resolved_at": _iso(t.resolved_at, tz)}


def _iso(value: Any, tz: tzinfo = timezone.utc) -> str | None:
    """In the console's time zone, with its offset (2026-12-04T18:20:00+08:00)."""
    return value.astimezone(tz).isoformat() if value is not None else None


def _text(m: StoredMessage) -> str:
    """Masked; a company-profile answer or an eligibility reply (issue 17) is not exported at all."""
    return PROFILE_HIDDEN if m.author == ELIGIBILITY_AUTHOR or m.meta.get("outcome") == OutcomeStatus.PROFILE else mask(m.text)


def _message_json(m: StoredMessage, tz: tzinfo) -> dict[str, Any]:
    return {"id": m.id, "created_at": _iso(m.created_at, tz), "role": m.role, "author": mask(m.author),
            "text": _text(m), "mode": m.mode, "no_answer": m.no_answer, "handoff": m.handoff,
            "feedback": m.feedback, "latency_ms": m.latency_ms, "sources": _sources(m),
            "rewritten_query": mask(m.meta.get("rewritten_query")) or None}


def conversation_json(c: ConversationSummary, messages: list[StoredMessage], tickets: list[TicketRecord],
                      tz: tzinfo = timezone.utc) -> dict[str, Any]:
    """One conversation as a JSONL record, masked, times in `tz`."""
    return {"id": c.id, "channel": c.channel, "user": _user(c),
            "created_at": _iso(c.created_at, tz), "updated_at": _iso(c.updated_at, tz), "time_zone": str(tz),
            "messages": [_message_json(m, tz) for m in messages], "tickets": [_ticket_json(t, tz) for t in tickets]}


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_rows(c: ConversationSummary, messages: list[StoredMessage], tickets: list[TicketRecord],
             tz: tzinfo = timezone.utc) -> list[list[str]]:
    """One row per message, masked; the conversation's latest ticket on every row."""
    t = tickets[-1] if tickets else None
    ticket = [t.id, t.state, t.outcome, t.rating] if t else [None] * 4
    return [[_cell(v) for v in (c.id, c.channel, _user(c), m.id, _iso(m.created_at, tz), m.role,
                                 mask(m.author), _text(m), m.mode, m.no_answer, m.feedback, m.latency_ms,
                                 "; ".join(filter(None, (s["title"] for s in _sources(m)))), *ticket)]
            for m in messages]


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def csv_header(tz: tzinfo) -> list[str]:
    """The header row; the time column names the time zone its values are in."""
    return [f"created_at ({tz})" if name == "created_at" else name for name in CSV_FIELDS]


async def csv_chunks(store: Store, f: ConversationFilter, tz: tzinfo = timezone.utc) -> AsyncIterator[bytes]:
    yield "\ufeff".encode("utf-8") + _csv_bytes([csv_header(tz)])
    async for batch in batches(store, f):
        yield _csv_bytes([row for c, ms, ts in batch for row in csv_rows(c, ms, ts, tz)])


async def jsonl_chunks(store: Store, f: ConversationFilter, tz: tzinfo = timezone.utc) -> AsyncIterator[bytes]:
    async for batch in batches(store, f):
        yield "".join(json.dumps(conversation_json(*b, tz), ensure_ascii=False) + "\n" for b in batch).encode("utf-8")
