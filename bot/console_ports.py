"""What the operator console may read and change, as narrow typed ports (`ConsolePorts`, built by
`Engine.console_ports()`): one class per concern, each over the store, so the console never holds the `Store`.

    AuditLog             who did what, when (every console action is recorded here)
    AccountDirectory     console accounts and API tokens; `service` builds the sign-in service over them
    CuratedBook          the answers operators wrote
    GapReview            questions the knowledge base could not answer, and the operators' decisions on them
    ConversationQueries  the conversation list (filter, search, pages) and its export
    Transcripts          one conversation and its messages
    TicketQueue          handoff tickets, their history, the managers' roster, and ticket news across workers
    ConsoleFigures       the dashboard and the ticket figures of a period
    DocumentRegistry     the knowledge base's documents and their chunks (changes go through `KnowledgeAdmin`)
    PolicyCalendar       application windows, policy status overrides, the policy notices' switch and figures
    SupportItems         the supports of the eligibility self-check and their use
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from bot import dashboard, export, gaps
from bot.accounts import Accounts
from bot.calendar import CalendarEntry
from bot.gaps import GapItem
from bot.records import (
    AccountRecord, ApiTokenRecord, AuditRecord, ChunkRecord, ConversationFilter, CuratedRecord, DocumentRecord,
    ManagerRecord, Page, StoredMessage, TicketEvent, TicketRecord,
)
from bot.states import TicketState
from bot.store import Store
from bot.store.calendar import NoticeStats, PolicyRecord
from bot.store.eligibility import MatchStats
from bot.store.gap_states import GapDecision
from bot.subscriptions import PAUSED_KEY
from bot.support import SupportItem
from bot.types import Conversation


class _Port:
    def __init__(self, store: Store):
        self._store = store


class AuditLog(_Port):
    async def record(self, account: AccountRecord | None, action: str, target: str = "", ip: str | None = None,
                     **detail: Any) -> None:
        await self._store.console.audit(account, action, target, ip, **detail)

    async def entries(self, limit: int = 100, before_id: int | None = None,
                      action: str | None = None) -> list[AuditRecord]:
        """Newest first; `before_id` pages back, `action` keeps one kind."""
        return await self._store.console.audit_log(limit, before_id, action)


class AccountDirectory(_Port):
    async def accounts(self) -> list[AccountRecord]:
        return await self._store.console.accounts()

    async def account(self, account_id: int) -> AccountRecord | None:
        return await self._store.console.account(account_id)

    async def tokens(self, account_id: int | None = None) -> list[ApiTokenRecord]:
        return await self._store.console.tokens(account_id)

    async def token(self, token_id: int) -> ApiTokenRecord | None:
        return await self._store.console.token(token_id)

    async def revoke_token(self, token_id: int) -> bool:
        return await self._store.console.revoke_token(token_id)

    def service(self, secret: bytes, *, session_hours: float, max_failures: int, max_ip_failures: int,
                window_minutes: float, backoff_seconds: float, token_days: float) -> Accounts:
        """Sign-in, sessions, tokens and account changes over this directory, with this login policy."""
        return Accounts(self._store, secret, session_hours=session_hours, max_failures=max_failures,
                        max_ip_failures=max_ip_failures, window_minutes=window_minutes,
                        backoff_seconds=backoff_seconds, token_days=token_days)


class CuratedBook(_Port):
    async def entries(self, status: str | None = None) -> list[CuratedRecord]:
        """Every curated answer, or those "active" or "retired"."""
        return await self._store.console.curated_list(status)

    async def add(self, question: str, answer: str, examples: list[str], lang: str, by: str) -> CuratedRecord:
        return await self._store.console.add_curated(question, answer, examples, lang, by)

    async def update(self, curated_id: int, by: str, **values: Any) -> CuratedRecord | None:
        return await self._store.console.update_curated(curated_id, by, **values)


class GapReview(_Port):
    async def collect(self, min_score: float, since: datetime | None = None) -> list[GapItem]:
        """Every gap question of the period, newest first (`bot.gaps.collect`)."""
        return await gaps.collect(self._store, min_score, since)

    async def decisions(self, keys: Iterable[str] | None = None) -> dict[str, GapDecision]:
        return await self._store.console.gaps.decisions(keys)

    async def decide(self, questions: Mapping[str, str], state: str, by: str, curated_id: int | None = None) -> int:
        return await self._store.console.gaps.decide(questions, state, by, curated_id)

    async def reopen(self, keys: Iterable[str]) -> int:
        return await self._store.console.gaps.reopen(keys)


class ConversationQueries(_Port):
    async def page(self, f: ConversationFilter, cursor: str | None = None, limit: int = 50) -> Page:
        return await self._store.console.search.page(f, cursor, limit)

    async def tickets_of(self, ids: list[int]) -> dict[int, list[TicketRecord]]:
        return await self._store.console.search.tickets_of(ids)

    def export(self, fmt: str, f: ConversationFilter, tz: tzinfo) -> AsyncIterator[bytes]:
        """The filtered conversations as "csv" (one row per message) or "jsonl", in pieces (`bot.export`)."""
        chunks = export.csv_chunks if fmt == "csv" else export.jsonl_chunks
        return chunks(self._store, f, tz)


class Transcripts(_Port):
    async def conversation(self, conversation_id: int) -> Conversation | None:
        return await self._store.get_conversation(conversation_id)

    async def messages(self, conversation_id: int, limit: int = 5000) -> list[StoredMessage]:
        return await self._store.messages(conversation_id, limit=limit)


class TicketQueue(_Port):
    async def in_states(self, states: tuple[TicketState, ...], limit: int = 500) -> list[TicketRecord]:
        return await self._store.tickets.list(states, limit=limit)

    async def get(self, ticket_id: int) -> TicketRecord | None:
        return await self._store.tickets.get(ticket_id)

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        return await self._store.tickets.events(ticket_id)

    async def managers(self) -> list[ManagerRecord]:
        """The active managers of the roster."""
        return await self._store.tickets.managers()

    def listen(self, channel: str, handler: Callable[[dict[str, Any]], None]) -> None:
        """Hear what other workers `announce` on `channel` (and this one's own notices, locally)."""
        self._store.broadcast.subscribe(channel, handler)

    async def announce(self, channel: str, item: dict[str, Any]) -> None:
        await self._store.broadcast.publish(channel, item)


class ConsoleFigures(_Port):
    async def dashboard(self, since: datetime, until: datetime, tz: str) -> dashboard.Dashboard:
        return await dashboard.build(self._store, since, until, tz)

    async def tickets(self, since: datetime, until: datetime) -> list[TicketRecord]:
        """The tickets opened in the period (the SLA figures and the ticket history)."""
        return await self._store.console.stats.tickets(since, until)


class DocumentRegistry(_Port):
    async def documents(self) -> list[DocumentRecord]:
        return await self._store.kb.list_documents()

    async def document(self, doc_id: str) -> DocumentRecord | None:
        return await self._store.kb.get_document(doc_id)

    async def chunks_page(self, doc_id: str, offset: int, limit: int) -> tuple[list[ChunkRecord], int]:
        return await self._store.kb.chunks_page(doc_id, offset, limit)


class PolicyCalendar(_Port):
    async def entries(self, *, include_hidden: bool = False) -> list[CalendarEntry]:
        return await self._store.calendar.entries(include_hidden=include_hidden)

    async def update_entry(self, entry_id: int, **changes: Any) -> bool:
        return await self._store.calendar.update_entry(entry_id, **changes)

    async def policies(self) -> list[PolicyRecord]:
        return await self._store.calendar.policies()

    async def set_policy_override(self, doc_id: str, override: dict[str, str]) -> bool:
        return await self._store.calendar.set_policy_override(doc_id, override)

    async def notice_stats(self) -> NoticeStats:
        return await self._store.calendar.stats()

    async def notices_paused(self) -> bool:
        return await self._store.get_state(PAUSED_KEY) == "1"

    async def pause_notices(self, paused: bool) -> None:
        await self._store.set_state(PAUSED_KEY, "1" if paused else "0")


class SupportItems(_Port):
    async def items(self) -> list[SupportItem]:
        return await self._store.eligibility.items()

    async def get(self, item_id: int) -> SupportItem | None:
        return await self._store.eligibility.get_item(item_id)

    async def update(self, item_id: int, item: SupportItem) -> bool:
        return await self._store.eligibility.update_item(item_id, item)

    async def set_state(self, item_id: int, state: str) -> bool:
        return await self._store.eligibility.set_state(item_id, state)

    async def stats(self) -> MatchStats:
        return await self._store.eligibility.stats()

    async def profiles_count(self) -> int:
        return await self._store.eligibility.profiles_count()


@dataclass(frozen=True, slots=True)
class ConsolePorts:
    """Everything the operator console reads and changes besides the Engine facade and the `StaffDesk`."""

    audit: AuditLog
    accounts: AccountDirectory
    curated: CuratedBook
    gaps: GapReview
    conversations: ConversationQueries
    transcripts: Transcripts
    tickets: TicketQueue
    figures: ConsoleFigures
    documents: DocumentRegistry
    calendar: PolicyCalendar
    support: SupportItems

    @classmethod
    def over(cls, store: Store) -> ConsolePorts:
        return cls(AuditLog(store), AccountDirectory(store), CuratedBook(store), GapReview(store),
                   ConversationQueries(store), Transcripts(store), TicketQueue(store), ConsoleFigures(store),
                   DocumentRegistry(store), PolicyCalendar(store), SupportItems(store))
