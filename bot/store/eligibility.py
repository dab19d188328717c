"""Storage of the eligibility self-check (tables of `eligibility_models`, migration 0012)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import ColumnElement

from bot.states import OutcomeStatus
from bot.store import mappers
from bot.store.eligibility_models import CompanyProfileRow, MatchEventRow, SupportItemRow
from bot.store.models import DocumentRow, MessageRow
from bot.support import DRAFT, PUBLISHED, STATES, Condition, SupportItem
from bot.types import utcnow

ELIGIBILITY_AUTHOR = "qdbot-eligibility"  # the `author` of every profile and match reply
REDACTED = "［企业资料，已删除］"
_FIELDS = ("what", "who", "amount", "ratio", "cap", "support", "clause", "section", "title", "source", "region",
           "district", "origin", "state")


@dataclass(frozen=True, slots=True)
class Profile:
    channel: str
    user_id: str
    data: dict[str, Any]
    flow: dict[str, Any]
    consent_at: datetime | None


@dataclass
class MatchStats:
    eligible: list[tuple[SupportItem, int]] = field(default_factory=list)  # most often qualified for first
    near_miss: list[tuple[SupportItem, int]] = field(default_factory=list)
    failed: list[tuple[str, int]] = field(default_factory=list)  # condition field -> near misses failing on it
    matches: int = 0


def _item(row: SupportItemRow) -> SupportItem:
    return SupportItem(id=row.id, doc_id=row.doc_id,
                       conditions=tuple(Condition.from_dict(c) for c in row.conditions or ()),
                       **{k: getattr(row, k) for k in _FIELDS})


def _values(item: SupportItem) -> dict[str, Any]:
    return {**{k: getattr(item, k) for k in _FIELDS}, "conditions": [c.as_dict() for c in item.conditions]}


class EligibilityStore:
    def __init__(self, session: async_sessionmaker[AsyncSession]):
        self._session = session

    # ------------------------------------------------------------------ support items

    async def replace_items(self, doc_id: str, items: list[SupportItem], publish: bool = False) -> int:
        """The document's items read at ingest. Items an operator corrected are kept (a read item with
        the same clause is not added again); a read item keeps the review state its clause had."""
        async with self._session() as s, s.begin():
            rows = list(await s.scalars(select(SupportItemRow).where(SupportItemRow.doc_id == doc_id)))
            kept = {r.clause for r in rows if r.origin == "operator"}
            states = {r.clause: r.state for r in rows if r.origin != "operator"}
            await s.execute(delete(SupportItemRow).where(SupportItemRow.doc_id == doc_id,
                                                         SupportItemRow.origin != "operator"))
            fresh = [i for i in items if i.clause not in kept]
            for item in fresh:
                state = states.get(item.clause, PUBLISHED if publish else DRAFT)
                s.add(SupportItemRow(doc_id=doc_id, **{**_values(item), "state": state}))
            return len(fresh)

    async def items(self, *, state: str | None = None, doc_id: str | None = None) -> list[SupportItem]:
        async with self._session() as s:
            q = select(SupportItemRow).order_by(SupportItemRow.doc_id, SupportItemRow.id)
            if state is not None:
                q = q.where(SupportItemRow.state == state)
            if doc_id is not None:
                q = q.where(SupportItemRow.doc_id == doc_id)
            return [_item(r) for r in await s.scalars(q)]

    async def get_item(self, item_id: int) -> SupportItem | None:
        async with self._session() as s:
            row = await s.get(SupportItemRow, item_id)
            return _item(row) if row else None

    async def update_item(self, item_id: int, item: SupportItem) -> bool:
        """An operator's correction: the item is then the operator's and survives re-ingests."""
        values = {**_values(item), "origin": "operator", "updated_at": utcnow()}
        if values["state"] not in STATES:
            return False
        async with self._session() as s, s.begin():
            done = await s.execute(update(SupportItemRow).where(SupportItemRow.id == item_id).values(**values))
            return mappers.changed(done) > 0

    async def set_state(self, item_id: int, state: str) -> bool:
        if state not in STATES:
            return False
        async with self._session() as s, s.begin():
            done = await s.execute(update(SupportItemRow).where(SupportItemRow.id == item_id)
                                   .values(state=state, updated_at=utcnow()))
            return mappers.changed(done) > 0

    async def add_item(self, item: SupportItem) -> int | None:
        async with self._session() as s, s.begin():
            if await s.get(DocumentRow, item.doc_id) is None:
                return None
            row = SupportItemRow(doc_id=item.doc_id, **_values(item))
            s.add(row)
            await s.flush()
            return row.id

    # ------------------------------------------------------------------ profiles

    @staticmethod
    def has_profile(channel: str, user_id: str) -> ColumnElement[Any]:
        """Has this user a profile row? A scalar subquery (an id or NULL) for a hot-path statement to read."""
        return (select(CompanyProfileRow.id).where(CompanyProfileRow.channel == channel,
                                                   CompanyProfileRow.user_id == user_id)
                .limit(1).scalar_subquery().label("profile_id"))

    async def profile(self, channel: str, user_id: str) -> Profile | None:
        async with self._session() as s:
            row = await s.scalar(select(CompanyProfileRow).where(CompanyProfileRow.channel == channel,
                                                                 CompanyProfileRow.user_id == user_id))
            return Profile(row.channel, row.user_id, dict(row.data or {}), dict(row.flow or {}),
                           row.consent_at) if row else None

    async def save_profile(self, channel: str, user_id: str, *, data: dict[str, Any] | None = None,
                           flow: dict[str, Any] | None = None, consent_at: datetime | None = None) -> None:
        """Create or update; only the given parts change."""
        for _ in range(2):  # two first messages at once: the second one updates the row the first made
            try:
                async with self._session() as s, s.begin():
                    row = await s.scalar(select(CompanyProfileRow).where(CompanyProfileRow.channel == channel,
                                                                         CompanyProfileRow.user_id == user_id))
                    if row is None:
                        row = CompanyProfileRow(channel=channel, user_id=user_id, data={}, flow={})
                        s.add(row)
                    if data is not None:
                        row.data = data
                    if flow is not None:
                        row.flow = flow
                    if consent_at is not None:
                        row.consent_at = consent_at
                    row.updated_at = utcnow()
                return
            except IntegrityError:
                continue

    async def delete_profile(self, channel: str, user_id: str) -> bool:
        async with self._session() as s, s.begin():
            done = await s.execute(delete(CompanyProfileRow).where(CompanyProfileRow.channel == channel,
                                                                   CompanyProfileRow.user_id == user_id))
            return mappers.changed(done) > 0

    async def profiles_count(self) -> int:
        async with self._session() as s:
            return int(await s.scalar(select(func.count()).select_from(CompanyProfileRow)
                                      .where(CompanyProfileRow.consent_at.is_not(None))) or 0)

    async def redact_messages(self, conversation_id: int) -> int:
        """The texts of a conversation's profile answers and eligibility replies, replaced (deletion)."""
        async with self._session() as s, s.begin():
            rows = await s.scalars(select(MessageRow).where(MessageRow.conversation_id == conversation_id))
            hit = [r for r in rows if r.author == ELIGIBILITY_AUTHOR or (r.meta or {}).get("outcome") == OutcomeStatus.PROFILE]
            for row in hit:
                row.text = REDACTED
            return len(hit)

    # ------------------------------------------------------------------ statistics

    async def record_matches(self, events: list[tuple[int, str, str]]) -> None:
        """(item id, outcome, failing field) of one match."""
        if not events:
            return
        async with self._session() as s, s.begin():
            s.add_all(MatchEventRow(item_id=i, outcome=o, failed=f) for i, o, f in events)

    async def stats(self, since: datetime | None = None) -> MatchStats:
        async with self._session() as s:
            q = select(MatchEventRow.item_id, MatchEventRow.outcome, MatchEventRow.failed)
            if since is not None:
                q = q.where(MatchEventRow.created_at >= since)
            rows = (await s.execute(q)).all()
            items = {r.id: _item(r) for r in await s.scalars(select(SupportItemRow))}
        by_outcome = {o: Counter(i for i, oo, _ in rows if oo == o) for o in ("eligible", "near_miss")}
        failed = Counter(f for _, o, f in rows if o == "near_miss" and f)

        def pick(c: Counter[int]) -> list[tuple[SupportItem, int]]:
            return [(items[i], n) for i, n in c.most_common() if i in items]

        return MatchStats(pick(by_outcome["eligible"]), pick(by_outcome["near_miss"]), failed.most_common(),
                          len(rows))
