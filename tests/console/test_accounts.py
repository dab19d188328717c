"""Accounts: argon2 password hashes, rate-limited logins (per account and per IP, kept in the database),
expiring server-side sessions in HttpOnly SameSite cookies, API tokens stored as hashes, the admin CLI."""
from __future__ import annotations

import argparse
import hashlib
import io
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from adapters.console.settings import ConsoleSettings
from bot import admin_cli
from bot.accounts import Accounts
from bot.errors import BadRequestError
from bot.settings import load_settings
from bot.store import Store
from bot.types import utcnow
from tests.console.conftest import FAST_HASHER, PASSWORD


async def test_passwords_are_stored_as_argon2id_hashes_that_verify_only_the_right_password(store):
    accounts = Accounts(store, b"k" * 32)  # the production hasher
    account = await accounts.create("ada", "admin", PASSWORD)
    stored = (await store.console.account_by_name("ada")).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored and "m=65536,t=3" in stored
    assert account.password_hash == stored
    assert await accounts.verify_password(stored, PASSWORD)
    assert not await accounts.verify_password(stored, PASSWORD + "!")
    assert not await accounts.verify_password("not a hash", PASSWORD)


async def test_weak_passwords_bad_names_roles_and_manager_links_are_refused(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER)
    for args in (("ada", "admin", "short"), ("a b", "admin", PASSWORD), ("ada", "root", PASSWORD),
                 ("mia", "manager", PASSWORD)):
        with pytest.raises(BadRequestError):
            await accounts.create(*args)
    await accounts.create("ada", "admin", PASSWORD)
    with pytest.raises(BadRequestError, match="taken"):
        await accounts.create("ada", "operator", PASSWORD)


async def test_logins_are_limited_per_account_and_address_then_per_address_and_kept_in_the_database(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER, max_failures=3, max_ip_failures=5)
    await accounts.create("ada", "admin", PASSWORD)
    results = [(await accounts.login("ada", "wrong password", "10.0.0.1")).status for _ in range(4)]
    assert results == ["invalid", "invalid", "invalid", "locked"]
    assert (await accounts.login("ada", PASSWORD, "10.0.0.1")).status == "locked"  # this pair waits
    fresh = Accounts(store, b"k" * 32, hasher=FAST_HASHER, max_failures=3, max_ip_failures=5)  # another worker
    assert (await fresh.login("ada", PASSWORD, "10.0.0.1")).status == "locked"
    assert (await fresh.login("ada", PASSWORD, "10.0.0.2")).status == "ok"  # from elsewhere she gets in
    for name in ("bob", "cy"):  # the first address tries other names until the address limit
        await fresh.login(name, "x", "10.0.0.1")
    assert (await fresh.login("dan", "x", "10.0.0.1")).status == "locked"
    later = Accounts(store, b"k" * 32, hasher=FAST_HASHER, max_failures=3, window_minutes=0.0001,
                     backoff_seconds=0.0001)
    assert (await later.login("ada", PASSWORD, "10.0.0.1")).status == "ok"  # the back-off has passed


async def test_a_success_resets_the_account_count_and_unknown_names_fail_like_wrong_passwords(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER, max_failures=3)
    await accounts.create("ada", "admin", PASSWORD)
    for _ in range(2):
        await accounts.login("ada", "wrong", "10.0.0.1")
    assert (await accounts.login("ada", PASSWORD, "10.0.0.1")).status == "ok"
    assert (await accounts.login("ada", "wrong", "10.0.0.1")).status == "invalid"
    assert (await accounts.login("nobody", PASSWORD, "10.0.0.1")).status == "invalid"


async def test_sessions_expire_and_end_on_logout_password_change_or_deactivation(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER)
    ada = await accounts.create("ada", "admin", PASSWORD)
    first = (await accounts.login("ada", PASSWORD, "ip")).session_token
    row_hash = hashlib.sha256(first.encode()).hexdigest()
    assert (await accounts.session(first)).username == "ada"
    assert await store.console.session_account(row_hash, utcnow() + timedelta(hours=13)) is None  # 12 h sessions
    await accounts.logout(first)
    assert await accounts.session(first) is None
    second = (await accounts.login("ada", PASSWORD, "ip")).session_token
    await accounts.update(ada.id, password="another long password")
    assert await accounts.session(second) is None
    third = (await accounts.login("ada", "another long password", "ip")).session_token
    await accounts.update(ada.id, active=False)
    assert await accounts.session(third) is None
    assert (await accounts.login("ada", "another long password", "ip")).status == "invalid"


async def test_api_tokens_are_stored_only_as_hashes_and_can_be_revoked(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER)
    ada = await accounts.create("ada", "admin", PASSWORD)
    raw = await accounts.issue_token(ada, "ci")
    assert raw.startswith("qdb_") and len(raw) > 40
    assert (await accounts.token(raw)).username == "ada"
    [token] = await store.console.tokens(ada.id)
    async with store.engine.connect() as conn:
        from sqlalchemy import text
        stored = (await conn.execute(text("SELECT token_hash FROM console_api_tokens"))).scalar_one()
    assert stored == hashlib.sha256(raw.encode()).hexdigest() and raw not in stored
    await store.console.revoke_token(token.id)
    assert await accounts.token(raw) is None


