"""Records -> the JSON the API returns and the pages render, with personal data masked for whoever
may not see it (`bot.accounts.sees_contacts`): operators always, managers except on their own ticket."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.accounts import sees_contacts
from bot.privacy import mask
from bot.records import (
    AccountRecord, ApiTokenRecord, AuditRecord, ChunkRecord, ConversationSummary, CuratedRecord, DocumentRecord,
    StoredMessage, TicketEvent, TicketRecord,
)
from bot.states import TicketState
from bot.types import utcnow

Masker = Callable[[str | None], str]


def masker(account: AccountRecord, ticket_manager_id: str | None = None) -> Masker:
    if sees_contacts(account, ticket_manager_id):
        return lambda text: text or ""
    return mask


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def conversation_json(c: ConversationSummary, m: Masker) -> dict[str, Any]:
    return {"id": c.id, "channel": c.channel, "user": m(c.user_name or c.user_id), "created_at": iso(c.created_at),
            "updated_at": iso(c.updated_at), "messages": c.message_count, "first_question": m(c.first_question),
            "feedback_up": c.feedback_up, "feedback_down": c.feedback_down, "no_answer": c.no_answer,
            "ticket_state": c.ticket_state, "modes": list(c.modes)}


def _passage(p: dict[str, Any], m: Masker) -> dict[str, Any]:
    return {k: (m(p.get(k)) if k == "text" else p.get(k))
            for k in ("title", "section", "score", "dense", "lexical", "text", "chunk_id")}


def message_json(msg: StoredMessage, m: Masker) -> dict[str, Any]:
    """Every turn with its author; assistant answers with the query, passages, citations, mode and latency."""
    meta = msg.meta or {}
    out = {"id": msg.id, "role": msg.role, "author": m(msg.author), "text": m(msg.text),
           "created_at": iso(msg.created_at), "status": msg.status, "reply_to_id": msg.reply_to_id,
           "handoff": msg.handoff}
    if msg.role == "assistant":
        out.update(mode=msg.mode, no_answer=msg.no_answer, stopped=bool(meta.get("stopped")), feedback=msg.feedback,
                   latency_ms=msg.latency_ms,
                   rewritten_query=m(meta.get("rewritten_query")) or None, notice=meta.get("notice"),
                   top_score=meta.get("top_score"), timings=meta.get("timings") or {},
                   passages=[_passage(p, m) for p in meta.get("passages") or ()],
                   sources=[_passage(s, m) | {"source": s.get("source")} for s in meta.get("sources") or ()])
    return out


def waiting_seconds(t: TicketRecord, now: datetime | None = None) -> float | None:
    """How long the user has been waiting for a manager (until claimed)."""
    if t.waiting_since is None:
        return None
    end = t.claimed_at or (t.resolved_at if t.state != TicketState.WAITING else None) or now or utcnow()
    return max(0.0, (end - t.waiting_since).total_seconds())


def ticket_json(t: TicketRecord, account: AccountRecord, *, channel: str = "", card: str = "") -> dict[str, Any]:
    m = masker(account, t.manager_id)
    return {"id": t.id, "conversation_id": t.conversation_id, "state": t.state, "channel": channel,
            "fields": {k: m(str(v)) if v else v for k, v in t.fields.items()}, "summary": m(t.summary),
            "trigger": m(t.trigger), "manager_id": t.manager_id, "lang": t.lang, "card": m(card),
            "created_at": iso(t.created_at), "waiting_since": iso(t.waiting_since), "claimed_at": iso(t.claimed_at),
            "first_response_at": iso(t.first_response_at), "resolved_at": iso(t.resolved_at),
            "outcome": t.outcome, "rating": t.rating, "waiting_seconds": waiting_seconds(t),
            "unstaffed": t.meta.get("unstaffed")}


def event_json(e: TicketEvent, m: Masker) -> dict[str, Any]:
    return {"at": iso(e.at), "actor": e.actor, "action": e.action, "detail": m(e.detail)}


def document_json(d: DocumentRecord) -> dict[str, Any]:
    return {"id": d.id, "title": d.title, "source": d.source, "chunks": d.chunk_count, "status": d.status,
            "error": d.error, "size_bytes": d.size_bytes, "ingested_at": iso(d.ingested_at),
            "updated_at": iso(d.updated_at), "identity": d.effective_identity, "extracted": d.identity,
            "corrections": d.identity_override, "review": d.review}


ARTICLE = re.compile(r"^第[一二三四五六七八九十百千零〇两\d]+条")


def chunk_json(c: ChunkRecord, region: str) -> dict[str, Any]:
    """One indexed chunk as the chunk viewer shows it: where it sits (position, section path, article), what the
    index keeps beside its text (title, source, the document's region, flagged sentences), its length."""
    path = [p for p in c.section.split(" > ") if p]
    article = next((m.group(0) for p in reversed(path) if (m := ARTICLE.match(p))), "")
    return {"id": c.id, "position": c.position, "section": c.section, "section_path": path, "article": article,
            "region": region, "title": c.title, "source": c.source, "chars": len(c.text), "text": c.text,
            "flags": list(c.flags)}


def curated_json(c: CuratedRecord) -> dict[str, Any]:
    return {"id": c.id, "question": c.question, "examples": c.examples, "answer": c.answer, "lang": c.lang,
            "status": c.status, "created_by": c.created_by, "updated_by": c.updated_by,
            "created_at": iso(c.created_at), "updated_at": iso(c.updated_at)}


def account_json(a: AccountRecord) -> dict[str, Any]:
    return {"id": a.id, "username": a.username, "role": a.role, "manager_id": a.manager_id, "active": a.active,
            "created_at": iso(a.created_at), "last_login_at": iso(a.last_login_at)}


def token_json(tk: ApiTokenRecord, now: datetime | None = None) -> dict[str, Any]:
    """An API token as the console lists it (never the token itself: only its hash is stored)."""
    return {"id": tk.id, "account_id": tk.account_id, "name": tk.name, "scope": tk.scope,
            "created_at": iso(tk.created_at), "last_used_at": iso(tk.last_used_at), "expires_at": iso(tk.expires_at),
            "revoked": tk.revoked, "valid": tk.valid(now or utcnow())}


def changes(before: AccountRecord | None, after: AccountRecord | None) -> dict[str, Any]:
    """The old and new values of what changed in an account (for the audit log; never the password hash)."""
    if before is None or after is None:
        return {}
    keys = ("role", "manager_id", "active")
    return {"old": {k: getattr(before, k) for k in keys if getattr(before, k) != getattr(after, k)},
            "new": {k: getattr(after, k) for k in keys if getattr(before, k) != getattr(after, k)}}


def audit_json(a: AuditRecord) -> dict[str, Any]:
    return {"id": a.id, "at": iso(a.at), "username": a.username, "action": a.action, "target": a.target,
            "detail": a.detail, "ip": a.ip}
