"""Finding conversations for the console: filters, keyword search over messages, keyset pagination.

Order: newest activity first, `(updated_at, id)` descending, on the `ix_conversations_activity` index;
a page continues strictly after the last row of the previous one (no OFFSET), so page 1 000 costs
what page 1 costs. Filters on messages and tickets are `IN (subquery)` semi-joins on indexed columns.

Keyword search: on SQLite an FTS5 table with the trigram tokenizer (`messages_fts`, kept by triggers)
answers substring queries of 3+ characters from its index — Chinese has no spaces, so word tokenizers
would miss most substrings, while trigrams match any 3-character run; on PostgreSQL `ILIKE` is served
by the pg_trgm GIN index (`ix_messages_text_trgm`). Shorter keywords (1-2 Chinese characters) and
databases without either index fall back to a LIKE scan of the messages table.
"""
from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select, text, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.privacy import mask
from bot.states import TicketState
from bot.store.models import ConversationRow, GapRow, MessageRow, TicketRow
from bot.records import SEARCH_MODES, ConversationFilter, ConversationSummary, Page, StoredMessage, TicketRecord
from bot.store import mappers
from bot.types import TEST_CHANNELS

MODES = SEARCH_MODES




SENSITIVE = re.compile(r"[\d@*]")  # what a keyword needs to probe masked digits or addresses