async def test_the_session_cookie_is_httponly_samesite_lax_and_secure_behind_an_https_public_url(tmp_path, settings):
    from tests.console.conftest import _console

    for public_url, secure in ((None, False), ("https://console.example.cn", True)):
        s = load_settings(qdbot_data_dir=settings.qdbot_data_dir, qdbot_public_url=public_url)
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / f'{secure}.db'}")
        c = await _console(store, s)
        await c.account("admin", "ada")
        resp = await c.client.post("/api/admin/login", json={"username": "ada", "password": PASSWORD})
        cookie = resp.cookies["qdbot_console"]
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
        assert bool(cookie["secure"]) is secure
        assert int(cookie["max-age"]) == 12 * 3600
        await c.client.close()
        await store.close()


async def test_a_locked_login_answers_429_and_is_audited(sqlite_console):
    c = sqlite_console
    c.channel.accounts.max_failures = 2
    await c.account("admin", "ada")
    codes = [(await c.client.post("/api/admin/login", json={"username": "ada", "password": "nope"})).status
             for _ in range(3)]
    assert codes == [401, 401, 429]
    actions = [a.action for a in await c.store.console.audit_log()]
    assert actions[:3] == ["login_locked", "login_invalid", "login_invalid"]


async def test_logout_ends_the_session(sqlite_console):
    c = sqlite_console
    await c.account("operator", "olga")
    csrf = await c.login("olga")
    assert (await c.client.get("/api/admin/me")).status == 200
    assert (await c.client.post("/api/admin/logout", headers={"X-CSRF-Token": csrf})).status == 200
    assert (await c.client.get("/api/admin/me")).status == 401


async def test_admins_manage_accounts_but_cannot_lock_themselves_out(sqlite_console):
    c = sqlite_console
    me = await c.api("GET", "/api/admin/me")
    created = await c.api("POST", "/api/admin/accounts", expect=201,
                          json={"username": "mia", "role": "manager", "manager_id": "bob", "password": PASSWORD})
    assert created["account"]["manager_id"] == "bob"
    await c.api("POST", "/api/admin/accounts", expect=400, json={"username": "x", "role": "manager", "password": PASSWORD,
                                                               "manager_id": "nobody"})
    updated = await c.api("POST", f"/api/admin/accounts/{created['account']['id']}", json={"role": "operator"})
    assert updated["account"]["role"] == "operator" and updated["account"]["manager_id"] is None
    await c.api("POST", f"/api/admin/accounts/{me['account']['id']}", expect=400, json={"active": "false"})
    token = await c.api("POST", f"/api/admin/accounts/{created['account']['id']}/tokens", expect=201, json={"name": "x"})
    assert (await c.client.get("/api/admin/me", headers={"Authorization": f"Bearer {token['token']}"})).status == 200
    listed = await c.api("GET", "/api/admin/accounts")
    assert [t["name"] for a in listed["accounts"] if a["username"] == "mia" for t in a["tokens"]] == ["x"]
    actions = [a.action for a in await c.store.console.audit_log()]
    assert {"account_create", "account_update", "token_issue"} <= set(actions)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    admin_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["admin", *argv])


async def test_the_cli_creates_the_first_admin_from_stdin_and_issues_a_token(settings, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert await admin_cli.run(_args("create", "--username", "root", "--role", "admin", "--password-stdin"), settings) == 0
    assert await admin_cli.run(_args("token", "--username", "root", "--name", "ci"), settings) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "created admin root" and out[1].startswith("qdb_")
    store = await Store.open(settings.db_url)
    try:
        assert (await Accounts(store, b"k").token(out[1])).username == "root"
        root = await store.console.account_by_name("root")
        assert PasswordHasher().verify(root.password_hash, PASSWORD)
    finally:
        await store.close()
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert await admin_cli.run(_args("create", "--username", "x", "--role", "admin", "--password-stdin"), settings) == 2
    assert await admin_cli.run(_args("token", "--username", "nobody"), settings) == 2


async def test_the_console_can_be_switched_off(sqlite_console):
    from adapters import console as console_pkg

    assert console_pkg.create(sqlite_console.app.engine, sqlite_console.app.settings,
                              ConsoleSettings(console_enabled=False)) is None
    assert console_pkg.create(sqlite_console.app.engine, sqlite_console.app.settings).name == "console"


async def test_a_successful_login_clears_expired_sessions_and_month_old_attempts(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER)
    ada = await accounts.create("ada", "admin", PASSWORD)
    await store.console.create_session("old", ada.id, utcnow() - timedelta(hours=1), "ip")
    await store.console.record_attempt("ada", "ip", False)
    await accounts.login("ada", PASSWORD, "ip")
    assert await store.console.delete_sessions(expired_before=utcnow()) == 0  # already gone
    assert await store.console.forget_attempts(utcnow() + timedelta(days=31)) == 2  # recent ones are kept


async def test_behind_a_trusted_proxy_the_login_limit_counts_the_forwarded_address(sqlite_console):
    c = sqlite_console
    c.channel.config = ConsoleSettings(console_trusted_proxies="127.0.0.1,::1")
    c.channel.accounts.max_ip_failures = 2
    for n in range(2):
        await c.client.post("/api/admin/login", json={"username": f"x{n}", "password": "nope"},
                            headers={"X-Forwarded-For": "203.0.113.7"})
    locked = await c.client.post("/api/admin/login", json={"username": "x9", "password": "nope"},
                                 headers={"X-Forwarded-For": "203.0.113.7"})
    other = await c.client.post("/api/admin/login", json={"username": "x9", "password": "nope"},
                                headers={"X-Forwarded-For": "198.51.100.1"})
    assert (locked.status, other.status) == (429, 401)
    assert [a.ip for a in await c.store.console.audit_log()][:2] == ["198.51.100.1", "203.0.113.7"]
