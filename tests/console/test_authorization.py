"""Who may call what: every /api/admin/ route, taken from the served OpenAPI document so that a new route
cannot be forgotten, refuses anonymous calls (401) and roles it does not admit (403); CSRF on cookie POSTs."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from adapters.console.openapi import PATHS
from tests.console.conftest import PASSWORD

ROLES = ("admin", "operator", "manager")


def _operations() -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, op) for path, item in PATHS.items() for method, op in item.items()]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_the_openapi_document_describes_exactly_the_routes_the_server_serves_under_api_admin(sqlite_console):
    console = sqlite_console
    doc = await console.api("GET", "/api/admin/openapi.json", role=None)
    assert doc["openapi"].startswith("3.") and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    served = {(r.method, r.resource.canonical) for r in console.client.app.router.routes()
              if r.resource is not None and r.resource.canonical.startswith("/api/admin") and r.method != "HEAD"}
    described = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert served == described
    for method, path, op in _operations():
        assert op["x-roles"] and set(op["x-roles"]) <= set(ROLES), (method, path)
        assert op["summary"] and "200" in op["responses"] or "201" in op["responses"]


async def test_every_protected_route_refuses_an_anonymous_call_with_401(sqlite_console):
    c, admitted = sqlite_console, []
    for method, path, op in _operations():
        if op.get("security") == []:
            continue
        resp = await c.client.request(method, _concrete(path), json={})
        body = await resp.json()
        if resp.status != 401 or body["code"] != "unauthorized" or not resp.headers["WWW-Authenticate"].startswith("Bearer"):
            admitted.append((method, path, resp.status))
    assert admitted == []
    assert len([op for _, _, op in _operations() if op.get("security") != []]) > 30


async def test_every_route_refuses_each_role_it_does_not_admit_with_403(sqlite_console):
    c, admitted, checked = sqlite_console, [], 0
    for method, path, op in _operations():
        for role in (r for r in ROLES if r not in op["x-roles"]):
            resp = await c.client.request(method, _concrete(path), json={},
                                          headers={"Authorization": f"Bearer {await c.token(role)}"})
            checked += 1
            if resp.status != 403 or (await resp.json())["code"] != "forbidden":
                admitted.append((method, path, role, resp.status))
    assert admitted == [] and checked >= 25  # ticket actions admit every role (issue 13)


async def test_the_roles_in_the_document_are_the_roles_the_handlers_enforce(sqlite_console):
    """The route table's handlers carry the roles their decorator enforces; the document says the same."""
    from adapters.console.channel import ROUTES

    for method, path, handler in ROUTES:
        if path.startswith("/api/admin") and hasattr(handler, "roles"):
            op = PATHS[path][method.lower()]
            assert set(handler.roles or ROLES) == set(op["x-roles"]), path


async def test_a_wrong_or_revoked_token_is_anonymous(sqlite_console):
    console = sqlite_console
    token = await console.token("admin")
    for bad in (token + "x", "qdb_" + "a" * 43, "not-even-a-token"):
        resp = await console.client.get("/api/admin/me", headers={"Authorization": f"Bearer {bad}"})
        assert resp.status == 401
    account = await console.store.console.account_by_name("admin1") or (await console.store.console.accounts())[0]
    for tk in await console.store.console.tokens(account.id):
        await console.store.console.revoke_token(tk.id)
    assert (await console.client.get("/api/admin/me", headers={"Authorization": f"Bearer {token}"})).status == 401


async def test_a_cookie_session_post_without_the_csrf_token_is_refused_and_with_it_goes_through(console):
    await console.account("operator", "olga")
    csrf = await console.login("olga")
    body = {"question": "新问题", "answer": "答复"}
    refused = await console.client.post("/api/admin/curated", json=body)
    assert refused.status == 403 and (await refused.json())["code"] == "csrf"
    wrong = await console.client.post("/api/admin/curated", json=body, headers={"X-CSRF-Token": csrf[:-2] + "00"})
    assert wrong.status == 403
    form = await console.client.post("/api/admin/curated", data={**body, "_csrf": "forged"}, allow_redirects=False)
    assert form.status == 403
    ok = await console.client.post("/api/admin/curated", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status == 201
    assert await console.store.console.curated_list() and len(await console.store.console.curated_list()) == 1


async def test_a_multipart_form_is_checked_on_its_first_part(sqlite_console):
    console = sqlite_console
    await console.account("operator", "otto")
    await console.login("otto")
    from aiohttp import FormData

    data = FormData()
    data.add_field("file", b"text", filename="a.txt")
    resp = await console.client.post("/api/admin/documents", data=data)
    assert resp.status == 403 and (await resp.json())["code"] == "csrf"


async def test_an_api_token_needs_no_csrf_token(sqlite_console):
    console = sqlite_console
    data = await console.api("POST", "/api/admin/curated", role="operator", expect=201,
                             json={"question": "问题", "answer": "答复"})
    assert data["curated"]["created_by"].startswith("operator")


async def test_the_login_form_needs_its_double_submit_token(sqlite_console):
    console = sqlite_console
    await console.account("admin", "ada")
    page = await console.client.get("/console/login")
    token = page.cookies["qdbot_login_csrf"].value
    assert f'value="{token}"' in await page.text()
    forged = await console.client.post("/api/admin/login", data={"username": "ada", "password": PASSWORD,
                                                                   "_csrf": "other"}, allow_redirects=False)
    assert forged.status == 403
    ok = await console.client.post("/api/admin/login", data={"username": "ada", "password": PASSWORD, "_csrf": token},
                                   allow_redirects=False)
    assert ok.status == 303 and ok.headers["Location"] == "/console/dashboard"
    assert (await console.client.get("/api/admin/me")).status == 200


async def test_pages_send_anonymous_visitors_to_the_login_page_and_refuse_other_roles(sqlite_console):
    console = sqlite_console
    resp = await console.client.get("/console/conversations?q=x", allow_redirects=False)
    location = urlsplit(resp.headers["Location"])
    assert resp.status == 303 and location.path == "/console/login"
    assert parse_qs(location.query)["next"] == ["/console/conversations?q=x"]
    await console.account("manager", "mia")
    await console.login("mia")
    assert (await console.client.get("/console/conversations")).status == 403
    assert (await console.client.get("/console/tickets")).status == 200
