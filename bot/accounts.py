"""Console accounts: roles, argon2 password hashes, rate-limited logins, sessions, API tokens, CSRF tokens.

    admin     everything, including accounts, the audit log and unmasked contact details
    operator  conversations, knowledge base, gaps, curated answers, dashboard, export (personal data masked)
    manager   a technology manager: the ticket queue, acting as the roster manager the account links to

Sessions and API tokens are random 256-bit tokens; the database keeps only their SHA-256, so a copy
of it opens no session. CSRF tokens are bound to the session (HMAC of the session with the secret key)
and compared in constant time.

Logins are throttled from the attempts table (so the limits hold across workers and restarts):
- per account *and* address: after `max_failures` wrong passwords for one username from one address,
  that pair waits `backoff` (1 min), doubling with every further failure (at most an hour); a success
  of the pair clears it. An attacker elsewhere therefore cannot lock a user out;
- per address: `max_ip_failures` failures in the window over all usernames lock the address; a
  success from it does not reset the count (an attacker cannot wash failures with their own account).
Attempts refused while locked are not password checks and are not counted (the audit log has them).

API tokens have a name, a scope (`full`, or `read`: GET only) and an expiry; they are revoked one by
one, and all of an account's at once when its password changes or it is deactivated.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot import passwords
from bot.errors import BadRequestError
from bot.store import Store
from bot.records import AccountRecord, ApiTokenRecord
from bot.types import utcnow

ADMIN, OPERATOR, MANAGER = "admin", "operator", "manager"
ROLES = (ADMIN, OPERATOR, MANAGER)
STAFF = (ADMIN, OPERATOR)
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = passwords.MIN_PASSWORD
TOKEN_PREFIX = "qdb_"
TOKEN_SCOPES = ("full", "read")
KEEP_ATTEMPTS = timedelta(days=30)
PAIR_MEMORY = timedelta(days=1)  # failures of one username from one address older than this are forgotten
MAX_BACKOFF = timedelta(hours=1)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def sees_contacts(account: AccountRecord, ticket_manager_id: str | None = None) -> bool:
    """Admins see phone numbers and e-mails; a manager sees them on the ticket they hold; others see them masked."""
    if account.role == ADMIN:
        return True
    return account.role == MANAGER and ticket_manager_id is not None and account.manager_id == ticket_manager_id


@dataclass(frozen=True, slots=True)
class LoginResult:
    status: str  # ok | invalid | locked
    account: AccountRecord | None = None
    session_token: str | None = None
    retry_after: float = 0.0  # seconds, when locked


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """Who an API token acts as, and what it may do."""

    account: AccountRecord
    token: ApiTokenRecord

    @property
    def read_only(self) -> bool:
        return self.token.scope == "read"


class Accounts:
    def __init__(self, store: Store, secret: bytes, *, session_hours: float = 12.0, max_failures: int = 5,
                 max_ip_failures: int = 20, window_minutes: float = 15.0, hasher: PasswordHasher | None = None,
                 backoff_seconds: float = 60.0, token_days: float = 90.0):
        self._store, self._secret = store, secret
        self.session_ttl = timedelta(hours=session_hours)
        self.max_failures, self.max_ip_failures = max_failures, max_ip_failures
        self.window = timedelta(minutes=window_minutes)
        self.backoff = timedelta(seconds=backoff_seconds)
        self.token_ttl = timedelta(days=token_days) if token_days > 0 else None
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None  # verified against for unknown usernames, so they take as long

    # ---------------------------------------------------------------- passwords

    async def hash_password(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify_password(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self.hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @staticmethod
    def check_password(password: str, username: str = "") -> None:
        """Refuse short, common and trivial passwords (`bot.passwords`)."""
        passwords.check(password, username)

    # ---------------------------------------------------------------- accounts

    async def create(self, username: str, role: str, password: str, manager_id: str | None = None) -> AccountRecord:
        """A new account; refused when the name, role, password or manager link is invalid or taken."""
        await self._check_account(username, role, manager_id)
        self.check_password(password, username)
        account = await self._store.console.create_account(username, role, await self.hash_password(password),
                                                          manager_id if role == MANAGER else None)
        if account is None:
            raise BadRequestError(f"the username {username!r} is taken")
        return account

    async def _check_account(self, username: str, role: str, manager_id: str | None) -> None:
        if not USERNAME.match(username):
            raise BadRequestError("a username is 2-64 letters, digits or _ . @ -")
        if role not in ROLES:
            raise BadRequestError(f"the role must be one of {', '.join(ROLES)}")
        if role == MANAGER and (not manager_id or await self._store.tickets.manager(manager_id) is None):
            raise BadRequestError("a manager account needs the id of a technology manager of the roster")

    async def update(self, account_id: int, *, role: str | None = None, manager_id: str | None = None,
                     active: bool | None = None, password: str | None = None) -> AccountRecord | None:
        """Change an account; a new password, a new role or deactivation ends its sessions; a new password
        or deactivation also revokes its API tokens."""
        current = await self._store.console.account(account_id)
        if current is None:
            return None
        values: dict[str, Any] = {}
        if role is not None:
            await self._check_account(current.username, role, manager_id or current.manager_id)
            values.update(role=role, manager_id=(manager_id or current.manager_id) if role == MANAGER else None)
        if active is not None:
            values["active"] = active
        if password is not None:
            self.check_password(password, current.username)
            values["password_hash"] = await self.hash_password(password)
        updated = await self._store.console.update_account(account_id, **values)
        if password is not None or role is not None or active is False:
            await self._store.console.delete_sessions(account_id=account_id)
        if password is not None or active is False:
            await self._store.console.revoke_tokens(account_id)
        return updated

    # ---------------------------------------------------------------- logins and sessions

    async def lock_wait(self, username: str, ip: str) -> float:
        """Seconds this username must wait from this address (0: it may try)."""
        now, console = utcnow(), self._store.console
        pair, last = await console.failures(now - PAIR_MEMORY, username=username, ip=ip)
        wait = timedelta(0)
        if pair >= self.max_failures and last is not None:
            backoff = min(MAX_BACKOFF, self.backoff * 2 ** min(pair - self.max_failures, 16))
            wait = max(wait, last + backoff - now)
        from_ip, last_ip = await console.failures(now - self.window, ip=ip, reset_by_success=False)
        if from_ip >= self.max_ip_failures and last_ip is not None:
            wait = max(wait, last_ip + self.window - now)
        return max(0.0, wait.total_seconds())

    async def locked(self, username: str, ip: str) -> bool:
        return await self.lock_wait(username, ip) > 0

    async def login(self, username: str, password: str, ip: str) -> LoginResult:
        """A session for the right password; refused (without checking it) while the pair or the address waits."""
        wait = await self.lock_wait(username, ip)
        if wait > 0:
            return LoginResult("locked", retry_after=wait)
        account = await self._store.console.account_by_name(username)
        if account is None and self._dummy is None:
            self._dummy = await self.hash_password(secrets.token_hex(16))
        ok = await self.verify_password(account.password_hash if account else str(self._dummy), password)
        ok = ok and account is not None and account.active
        await self._store.console.record_attempt(username, ip, ok)
        if not ok or account is None:
            return LoginResult("invalid")
        raw = secrets.token_urlsafe(32)
        await self._store.console.create_session(token_hash(raw), account.id, utcnow() + self.session_ttl, ip)
        await self._store.console.update_account(account.id, last_login_at=utcnow())
        await self.purge()
        if self.hasher.check_needs_rehash(account.password_hash):
            await self._store.console.update_account(account.id, password_hash=await self.hash_password(password))
        return LoginResult("ok", account, raw)

    async def session(self, raw: str) -> AccountRecord | None:
        return await self._store.console.session_account(token_hash(raw), utcnow()) if raw else None

    async def logout(self, raw: str) -> None:
        await self._store.console.delete_session(token_hash(raw))

    async def purge(self, now: datetime | None = None) -> None:
        """Drop expired sessions and login attempts older than a month (done at each successful login)."""
        now = now or utcnow()
        await self._store.console.delete_sessions(expired_before=now)
        await self._store.console.forget_attempts(now - KEEP_ATTEMPTS)

    # ---------------------------------------------------------------- API tokens and CSRF

    async def issue_token(self, account: AccountRecord, name: str = "", scope: str = "full",
                          days: float | None = None) -> str:
        """A new API token for the account; shown once, only its hash is stored. `days` (default: the
        configured lifetime; 0: never) sets when it expires."""
        if scope not in TOKEN_SCOPES:
            raise BadRequestError(f"the scope must be one of {', '.join(TOKEN_SCOPES)}")
        ttl = self.token_ttl if days is None else (timedelta(days=days) if days > 0 else None)
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self._store.console.create_token(account.id, token_hash(raw), name, scope,
                                              utcnow() + ttl if ttl else None)
        return raw

    async def grant(self, raw: str) -> TokenGrant | None:
        """The account and token behind a raw API token, unless it is unknown, revoked or expired."""
        if not raw.startswith(TOKEN_PREFIX):
            return None
        found = await self._store.console.token_grant(token_hash(raw), utcnow())
        return TokenGrant(*found) if found else None

    async def token(self, raw: str) -> AccountRecord | None:
        grant = await self.grant(raw)
        return grant.account if grant else None

    def csrf_token(self, session_raw: str) -> str:
        return hmac.new(self._secret, b"csrf:" + token_hash(session_raw).encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session_raw: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf_token(session_raw), str(given))
