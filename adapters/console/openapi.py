"""The OpenAPI 3.1 description of /api/admin/, written by hand (served at /api/admin/openapi.json).

Every operation names the roles it admits in `x-roles` (all three when any signed-in account may call
it); `security: []` marks the two public ones. A test keeps this document and the server's routes
equal, and calls every operation anonymously (401) and with a role it does not admit (403).
"""
from __future__ import annotations

from typing import Any

ADMIN, OPERATOR, MANAGER = "admin", "operator", "manager"
ALL = [ADMIN, OPERATOR, MANAGER]
STAFF = [ADMIN, OPERATOR]
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
ERRORS = {"400": "invalid input", "401": "not signed in", "403": "role not allowed or CSRF token missing",
          "404": "not found", "409": "not allowed in the current state"}


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {k: ({"type": v} if isinstance(v, str) else v) for k, v in props.items()}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
FILTERS = [
    _q("channel", "web, telegram, wecom, wecom_kf ...; cli and eval only when named"),
    _q("from", "first local day, YYYY-MM-DD"),
    _q("period", "today: since local midnight; 24h: the last 24 hours (replaces from)", {"enum": ["today", "24h"]}),
    _q("to", "last local day (included), YYYY-MM-DD"), _q("q", "keyword found in any message"),
    _q("handoff", "yes: handed to a technology manager; no: never", {"enum": ["yes", "no"]}),
    _q("feedback", "an answer was rated", {"enum": ["up", "down"]}),
    _q("unanswered", "1: some question got no answer"), _q("mode", "answer mode",
                                                             {"enum": ["llm", "extractive", "curated"]}),
]


def op(summary: str, roles: list[str], *, params: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
       content: tuple[str, ...] = (JSON, FORM), response: dict[str, Any] | None = None, ok: str = "200",
       public: bool = False) -> dict[str, Any]:
    """One operation: who may call it, what it takes, what it returns."""
    out: dict[str, Any] = {"summary": summary, "x-roles": roles, "parameters": params or [],
                           "responses": {ok: {"description": "OK", "content": {JSON: {"schema": response or _obj()}}},
                                         **{code: {"description": d} for code, d in ERRORS.items()}}}
    if public:
        out["security"] = []
    if body is not None:
        out["requestBody"] = {"required": True, "content": {c: {"schema": body} for c in content}}
    return out


TICKET_ACTIONS = {
    "claim": ("Claim a waiting ticket (first claim wins)", _obj()),
    "reply": ("Send a message to the user on their channel", _obj(text="string")),
    "note": ("Add an internal note (never shown to the user)", _obj(text="string")),
    "transfer": ("Transfer the ticket to another manager", _obj(to="string")),
    "resolve": ("Resolve with an outcome; the assistant answers again", _obj(outcome="string")),
    "hand_back": ("Hand the conversation back to the assistant", _obj()),
    "cancel": ("Cancel the ticket (the user is told; no rating asked)", _obj()),
}
STRINGS = {"type": "array", "items": {"type": "string"}}
CURATED_BODY = _obj(question="string", answer="string", examples=STRINGS, lang={"enum": ["zh", "en"]},
                    status={"enum": ["active", "retired"]},
                    gap_keys={**STRINGS, "description": "keys of the gap group the answer is written for"})
GAPS_BODY = _obj(keys={**STRINGS, "description": "question keys, as GET /api/admin/gaps lists them"},
                 questions={**STRINGS, "description": "or the questions' wordings"})
ACCOUNT_BODY = _obj(username="string", role={"enum": ALL}, password="string", manager_id="string",
                    active="boolean")
UPLOAD_BODY = {"type": "object", "required": ["file"],
               "properties": {"file": {"type": "string", "format": "binary"}}}

