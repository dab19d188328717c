"""The operator console's tables: accounts, sessions, API tokens, login attempts, audit log, curated answers.

Secrets never reach the database in the clear: sessions and API tokens are kept as SHA-256 hashes of
random tokens, passwords as argon2 hashes (computed by `bot.accounts`). Conversation search, the
dashboard's figures and the gap decisions live beside it (`console_search`, `console_stats`,
`gap_states`) and hang off `Store.console`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.records import AccountRecord, ApiTokenRecord, AuditRecord, CuratedRecord
from bot.store import mappers
from bot.store.console_search import ConversationSearch
from bot.store.console_stats import ConsoleStats
from bot.store.gap_states import GapStates
from bot.store.models import (
    AccountRow, ApiTokenRow, AuditRow, ConsoleSessionRow, CuratedAnswerRow, LoginAttemptRow,
)
from bot.types import utcnow

TOUCH_EVERY = timedelta(minutes=1)  # how stale last_seen_at / last_used_at may be









class ConsoleStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._session = sessions
        self.curated_version = 0  # bumped on every change of a curated answer made through this store
        self.search = ConversationSearch(sessions)
        self.stats = ConsoleStats(sessions)
        self.gaps = GapStates(sessions)  # operators' decisions on knowledge-gap questions

    # ---------------------------------------------------------------- accounts

    async def create_account(self, username: str, role: str, password_hash: str,
                             manager_id: str | None = None) -> AccountRecord | None:
        """A new account; None when the username is taken."""
        async with self._session() as s:
            row = AccountRow(username=username, role=role, password_hash=password_hash, manager_id=manager_id,
                             active=True, created_at=utcnow(), updated_at=utcnow())
            s.add(row)
            try:
                await s.commit()
            except IntegrityError:
                await s.rollback()
                return None
            return mappers.record(AccountRecord, row)

    async def account(self, account_id: int) -> AccountRecord | None:
        async with self._session() as s:
            row = await s.get(AccountRow, account_id)
            return mappers.record(AccountRecord, row) if row else None

    async def account_by_name(self, username: str) -> AccountRecord | None:
        async with self._session() as s:
            row = (await s.scalars(select(AccountRow).where(AccountRow.username == username))).first()
            return mappers.record(AccountRecord, row) if row else None

    async def accounts(self) -> list[AccountRecord]:
        async with self._session() as s:
            rows = await s.scalars(select(AccountRow).order_by(AccountRow.username))
            return [mappers.record(AccountRecord, r) for r in rows]

    async def count_accounts(self) -> int:
        async with self._session() as s:
            return int(await s.scalar(select(func.count(AccountRow.id))) or 0)

    async def update_account(self, account_id: int, **values: Any) -> AccountRecord | None:
        """Change role, manager_id, password_hash, active or last_login_at."""
        async with self._session() as s, s.begin():
            row = await s.get(AccountRow, account_id)
            if row is None:
                return None
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            return mappers.record(AccountRecord, row)

    # ---------------------------------------------------------------- sessions

    async def create_session(self, token_hash: str, account_id: int, expires_at: datetime, ip: str | None) -> None:
        async with self._session() as s, s.begin():
            s.add(ConsoleSessionRow(token_hash=token_hash, account_id=account_id, expires_at=expires_at,
                                    created_at=utcnow(), last_seen_at=utcnow(), ip=(ip or "")[:64]))

    async def session_account(self, token_hash: str, now: datetime) -> AccountRecord | None:
        """The active account of an unexpired session (its last-seen time is refreshed)."""
        async with self._session() as s, s.begin():
            found = (await s.execute(
                select(ConsoleSessionRow, AccountRow).join(AccountRow, AccountRow.id == ConsoleSessionRow.account_id)
                .where(ConsoleSessionRow.token_hash == token_hash, ConsoleSessionRow.expires_at > now,
                       AccountRow.active.is_(True)))).first()
            if found is None:
                return None
            if now - found[0].last_seen_at > TOUCH_EVERY:  # not a write on every request
                found[0].last_seen_at = now
            return mappers.record(AccountRecord, found[1])

    async def delete_session(self, token_hash: str) -> None:
        async with self._session() as s, s.begin():
            await s.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == token_hash))

    async def delete_sessions(self, account_id: int | None = None, expired_before: datetime | None = None) -> int:
        """End every session of an account, or every session that expired before a time."""
        stmt = delete(ConsoleSessionRow)
        if account_id is not None:
            stmt = stmt.where(ConsoleSessionRow.account_id == account_id)
        if expired_before is not None:
            stmt = stmt.where(ConsoleSessionRow.expires_at < expired_before)
        async with self._session() as s, s.begin():
            return mappers.changed(await s.execute(stmt)) or 0

    # ---------------------------------------------------------------- API tokens

    async def create_token(self, account_id: int, token_hash: str, name: str, scope: str = "full",
                           expires_at: datetime | None = None) -> int:
        async with self._session() as s, s.begin():
            row = ApiTokenRow(account_id=account_id, token_hash=token_hash, name=name[:128], created_at=utcnow(),
                              scope=scope, expires_at=expires_at)
            s.add(row)
            await s.flush()
            return row.id

    async def token_grant(self, token_hash: str, now: datetime) -> tuple[AccountRecord, ApiTokenRecord] | None:
        """The active account and the token, when it is neither revoked nor expired; its last use is recorded."""
        async with self._session() as s, s.begin():
            found = (await s.execute(
                select(ApiTokenRow, AccountRow).join(AccountRow, AccountRow.id == ApiTokenRow.account_id)
                .where(ApiTokenRow.token_hash == token_hash, ApiTokenRow.revoked.is_(False),
                       AccountRow.active.is_(True)))).first()
            if found is None or (found[0].expires_at is not None and found[0].expires_at <= now):
                return None
            if found[0].last_used_at is None or now - found[0].last_used_at > TOUCH_EVERY:
                found[0].last_used_at = now
            return mappers.record(AccountRecord, found[1]), mappers.record(ApiTokenRecord, found[0])

    async def token_account(self, token_hash: str) -> AccountRecord | None:
        grant = await self.token_grant(token_hash, utcnow())
        return grant[0] if grant else None

    async def tokens(self, account_id: int | None = None) -> list[ApiTokenRecord]:
        """The tokens of one account (all accounts when None), oldest first; revoked ones too."""
        stmt = select(ApiTokenRow).order_by(ApiTokenRow.id)
        if account_id is not None:
            stmt = stmt.where(ApiTokenRow.account_id == account_id)
        async with self._session() as s:
            return [mappers.record(ApiTokenRecord, r) for r in await s.scalars(stmt)]

    async def token(self, token_id: int) -> ApiTokenRecord | None:
        async with self._session() as s:
            row = await s.get(ApiTokenRow, token_id)
            return mappers.record(ApiTokenRecord, row) if row else None

    async def revoke_token(self, token_id: int) -> bool:
        async with self._session() as s, s.begin():
            res = await s.execute(update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(revoked=True))
            return mappers.changed(res) == 1

    async def revoke_tokens(self, account_id: int) -> int:
        """Revoke every token of an account (password change, deactivation): reactivation brings none back."""
        async with self._session() as s, s.begin():
            res = await s.execute(update(ApiTokenRow).where(ApiTokenRow.account_id == account_id,
                                                            ApiTokenRow.revoked.is_(False)).values(revoked=True))
            return mappers.changed(res) or 0

    # ---------------------------------------------------------------- login attempts

    async def record_attempt(self, username: str, ip: str, ok: bool) -> None:
        async with self._session() as s, s.begin():
            s.add(LoginAttemptRow(username=username[:64], ip=ip[:64], ok=ok, at=utcnow()))

    async def failures(self, since: datetime, *, username: str | None = None, ip: str | None = None,
                       reset_by_success: bool = True) -> tuple[int, datetime | None]:
        """Failed attempts since a time for a username, an address or the pair of both, and the latest one's
        time. With `reset_by_success` only those after the last success of the same key count."""
        keys = []
        if username is not None:
            keys.append(LoginAttemptRow.username == username)
        if ip is not None:
            keys.append(LoginAttemptRow.ip == ip)
        async with self._session() as s:
            start = since
            if reset_by_success:
                last_ok = await s.scalar(select(func.max(LoginAttemptRow.at)).where(*keys, LoginAttemptRow.ok))
                start = max(since, last_ok) if last_ok else since
            count, last = (await s.execute(select(func.count(LoginAttemptRow.id), func.max(LoginAttemptRow.at)).where(
                *keys, LoginAttemptRow.ok.is_(False), LoginAttemptRow.at > start))).one()
            return int(count or 0), last

    async def forget_attempts(self, before: datetime) -> int:
        async with self._session() as s, s.begin():
            return mappers.changed(await s.execute(delete(LoginAttemptRow).where(LoginAttemptRow.at < before))) or 0

    # ---------------------------------------------------------------- audit log

    async def audit(self, account: AccountRecord | None, action: str, target: str = "", ip: str | None = None,
                    **detail: Any) -> None:
        async with self._session() as s, s.begin():
            s.add(AuditRow(account_id=account.id if account else None, username=account.username if account else "-",
                           action=action, target=str(target)[:256], detail=detail, ip=(ip or "")[:64], at=utcnow()))

    async def audit_log(self, limit: int = 100, before_id: int | None = None,
                        action: str | None = None) -> list[AuditRecord]:
        stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if before_id is not None:
            stmt = stmt.where(AuditRow.id < before_id)
        if action:
            stmt = stmt.where(AuditRow.action == action)
        async with self._session() as s:
            return [mappers.record(AuditRecord, r) for r in await s.scalars(stmt)]

    # ---------------------------------------------------------------- curated answers

    async def add_curated(self, question: str, answer: str, examples: list[str], lang: str, by: str) -> CuratedRecord:
        async with self._session() as s, s.begin():
            row = CuratedAnswerRow(question=question, answer=answer, examples=examples, lang=lang, status="active",
                                   created_by=by, updated_by=by, created_at=utcnow(), updated_at=utcnow())
            s.add(row)
            await s.flush()
            record = mappers.record(CuratedRecord, row)
        self.curated_version += 1
        return record

    async def update_curated(self, curated_id: int, by: str, **values: Any) -> CuratedRecord | None:
        """Change question, answer, examples, lang or status ("active" / "retired")."""
        async with self._session() as s, s.begin():
            row = await s.get(CuratedAnswerRow, curated_id)
            if row is None:
                return None
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_by, row.updated_at = by, utcnow()
            record = mappers.record(CuratedRecord, row)
        self.curated_version += 1
        return record

    async def curated(self, curated_id: int) -> CuratedRecord | None:
        async with self._session() as s:
            row = await s.get(CuratedAnswerRow, curated_id)
            return mappers.record(CuratedRecord, row) if row else None

    async def curated_list(self, status: str | None = None) -> list[CuratedRecord]:
        stmt = select(CuratedAnswerRow).order_by(CuratedAnswerRow.id.desc())
        if status:
            stmt = stmt.where(CuratedAnswerRow.status == status)
        async with self._session() as s:
            return [mappers.record(CuratedRecord, r) for r in await s.scalars(stmt)]
