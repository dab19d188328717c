"""Security findings of issue 12 on the console: login throttling that cannot lock a user out from
elsewhere (8), a password rule that refuses common and trivial passwords (10), API tokens that are
listed, scoped, expiring and revocable (6), and role changes audited with old and new values (14)."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest

from bot import admin_cli
from bot.accounts import Accounts
from bot.errors import BadRequestError
from bot.store import Store
from bot.types import utcnow
from tests.console.conftest import FAST_HASHER, PASSWORD
from tests.console.test_accounts import _args


# ---------------------------------------------------------------- 8: login throttling

async def test_an_anonymous_client_elsewhere_cannot_lock_a_user_out(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER, max_failures=5, max_ip_failures=1000)
    await accounts.create("ada", "admin", PASSWORD)
    for _ in range(50):  # an attacker hammers her account from one address
        await accounts.login("ada", "guess", "198.51.100.66")
    assert (await accounts.login("ada", PASSWORD, "198.51.100.66")).status == "locked"
    assert (await accounts.login("ada", PASSWORD, "10.0.0.7")).status == "ok"  # her own address is not affected


async def test_the_back_off_doubles_with_every_further_failure_of_the_pair(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER, max_failures=3, max_ip_failures=1000,
                        backoff_seconds=60)
    for _ in range(3):
        await store.console.record_attempt("ada", "10.0.0.1", False)
    waits = []
    for _ in range(4):
        waits.append(await accounts.lock_wait("ada", "10.0.0.1"))
        await store.console.record_attempt("ada", "10.0.0.1", False)
    assert [round(w / 60) for w in waits] == [1, 2, 4, 8]
    for _ in range(20):
        await store.console.record_attempt("ada", "10.0.0.1", False)
    assert 3590 < await accounts.lock_wait("ada", "10.0.0.1") <= 3600  # at most an hour
    assert await accounts.lock_wait("ada", "10.0.0.2") == 0


async def test_attempts_refused_while_locked_are_not_counted_as_failures(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER, max_failures=2, max_ip_failures=1000)
    for _ in range(2):
        await accounts.login("ada", "guess", "10.0.0.1")
    for _ in range(10):
        assert (await accounts.login("ada", "guess", "10.0.0.1")).status == "locked"
    assert (await store.console.failures(utcnow() - timedelta(hours=1), username="ada", ip="10.0.0.1"))[0] == 2


async def test_a_success_from_an_address_does_not_wash_its_failures_for_other_accounts(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER, max_failures=5, max_ip_failures=6)
    await accounts.create("eve", "operator", PASSWORD)  # the attacker's own account
    statuses = []
    for n in range(12):
        statuses.append((await accounts.login(f"victim{n}", "guess", "203.0.113.9")).status)
        if n % 2:
            await store.console.record_attempt("eve", "203.0.113.9", True)  # a success in between
    assert statuses.count("invalid") == 6 and statuses[6:] == ["locked"] * 6


async def test_a_locked_login_says_when_to_try_again(sqlite_console):
    c = sqlite_console
    c.channel.accounts.max_failures = 1
    await c.account("admin", "ada")
    await c.client.post("/api/admin/login", json={"username": "ada", "password": "nope"})
    locked = await c.client.post("/api/admin/login", json={"username": "ada", "password": PASSWORD})
    assert locked.status == 429 and 1 <= int(locked.headers["Retry-After"]) <= 60


# ---------------------------------------------------------------- 10: password rule

@pytest.mark.parametrize("password", [
    "1234567890", " " * 10, "\0" * 10, "aaaaaaaaaaaa", "abababababab", "0987654321", "qwertyuiop", "abcdefghijk",
    "password123", "Password2024!", "iloveyou1314", "passwordpassword", "woaini1314520", "1qaz2wsx3edc",
    "zero\u200bwidth-password", " leading space ok?", "short",
])
def test_common_and_trivial_passwords_are_refused(password):
    with pytest.raises(BadRequestError):
        Accounts.check_password(password)


@pytest.mark.parametrize("password", ["correct horse battery", "Tr0ub4dor&3x-ok", "海上丝绸之路2035年目标"])
def test_long_unusual_passwords_are_accepted(password):
    Accounts.check_password(password)


async def test_a_password_containing_the_username_is_refused_on_create_and_change(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER)
    with pytest.raises(BadRequestError, match="username"):
        await accounts.create("zhangwei", "admin", "zhangwei-is-great")
    ada = await accounts.create("adaline", "admin", PASSWORD)
    with pytest.raises(BadRequestError, match="common"):
        await accounts.update(ada.id, password="1234567890")


# ---------------------------------------------------------------- 6: API tokens

async def test_a_token_expires_and_a_read_only_token_cannot_write(sqlite_console):
    c = sqlite_console
    ada = await c.channel.accounts.create("ada", "admin", PASSWORD)
    reader = await c.channel.accounts.issue_token(ada, "dashboards", scope="read")
    auth = {"Authorization": f"Bearer {reader}"}
    assert (await c.client.get("/api/admin/conversations", headers=auth)).status == 200
    refused = await c.client.post("/api/admin/curated", json={"question": "问", "answer": "答"}, headers=auth)
    assert refused.status == 403 and (await refused.json())["code"] == "read_only"
    [token] = await c.store.console.tokens(ada.id)
    assert token.scope == "read" and timedelta(days=89) < token.expires_at - utcnow() <= timedelta(days=90)
    short = await c.channel.accounts.issue_token(ada, "one-off", days=0.00001)  # about a second
    from sqlalchemy import update
    from bot.store.models import ApiTokenRow
    async with c.store._session() as s, s.begin():  # its expiry is in the past now
        await s.execute(update(ApiTokenRow).where(ApiTokenRow.name == "one-off")
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await c.client.get("/api/admin/me", headers={"Authorization": f"Bearer {short}"})).status == 401


async def test_tokens_are_listed_and_revoked_in_the_console(sqlite_console):
    c = sqlite_console
    ada = await c.channel.accounts.create("ada", "operator", PASSWORD)
    raw = await c.channel.accounts.issue_token(ada, "ci")
    listed = await c.api("GET", "/api/admin/tokens")
    [mine] = [tk for tk in listed["tokens"] if tk["username"] == "ada"]
    assert (mine["name"], mine["scope"], mine["valid"], mine["revoked"]) == ("ci", "full", True, False)
    assert raw not in str(listed)
    await c.api("POST", f"/api/admin/tokens/{mine['id']}/revoke", json={})
    assert (await c.client.get("/api/admin/me", headers={"Authorization": f"Bearer {raw}"})).status == 401
    assert "token_revoke" in [a.action for a in await c.store.console.audit_log()]
    page = await c.api("GET", "/console/accounts")  # the page lists it, revoked, with no revoke button
    assert "ci" in page and f"/api/admin/tokens/{mine['id']}/revoke" not in page


async def test_a_password_change_or_deactivation_revokes_tokens_and_reactivation_brings_none_back(store):
    accounts = Accounts(store, b"k" * 32, hasher=FAST_HASHER)
    ada = await accounts.create("ada", "admin", PASSWORD)
    first = await accounts.issue_token(ada, "a")
    await accounts.update(ada.id, password="another long password")
    assert await accounts.token(first) is None
    second = await accounts.issue_token(ada, "b")
    await accounts.update(ada.id, active=False)
    await accounts.update(ada.id, active=True)
    assert await accounts.token(second) is None
    assert all(tk.revoked for tk in await store.console.tokens(ada.id))


async def test_the_cli_issues_scoped_expiring_tokens_lists_and_revokes_them(settings, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert await admin_cli.run(_args("create", "--username", "root", "--role", "admin", "--password-stdin"), settings) == 0
    assert await admin_cli.run(_args("token", "--username", "root", "--name", "grafana", "--scope", "read",
                                     "--days", "7"), settings) == 0
    raw = capsys.readouterr().out.splitlines()[-1]
    assert await admin_cli.run(_args("tokens"), settings) == 0
    [line] = capsys.readouterr().out.splitlines()
    token_id, user, name, scope, _expires, _used, state = line.split("\t")
    assert (user, name, scope, state) == ("root", "grafana", "read", "valid") and raw not in line
    assert await admin_cli.run(_args("revoke-token", token_id), settings) == 0
    assert await admin_cli.run(_args("tokens", "--username", "root"), settings) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("\trevoked")
    assert await admin_cli.run(_args("revoke-token", "999"), settings) == 2
    assert await admin_cli.run(_args("deactivate", "--username", "root"), settings) == 0
    store = await Store.open(settings.db_url)
    try:
        assert await Accounts(store, b"k").token(raw) is None
    finally:
        await store.close()


# ---------------------------------------------------------------- 14: role changes audited with old and new values

async def test_a_role_change_is_audited_with_its_old_and_new_values(sqlite_console):
    c = sqlite_console
    created = await c.api("POST", "/api/admin/accounts", expect=201,
                          json={"username": "mia", "role": "manager", "manager_id": "bob", "password": PASSWORD})
    await c.api("POST", f"/api/admin/accounts/{created['account']['id']}", json={"role": "operator"})
    [entry] = await c.store.console.audit_log(1, action="account_update")
    assert entry.detail["old"] == {"role": "manager", "manager_id": "bob"}
    assert entry.detail["new"] == {"role": "operator", "manager_id": None}


# ---------------------------------------------------------------- 3: staff cannot act as a web user

async def test_staff_never_see_a_web_users_secret_and_what_they_see_opens_nothing(console):
    from tests.console.seed import INTAKE

    c = console
    page = await c.client.get("/")  # the browser gets its secret in an HttpOnly, SameSite=Strict cookie
    cookie = page.cookies["qdbot_chat"]
    secret = cookie.value
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    for text in ("/human", *INTAKE):
        resp = await c.client.post("/api/chat", json={"text": text})
        assert resp.status == 200
    [ticket] = await c.store.tickets.list(("waiting",))
    await c.api("POST", f"/api/admin/tickets/{ticket.id}/claim", role="manager", json={})
    seen = [await c.api("GET", "/api/admin/conversations"),
            await c.api("GET", f"/api/admin/conversations/{ticket.conversation_id}"),
            await c.api("GET", "/api/admin/export?format=csv"), await c.api("GET", "/api/admin/export?format=jsonl"),
            await c.api("GET", f"/api/admin/tickets/{ticket.id}", role="manager"),
            await c.api("GET", f"/console/conversations/{ticket.conversation_id}")]
    assert not any(secret in str(s) for s in seen)
    shown = {m["author"] for m in seen[4]["messages"] if m["role"] == "user"} | {seen[0]["conversations"][0]["user"]}
    before = await c.store.count_messages()
    c.client.session.cookie_jar.clear()  # the staff member's own browser: no cookie of the user
    for ident in shown:
        assert ident.startswith("w") and len(ident) == 33
        resp = await c.client.get("/api/chat/history", headers={"X-Chat-Session": ident})
        assert (await resp.json())["messages"] == []
        await c.client.post("/api/chat", json={"session_id": ident, "text": "我是用户本人，请把电话发给我"})
    holder = await c.api("GET", f"/api/admin/tickets/{ticket.id}", role="manager")
    assert "请把电话发给我" not in str(holder)  # nothing reached the user's open handoff
    assert await c.store.count_messages() > before  # (the posts went to new, empty conversations instead)
    own = await c.client.get("/api/chat/history", headers={"X-Chat-Session": secret})
    assert any("13812345678" == m["text"] for m in (await own.json())["messages"])  # the user still sees it all


async def test_a_session_id_in_a_query_string_is_refused(console):
    resp = await console.client.get("/api/chat/history", params={"session_id": "sess-0001-abcd"})
    assert resp.status == 400 and (await resp.json())["code"] == "session_in_query"


async def test_a_cookie_session_needs_a_json_request(console):
    await console.client.get("/")
    form = await console.client.post("/api/chat", data='{"text": "你好"}',  # what a cross-site form could send
                                     headers={"Content-Type": "text/plain"})
    assert form.status == 415 and await console.store.count_messages() == 0


# ---------------------------------------------------------------- 4 and 14: masked search, audited

async def test_an_operator_cannot_recover_a_masked_phone_by_searching_for_its_hidden_digits(console):
    from tests.console.conftest import say

    await say(console, "我的电话是13812345678，请联系我", chat="victim")
    await say(console, "青岛计划建设多少家概念验证平台？", chat="other")
    found = lambda data: [c["id"] for c in data["conversations"]]  # noqa: E731
    probes = ["1381", "3812", "8123", "12345678", "13812345678", "@", "381"]
    for q in probes:  # each would narrow the hidden digits down if it matched the raw text
        data = await console.api("GET", "/api/admin/conversations", role="operator", params={"q": q})
        assert found(data) == [], q
    masked = await console.api("GET", "/api/admin/conversations", role="operator", params={"q": "138****5678"})
    visible = await console.api("GET", "/api/admin/conversations", role="operator", params={"q": "5678"})
    assert len(found(masked)) == len(found(visible)) == 1  # what an operator can see, they can search
    admin = await console.api("GET", "/api/admin/conversations", role="admin", params={"q": "12345678"})
    assert len(found(admin)) == 1  # an admin sees contacts, so searches them
    export = await console.api("GET", "/api/admin/export", role="admin", params={"q": "12345678"})
    assert "138****5678" not in export  # exports are masked for everyone, so filtered on masked text
    searches = [a for a in await console.store.console.audit_log(100, action="search")]
    assert len(searches) == len(probes) + 3 and {a.detail["filter"]["keyword"] for a in searches} >= set(probes)


async def test_list_and_gap_views_are_audited(console):
    await console.api("GET", "/api/admin/conversations", role="operator")
    await console.api("GET", "/console/conversations", role="operator")
    await console.api("GET", "/api/admin/gaps", role="operator")
    actions = [a.action for a in await console.store.console.audit_log(10)]
    assert actions.count("list_conversations") == 2 and "view_gaps" in actions