PATHS: dict[str, dict[str, Any]] = {
    "/api/admin/openapi.json": {"get": op("This document", ALL, public=True)},
    "/api/admin/login": {"post": op("Sign in; sets the session cookie and returns the CSRF token", ALL, public=True,
                                    body=_obj(username="string", password="string"),
                                    response=_obj(account=_ref("Account"), csrf="string"))},
    "/api/admin/logout": {"post": op("Sign out (ends the session)", ALL, body=_obj())},
    "/api/admin/me": {"get": op("The calling account", ALL, response=_obj(account=_ref("Account"), csrf="string"))},
    "/api/admin/dashboard": {"get": op("Dashboard figures of the last `days` days", STAFF,
                                       params=[_q("days", "1-366, default 30", {"type": "integer"})])},
    "/api/admin/accounts": {"get": op("Accounts and their API tokens", [ADMIN]),
                            "post": op("Create an account", [ADMIN], body=ACCOUNT_BODY, ok="201")},
    "/api/admin/accounts/{id}": {"post": op("Change role, manager link, password or active", [ADMIN],
                                            params=[ID], body=ACCOUNT_BODY)},
    "/api/admin/accounts/{id}/tokens": {"post": op("Issue an API token (shown once): name, scope full|read, "
                                                   "days until it expires (0: never)", [ADMIN], params=[ID],
                                                   body=_obj(name="string", scope={"enum": ["full", "read"]},
                                                             days="number"), ok="201",
                                                   response=_obj(token="string"))},
    "/api/admin/tokens": {"get": op("Every API token: account, name, scope, created, last used, expiry, revoked",
                                    [ADMIN], response=_obj(tokens={"type": "array"}))},
    "/api/admin/tokens/{id}/revoke": {"post": op("Revoke an API token", [ADMIN], params=[ID], body=_obj())},
    "/api/admin/audit": {"get": op("The audit log, newest first (200 a page)", [ADMIN],
                                   params=[_q("before", "entries before this id"), _q("action", "only this action")])},
    "/api/admin/conversations": {"get": op("Conversations, newest activity first, keyset pages", STAFF,
                                           params=[*FILTERS, _q("cursor", "next_cursor of the previous page")],
                                           response=_obj(conversations={"type": "array"}, next_cursor="string"))},
    "/api/admin/conversations/{id}": {"get": op("A transcript: every turn, passages, citations, tickets (audited)",
                                                STAFF, params=[ID])},
    "/api/admin/export": {"get": op("Export the filtered conversations, personal data masked (audited)", STAFF,
                                    params=[*FILTERS, _q("format", "csv or jsonl", {"enum": ["csv", "jsonl"]})])},
    "/api/admin/tickets": {"get": op("Waiting and active tickets (view=queue) or closed ones with SLA (view=history)",
                                     ALL, params=[_q("view", "queue or history"), _q("days", "history period")])},
    "/api/admin/tickets/events": {"get": op("Server-sent events: a ticket changed", ALL,
                                            response={"type": "string", "description": "text/event-stream"})},
    "/api/admin/tickets/{id}": {"get": op("A ticket with its card, history and transcript", ALL, params=[ID])},
    **{f"/api/admin/tickets/{{id}}/{name}": {"post": op(summary, ALL, params=[ID], body=body)}
       for name, (summary, body) in TICKET_ACTIONS.items()},
    "/api/admin/managers": {"get": op("The roster of technology managers", ALL)},
    "/api/admin/documents": {"get": op("Knowledge-base documents", STAFF),
                             "post": op("Upload and ingest a document", STAFF, body=UPLOAD_BODY,
                                        content=(MULTIPART,))},
    "/api/admin/documents/{id}/replace": {"post": op("Replace a document by a new file", STAFF, params=[ID],
                                                     body=UPLOAD_BODY, content=(MULTIPART,))},
    "/api/admin/documents/{id}/reingest": {"post": op("Read the document's file again", STAFF, params=[ID],
                                                      body=_obj())},
    "/api/admin/documents/{id}/delete": {"post": op("Remove the document from every index", STAFF, params=[ID],
                                                    body=_obj())},
    "/api/admin/documents/{id}/identity": {"post": op(
        "Correct the document's title, issuer, region, 文号 or dates (empty: back to what ingest read); "
        "the document is indexed again", STAFF, params=[ID],
        body=_obj(title="string", issuer="string", region="string", doc_number="string", issued="string",
                  effective="string", expires="string"))},
    "/api/admin/documents/{id}/chunks": {"get": op(
        "The document's indexed chunks in reading order: position, section path, article, region, characters, "
        "text, flagged sentences", STAFF,
        params=[ID, _q("offset", "chunks to skip, default 0", {"type": "integer", "minimum": 0}),
                _q("limit", "chunks per page, 1-200, default 50", {"type": "integer", "minimum": 1, "maximum": 200})],
        response=_obj(document="object", total="integer", offset="integer", limit="integer",
                      next_offset="integer", chunks={"type": "array"}))},
    "/api/admin/documents/{id}/status": {"post": op("Set the document's policy status (empty: automatic) and successor", STAFF,
                                                    params=[ID], body=_obj(status="string", successor="string"))},
    "/api/admin/calendar/{id}": {"post": op("Correct an application calendar entry (it is then kept across re-ingests)",
                                            STAFF, params=[ID], body=_obj(what="string", who="string", opens="string",
                                                                          closes="string", recurrence="string",
                                                                          hidden="boolean"))},
    "/api/admin/support/{id}": {"post": op(
        "Correct a support item (conditions: one `field op value` per line); it is then kept across re-ingests",
        STAFF, params=[ID], body=_obj(what="string", amount="number", ratio="number", cap="number",
                                      district="string", conditions="string", state="string"))},
    "/api/admin/support/{id}/state": {"post": op("Publish (published), withdraw (draft) or hide (hidden) a support item",
                                                 STAFF, params=[ID], body=_obj(state="string"))},
    "/api/admin/notices/pause": {"post": op("Pause (paused=1) or resume (paused=0) the subscribers' notices", STAFF,
                                            body=_obj(paused="boolean"))},
    "/api/admin/try": {"post": op("What the assistant would answer, with its passages (nothing stored)", STAFF,
                                  body=_obj(question="string"))},
    "/api/admin/gaps": {"get": op("Unanswered, low-confidence and 👎 questions grouped by similarity, in one state "
                                  "(each group lists its question `keys`; `counts` per state)", STAFF,
                                  params=[_q("days", "period, default 30", {"type": "integer"}),
                                          _q("state", "open (default), answered or dismissed",
                                             {"enum": ["open", "answered", "dismissed"]})])},
    "/api/admin/gaps/dismiss": {"post": op("Dismiss gap questions: one group's or many groups' keys at once, or "
                                           "questions by their wording (audited)", STAFF, body=GAPS_BODY,
                                           response=_obj(dismissed="integer", keys={"type": "array"}))},
    "/api/admin/gaps/reopen": {"post": op("Reopen dismissed gap questions (audited)", STAFF, body=GAPS_BODY,
                                          response=_obj(reopened="integer", keys={"type": "array"}))},
    "/api/admin/curated": {"get": op("Curated answers", STAFF, params=[_q("status", "active or retired")]),
                           "post": op("Write a curated answer", STAFF, body=CURATED_BODY, ok="201")},
    "/api/admin/curated/{id}": {"post": op("Edit a curated answer", STAFF, params=[ID], body=CURATED_BODY)},
    "/api/admin/curated/{id}/retire": {"post": op("Retire a curated answer", STAFF, params=[ID], body=_obj())},
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Qingdao innovation-policy assistant: operator console API", "version": "1",
                 "description": "Call with `Authorization: Bearer <token>` (`qdbot admin token`). Browser sessions "
                                "use the session cookie and send the CSRF token (X-CSRF-Token) on every POST."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "session": {"type": "apiKey", "in": "cookie", "name": "qdbot_console"}},
            "schemas": {"Account": _obj(id="integer", username="string", role={"enum": ALL}, manager_id="string",
                                        active="boolean", created_at="string", last_login_at="string")},
        },
    }