def encode_cursor(updated_at: datetime, conversation_id: int) -> str:
    return base64.urlsafe_b64encode(f"{updated_at.isoformat()}|{conversation_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The (updated_at, id) a cursor names, or None when it is malformed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, ident = raw.rsplit("|", 1)
        return datetime.fromisoformat(when), int(ident)
    except (ValueError, UnicodeDecodeError):
        return None


def _escape_like(keyword: str) -> str:
    return "%" + keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _ids_with(*conditions: Any) -> Select[int]:
    return select(MessageRow.conversation_id).where(*conditions)


class ConversationSearch:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._session = sessions
        self._fts: bool | None = None
        self.dialect = sessions.kw["bind"].dialect.name

    async def _has_fts(self, s: AsyncSession) -> bool:
        if self._fts is None:
            found = await s.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'messages_fts'"))
            self._fts = bool(found)
        return self._fts

    @staticmethod
    def _masked_pattern(keyword: str) -> Any:
        """Raw messages that may match the keyword once masked (a `*` of the masked form stands for any one
        character: `138****5678` finds the raw number, which the masked check then confirms)."""
        return MessageRow.text.ilike(_escape_like(keyword).replace("*", "_"), escape="\\")

    async def _masked_hits(self, s: AsyncSession, ids: list[int], keyword: str) -> set[int]:
        """The conversations among `ids` where the keyword occurs in some message *as masked*: hidden digits
        of a phone or ID number, or a hidden mailbox name, can never be found by searching for them."""
        if not ids:
            return set()
        rows = await s.execute(select(MessageRow.conversation_id, MessageRow.text).where(
            MessageRow.conversation_id.in_(ids), self._masked_pattern(keyword)))
        wanted = keyword.lower()
        return {cid for cid, body in rows.all() if wanted in mask(body).lower()}

    async def _keyword(self, s: AsyncSession, keyword: str, masked: bool = False) -> tuple[Any, str]:
        """The condition on conversations.id for a keyword, and how it is searched."""
        if masked:
            return ConversationRow.id.in_(_ids_with(self._masked_pattern(keyword))), "masked"
        if self.dialect == "sqlite" and len(keyword) >= 3 and await self._has_fts(s):
            phrase = '"' + keyword.replace('"', '""') + '"'
            hits = text("SELECT rowid FROM messages_fts WHERE messages_fts MATCH :phrase").bindparams(phrase=phrase)
            return ConversationRow.id.in_(_ids_with(MessageRow.id.in_(hits))), "fts5"
        pattern = MessageRow.text.ilike(_escape_like(keyword), escape="\\")
        how = "trgm" if self.dialect == "postgresql" and len(keyword) >= 3 else "like"
        return ConversationRow.id.in_(_ids_with(pattern)), how

    def _conditions(self, f: ConversationFilter) -> list[Any]:
        c = ConversationRow
        out: list[Any] = []
        if f.channel:
            out.append(c.channel == f.channel)
        else:  # the command line's and evaluations' conversations only when their channel is picked
            out.append(c.channel.notin_(TEST_CHANNELS))
        if f.since:
            out.append(c.updated_at >= f.since)
        if f.until:
            out.append(c.created_at < f.until)
        if f.handoff is not None:
            has = c.id.in_(select(TicketRow.conversation_id).where(TicketRow.state != TicketState.INTAKE))
            out.append(has if f.handoff else ~has)
        if f.feedback in ("up", "down"):
            out.append(c.id.in_(_ids_with(MessageRow.feedback == f.feedback)))
        if f.unanswered:
            out.append(c.id.in_(_ids_with(MessageRow.no_answer == true())))
        if f.mode in MODES:  # most conversations have answers: probe each one rather than collect them all
            out.append(select(MessageRow.id).where(MessageRow.conversation_id == c.id, MessageRow.mode == f.mode,
                                                   MessageRow.role == "assistant").exists())
        return out

    async def page(self, f: ConversationFilter, cursor: str | None = None, limit: int = 50) -> Page:
        """One page of conversations matching the filter, newest activity first."""
        c = ConversationRow
        async with self._session() as s:
            conditions, how = self._conditions(f), "none"
            keyword = (f.keyword or "").strip()
            masked = bool(keyword and f.masked and SENSITIVE.search(keyword))
            if keyword:
                cond, how = await self._keyword(s, keyword, masked)
                conditions.append(cond)
            after = decode_cursor(cursor) if cursor else None
            if after is not None:
                conditions.append(tuple_(c.updated_at, c.id) < tuple_(*after))
            stmt = select(c).where(*conditions).order_by(c.updated_at.desc(), c.id.desc()).limit(limit + 1)
            rows = list(await s.scalars(stmt))
            shown = rows[:limit]
            if masked:  # a page may come out shorter: the cursor still moves past every row looked at
                hits = await self._masked_hits(s, [r.id for r in shown], keyword)
                shown = [r for r in shown if r.id in hits]
            summaries = await self._summaries(s, shown)
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return Page(summaries, encode_cursor(last.updated_at, last.id) if last else None, how)

    async def _summaries(self, s: AsyncSession, rows: list[ConversationRow]) -> list[ConversationSummary]:
        ids = [r.id for r in rows]
        if not ids:
            return []
        counts = await self._message_counts(s, ids)
        firsts = await self._first_questions(s, ids)
        tickets = await self._ticket_states(s, ids)
        return [ConversationSummary(
            id=r.id, channel=r.channel, chat_id=r.chat_id, user_id=r.user_id, user_name=r.user_name,
            created_at=r.created_at, updated_at=r.updated_at, first_question=firsts.get(r.id, ""),
            ticket_state=tickets.get(r.id), **counts.get(r.id, {})) for r in rows]

    async def _message_counts(self, s: AsyncSession, ids: list[int]) -> dict[int, dict[str, Any]]:
        m = MessageRow
        stmt = (select(m.conversation_id, func.count(m.id),
                       func.sum(case((m.feedback == "up", 1), else_=0)),
                       func.sum(case((m.feedback == "down", 1), else_=0)),
                       func.sum(case((m.no_answer == true(), 1), else_=0)))
                .where(m.conversation_id.in_(ids)).group_by(m.conversation_id))
        out = {cid: {"message_count": n, "feedback_up": int(up or 0), "feedback_down": int(down or 0),
                     "no_answer": int(na or 0)} for cid, n, up, down, na in (await s.execute(stmt)).all()}
        modes = await s.execute(select(m.conversation_id, m.mode).distinct()
                                .where(m.conversation_id.in_(ids), m.mode.is_not(None)))
        for cid, mode in modes.all():
            out.setdefault(cid, {}).setdefault("modes", ())
            out[cid]["modes"] = tuple(sorted({*out[cid]["modes"], mode}))
        return out

    async def _first_questions(self, s: AsyncSession, ids: list[int]) -> dict[int, str]:
        first = (select(func.min(MessageRow.id)).where(MessageRow.conversation_id.in_(ids), MessageRow.role == "user")
                 .group_by(MessageRow.conversation_id))
        rows = await s.execute(select(MessageRow.conversation_id, MessageRow.text).where(MessageRow.id.in_(first)))
        return {cid: txt[:200] for cid, txt in rows.all()}

    async def _ticket_states(self, s: AsyncSession, ids: list[int]) -> dict[int, str]:
        rows = await s.execute(select(TicketRow.conversation_id, TicketRow.state)
                               .where(TicketRow.conversation_id.in_(ids)).order_by(TicketRow.id))
        return {cid: state for cid, state in rows.all()}  # the newest ticket wins

    # ---------------------------------------------------------------- transcripts and exports

    async def messages_of(self, ids: list[int]) -> dict[int, list[StoredMessage]]:

        out: dict[int, list[StoredMessage]] = {i: [] for i in ids}
        async with self._session() as s:
            rows = await s.scalars(select(MessageRow).where(MessageRow.conversation_id.in_(ids))
                                   .order_by(MessageRow.conversation_id, MessageRow.id))
            for r in rows:
                out[r.conversation_id].append(mappers.message(r))
        return out

    async def tickets_of(self, ids: list[int]) -> dict[int, list[TicketRecord]]:
        out: dict[int, list[TicketRecord]] = {i: [] for i in ids}
        async with self._session() as s:
            for r in await s.scalars(select(TicketRow).where(TicketRow.conversation_id.in_(ids)).order_by(TicketRow.id)):
                out[r.conversation_id].append(mappers.ticket(r))
        return out

    async def gap_rows(self, since: datetime | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """The gaps the engine recorded (no answer, 👎), newest first."""
        stmt = select(GapRow).order_by(GapRow.id.desc()).limit(limit)
        if since is not None:
            stmt = stmt.where(GapRow.created_at >= since)
        async with self._session() as s:
            return [{"id": r.id, "question": r.question, "reason": r.reason, "message_id": r.message_id,
                     "conversation_id": r.conversation_id, "created_at": r.created_at} for r in await s.scalars(stmt)]

    async def questions_of_answers(self, *, feedback: str | None = None, answered: bool = False,
                                   since: datetime | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """The user questions behind assistant answers with this feedback (or every answer that was not a
        no-answer), newest first, with the best calibrated passage score the answer was built on."""
        answer, question = MessageRow.__table__.alias("a"), MessageRow.__table__.alias("q")
        conds = [answer.c.role == "assistant", answer.c.reply_to_id.is_not(None)]
        if feedback:
            conds.append(answer.c.feedback == feedback)
        if answered:
            conds += [answer.c.no_answer.is_(False), answer.c.mode.in_(("llm", "extractive"))]
        if since is not None:
            conds.append(answer.c.created_at >= since)
        stmt = (select(question.c.text, answer.c.id, answer.c.conversation_id, answer.c.meta, answer.c.created_at)
                .join(question, question.c.id == answer.c.reply_to_id).where(*conds)
                .order_by(answer.c.id.desc()).limit(limit))
        async with self._session() as s:
            return [{"question": q, "message_id": mid, "conversation_id": cid, "created_at": at,
                     "score": max((p.get("score") or 0.0 for p in (meta or {}).get("passages") or ()), default=None)}
                    for q, mid, cid, meta, at in (await s.execute(stmt)).all()]
