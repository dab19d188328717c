"""A loopback fake of the WeCom API (self-built app and WeChat Customer Service) for tests.

It speaks the real wire format (JSON bodies, ``errcode``/``errmsg``, ``access_token`` in the
query) so adapters run unchanged against ``fake.base_url``::

    async with FakeWeCom() as fake:
        fake.add_kf_message("wkKF", "wmUser", "你好")
        fake.fail_next("/cgi-bin/message/send", 42001)

Endpoints: gettoken, message/send, kf/sync_msg, kf/send_msg, kf/send_msg_on_event,
kf/service_state/get and /trans, kf/servicer/list (the kf half lives in ``wecom_kf``). Every
request is recorded in ``fake.calls``; ``fail_next`` answers an errcode instead of handling, and
``lose_response_next`` handles but answers HTTP 502 (a retry must then be idempotent).
Time is ``fake.now()``; ``fake.advance(seconds)`` moves it (token expiry, quotas, codes).

Semantics worth knowing: gettoken returns the same token while it is valid (with the seconds
left as ``expires_in``); text over 2048 UTF-8 bytes is cut, not refused (``Delivery.truncated``);
a kf ``msgid`` already sent answers errcode 0 and is not delivered again; kf/send_msg needs state
0 or 1 and a customer message in the last 48 h, after which 5 sends are allowed; a session never
started is state 4 and a customer message turns 4 into 0; ``TRANSITIONS`` is the state table.

Error codes 40001, 40008, 40013, 40014, 40056, 41001, 42001, 45009, 47001, 60020, 95000, 95001
and 95018 follow WeCom's documentation. Where it is silent this fake chooses: 95007 for a missing,
expired or foreign sync_msg token, 95014 for a servicer who is not receiving, 95016 for a
transition the state table forbids, 40058 for a bad cursor, limit, msgid, state or event code.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web

from adapters.wecom.crypto import WeComCrypto
from adapters.wecom.xml import build_xml
from .loopback import LoopbackServer
from .wecom_kf import QUOTA, TEXT_LIMIT, TRANSITIONS, FakeKf  # noqa: F401  (re-exported)

TOKEN_TTL = 7200
ROUTES = {"/cgi-bin/" + api: "_" + api.replace("/", "_") for api in (
    "gettoken", "message/send", "kf/sync_msg", "kf/send_msg", "kf/send_msg_on_event",
    "kf/service_state/get", "kf/service_state/trans", "kf/servicer/list")}
_BAD_JSON = object()
_ERRMSG = {0: "ok", 40001: "invalid credential", 40013: "invalid corpid",
           40008: "invalid message type", 40014: "invalid access_token", 40056: "invalid agentid", 40058: "invalid parameter",
           41001: "access_token missing", 42001: "access_token expired",
           45009: "api freq out of limit", 47001: "data format error",
           60020: "not allow to access from your ip", 95000: "invalid open_kfid",
           95001: "send msg count limit", 95007: "invalid msg token",
           95014: "servicer is not receiving", 95016: "service state transition not allowed",
           95018: "send msg session status invalid"}


@dataclass
class Call:
    """One request and the JSON the fake answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    response: dict


@dataclass
class Delivery:
    """A message the fake accepted: what the recipient sees is ``text``."""

    kind: str  # "message" (message/send), "kf" (kf/send_msg), "kf_event" (send_msg_on_event)
    body: dict
    text: str
    truncated: bool
    msgid: str


def _reply(errcode: int, **fields: Any) -> dict:
    return {"errcode": errcode, "errmsg": _ERRMSG.get(errcode, "error"), **fields}


def cut_utf8(text: str, limit: int = TEXT_LIMIT) -> tuple[str, bool]:
    """Cut ``text`` to at most ``limit`` UTF-8 bytes without splitting a character."""
    raw = text.encode("utf-8")
    return (text, False) if len(raw) <= limit else (raw[:limit].decode("utf-8", "ignore"), True)


class FakeWeCom(FakeKf, LoopbackServer):
    """Loopback WeCom API on 127.0.0.1 and a free port."""

    handler_cancellation = False  # a handler finishes its work although the client went away
    shutdown_timeout = 60.0

    _reply = staticmethod(_reply)

    def __init__(self, *, corp_id: str = "wwfakecorp", secret: str = "fake-secret",
                 agent_id: int = 1000002) -> None:
        self.corp_id, self.secrets, self.agent_id = corp_id, {secret}, agent_id
        self.calls: list[Call] = []
        self.deliveries: list[Delivery] = []
        self.delay = 0.0  # seconds added to every request
        self.slow: dict[str, float] = {}  # per-path delay, overrides ``delay``
        self.page_cap = 1000  # sync_msg returns at most this many, whatever the limit
        LoopbackServer.__init__(self)
        self._offset = 0.0
        self._ids = itertools.count(1)
        self._faults: dict[str, deque[int]] = defaultdict(deque)
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (secret, expiry)
        self._lost: dict[str, int] = defaultdict(int)
        self._init_kf()
        self._changed: asyncio.Condition | None = None

    # --- control API ----------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward (tokens, codes and quota windows expire)."""
        self._offset += seconds

    def expire_tokens(self) -> None:
        """Expire every access_token issued so far: using one now answers 42001."""
        self._tokens = {t: (s, 0.0) for t, (s, _) in self._tokens.items()}

    def fail_next(self, path: str, errcode: int, n: int = 1) -> None:
        """Answer the next ``n`` requests to ``path`` with ``errcode`` (before any checks)."""
        if path not in ROUTES:
            raise ValueError(f"unknown path {path!r}; expected one of {sorted(ROUTES)}")
        self._faults[path].extend([errcode] * n)

    def lose_response_next(self, path: str, n: int = 1) -> None:
        """Handle the next ``n`` requests to ``path`` normally, then answer HTTP 502 instead of
        their JSON (the work is done; the caller cannot know it)."""
        if path not in ROUTES:
            raise ValueError(f"unknown path {path!r}; expected one of {sorted(ROUTES)}")
        self._lost[path] += n

    def sent(self, kind: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.kind == kind]

    def calls_to(self, path: str, *, ok: bool = False) -> list[Call]:
        return [c for c in self.calls
                if c.path == path and (not ok or c.response.get("errcode") == 0)]

    @property
    def token_calls(self) -> int:
        return len(self.calls_to("/cgi-bin/gettoken"))

    async def wait_for(self, path: str, count: int = 1, timeout: float = 5.0, *,
                       ok: bool = False) -> list[Call]:
        """Wait until ``count`` requests to ``path`` (only successful ones with ``ok``)."""
        assert self._changed is not None, "start the fake first"
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(
                lambda: len(self.calls_to(path, ok=ok)) >= count), timeout)
        return self.calls_to(path, ok=ok)

    # --- server ---------------------------------------------------------------------------

    async def start(self) -> Self:
        self._changed = asyncio.Condition()
        return await super().start()

    def routes(self, app: web.Application) -> None:
        for path in ROUTES:
            app.router.add_route("*", path, self._dispatch)

    async def _dispatch(self, request: web.Request) -> web.Response:
        path = request.path
        handler = getattr(self, ROUTES[path])
        await asyncio.sleep(self.slow.get(path, self.delay))
        query, body = dict(request.query), await self._body(request)
        response = self._gate(path, query, body) or handler(query, body or {})
        self.calls.append(Call(request.method, path, query, body, response))
        async with self._changed:
            self._changed.notify_all()
        if self._lost[path]:
            self._lost[path] -= 1
            return web.Response(status=502, text="bad gateway (fake: response lost)")
        return web.json_response(response, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    @staticmethod
    async def _body(request: web.Request) -> Any:
        raw = await request.read()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return _BAD_JSON

    def _gate(self, path: str, query: dict, body: Any) -> dict | None:
        if self._faults[path]:
            return _reply(self._faults[path].popleft())
        if body is _BAD_JSON or (body is not None and not isinstance(body, dict)):
            return _reply(47001)
        if path == "/cgi-bin/gettoken":
            return None
        if "access_token" not in query:
            return _reply(41001)
        _, expiry = self._tokens.get(query["access_token"], ("", None))
        if expiry is None:
            return _reply(40014)
        return _reply(42001) if expiry <= self.now() else None

    # --- handlers (named after their path) ------------------------------------------------

    def _gettoken(self, query: dict, body: dict) -> dict:
        if query.get("corpid") != self.corp_id:
            return _reply(40013)
        secret = query.get("corpsecret", "")
        if secret not in self.secrets:
            return _reply(40001)
        live = [(t, e) for t, (s, e) in self._tokens.items() if s == secret and e > self.now()]
        token, expiry = live[0] if live else (f"tok{next(self._ids)}", self.now() + TOKEN_TTL)
        self._tokens[token] = (secret, expiry)  # within its validity the same token comes back
        return _reply(0, access_token=token, expires_in=round(expiry - self.now()))

    def _message_send(self, query: dict, body: dict) -> dict:
        if body.get("agentid") != self.agent_id:
            return _reply(40056)
        msgtype = body.get("msgtype")
        if msgtype not in ("text", "markdown") or not isinstance(body.get(msgtype), dict):
            return _reply(40008)
        limit = TEXT_LIMIT if msgtype == "text" else 2 * TEXT_LIMIT
        msgid = self._deliver("message", body, limit, None)
        return _reply(0, invaliduser="", invalidparty="", invalidtag="", msgid=msgid)

    def _deliver(self, kind: str, body: dict, limit: int, msgid: str | None) -> str:
        part = body[body["msgtype"]]
        text, cut = cut_utf8(str(part.get("content", part.get("head_content", ""))), limit)
        msgid = msgid or f"fakemsg{next(self._ids)}"
        self.deliveries.append(Delivery(kind, body, text, cut, msgid))
        if kind != "message":
            self._kf_msgids.add(msgid)
        return msgid












def callback_request(crypto: WeComCrypto, inner_xml: str, timestamp: str | None = None,
                     nonce: str = "1372623149", agent_id: int | None = None,
                     ) -> tuple[dict[str, str], bytes]:
    """Build an encrypted callback POST as WeCom sends it: (query params, body)."""
    timestamp = timestamp or str(int(time.time()))
    encrypt = crypto.encrypt(inner_xml)
    fields: dict[str, str | int] = {"ToUserName": crypto.receive_id, "Encrypt": encrypt}
    if agent_id is not None:
        fields["AgentID"] = agent_id
    query = {"msg_signature": crypto.signature(timestamp, nonce, encrypt),
             "timestamp": timestamp, "nonce": nonce}
    return query, build_xml(fields).encode("utf-8")


def verification_request(crypto: WeComCrypto, echo: str, timestamp: str | None = None,
                         nonce: str = "263014780") -> dict[str, str]:
    """The query params of a URL-verification GET whose answer must be ``echo``."""
    timestamp = timestamp or str(int(time.time()))
    echostr = crypto.encrypt(echo)
    return {"msg_signature": crypto.signature(timestamp, nonce, echostr),
            "timestamp": timestamp, "nonce": nonce, "echostr": echostr}
