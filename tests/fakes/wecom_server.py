"""A loopback fake of the WeCom API (self-built app and WeChat Customer Service) for tests.

It speaks the real wire format (JSON bodies, ``errcode``/``errmsg``, ``access_token`` in the
query) so adapters run unchanged against ``fake.base_url``::

    async with FakeWeCom() as fake:
        fake.add_kf_message("wkKF", "wmUser", "你好")
        fake.fail_next("/cgi-bin/message/send", 42001)

Endpoints: gettoken, message/send, kf/sync_msg, kf/send_msg, kf/send_msg_on_event,
kf/service_state/get and /trans, kf/servicer/list. Every request is recorded in ``fake.calls``.
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
import base64
import itertools
import json
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.wecom.crypto import WeComCrypto
from adapters.wecom.xml import build_xml

TEXT_LIMIT = 2048  # UTF-8 bytes of a text message; longer is cut
TOKEN_TTL, KF_TOKEN_TTL, CODE_TTL, QUOTA_WINDOW, QUOTA = 7200, 600, 20, 48 * 3600, 5
# service_state transitions this fake allows (0 new, 1 bot, 2 pool, 3 human, 4 ended)
TRANSITIONS = {0: {1, 2, 3, 4}, 1: {2, 3, 4}, 2: {3, 4}, 3: {3, 4}, 4: set()}
ROUTES = {"/cgi-bin/" + api: "_" + api.replace("/", "_") for api in (
    "gettoken", "message/send", "kf/sync_msg", "kf/send_msg", "kf/send_msg_on_event",
    "kf/service_state/get", "kf/service_state/trans", "kf/servicer/list")}
_BAD_JSON = object()
_MSGID = re.compile(r"[0-9a-zA-Z_-]{1,32}\Z")
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


class FakeWeCom:
    """Loopback WeCom API on 127.0.0.1 and a free port."""

    def __init__(self, *, corp_id: str = "wwfakecorp", secret: str = "fake-secret",
                 agent_id: int = 1000002) -> None:
        self.corp_id, self.secrets, self.agent_id = corp_id, {secret}, agent_id
        self.calls: list[Call] = []
        self.deliveries: list[Delivery] = []
        self.delay = 0.0  # seconds added to every request
        self.slow: dict[str, float] = {}  # per-path delay, overrides ``delay``
        self.page_cap = 1000  # sync_msg returns at most this many, whatever the limit
        self.port, self._offset, self._runner = 0, 0.0, None
        self._ids = itertools.count(1)
        self._faults: dict[str, deque[int]] = defaultdict(deque)
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (secret, expiry)
        self._kf_tokens: dict[str, tuple[str, float]] = {}  # token -> (open_kfid, expiry)
        self._codes: dict[str, float] = {}  # event code -> expiry
        self._kf_msgs: dict[str, list[dict]] = defaultdict(list)
        self._empty_pages: dict[str, int] = defaultdict(int)
        self._states: dict[tuple[str, str], tuple[int, str]] = {}
        self._quota: dict[tuple[str, str], list[float]] = {}  # pair -> [window start, used]
        self._servicers: dict[str, dict[str, int]] = defaultdict(dict)
        self._kf_msgids: set[str] = set()  # msgid is an idempotency key for kf sends
        self._changed: asyncio.Condition | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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

    def add_kf_message(self, open_kfid: str, external_userid: str, text: str = "", origin: int = 3,
                       msgid: str | None = None, msgtype: str = "text", event: dict | None = None,
                       menu_id: str | None = None, servicer_userid: str | None = None) -> str:
        """Queue a message for kf/sync_msg as WeCom would store it; return its msgid."""
        msg = {"msgid": msgid or f"kfmsg{next(self._ids)}", "open_kfid": open_kfid,
               "external_userid": external_userid, "send_time": int(self.now()),
               "origin": origin, "msgtype": msgtype}
        if servicer_userid:
            msg["servicer_userid"] = servicer_userid
        if msgtype == "event":
            msg["event"] = self._event(open_kfid, external_userid, dict(event or {}))
            del msg["open_kfid"], msg["external_userid"]  # events carry them inside ``event``
        else:
            msg["text"] = {"content": text, **({"menu_id": menu_id} if menu_id else {})}
        if origin == 3:
            self._customer_spoke(open_kfid, external_userid)
        self._kf_msgs[open_kfid].append(msg)
        return msg["msgid"]

    def _event(self, open_kfid: str, external_userid: str, event: dict) -> dict:
        event.setdefault("event_type", "enter_session")
        event.setdefault("open_kfid", open_kfid)
        event.setdefault("external_userid", external_userid)
        if event["event_type"] == "enter_session" and "welcome_code" not in event:
            event["welcome_code"] = self._issue_code()
        return event

    def _customer_spoke(self, open_kfid: str, external_userid: str) -> None:
        pair = (open_kfid, external_userid)
        self._quota[pair] = [self.now(), 0]
        if self.state(open_kfid, external_userid)[0] == 4:
            self._states[pair] = (0, "")

    def kf_token(self, open_kfid: str) -> str:
        """A sync_msg token as a kf_msg_or_event callback carries (valid 10 minutes)."""
        token = f"ENC{next(self._ids)}kf"
        self._kf_tokens[token] = (open_kfid, self.now() + KF_TOKEN_TTL)
        self._kf_msgs.setdefault(open_kfid, [])
        return token

    def kf_event_xml(self, open_kfid: str) -> str:
        """The inner XML of a ``kf_msg_or_event`` callback, with a fresh token."""
        return build_xml({"ToUserName": self.corp_id, "CreateTime": int(self.now()),
                          "MsgType": "event", "Event": "kf_msg_or_event",
                          "Token": self.kf_token(open_kfid), "OpenKfId": open_kfid})

    def inject_empty_page(self, open_kfid: str, n: int = 1) -> None:
        """The next ``n`` sync_msg pages for ``open_kfid`` are empty but say ``has_more: 1``."""
        self._empty_pages[open_kfid] += n

    def set_state(self, open_kfid: str, external_userid: str, state: int,
                  servicer_userid: str = "") -> None:
        self._kf_msgs.setdefault(open_kfid, [])
        self._states[(open_kfid, external_userid)] = (state, servicer_userid)

    def state(self, open_kfid: str, external_userid: str) -> tuple[int, str]:
        """(service_state, servicer_userid); a session never started is state 4."""
        return self._states.get((open_kfid, external_userid), (4, ""))

    def set_servicers(self, open_kfid: str, servicers: dict[str, int]) -> None:
        """Servicer userid -> status (0 receiving, 1 stopped) for ``open_kfid``."""
        self._kf_msgs.setdefault(open_kfid, [])
        self._servicers[open_kfid] = dict(servicers)

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

    async def start(self) -> FakeWeCom:
        self._changed = asyncio.Condition()
        app = web.Application()
        for path in ROUTES:
            app.router.add_route("*", path, self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeWeCom:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _dispatch(self, request: web.Request) -> web.Response:
        path = request.path
        handler = getattr(self, ROUTES[path])
        await asyncio.sleep(self.slow.get(path, self.delay))
        query, body = dict(request.query), await self._body(request)
        response = self._gate(path, query, body) or handler(query, body or {})
        self.calls.append(Call(request.method, path, query, body, response))
        async with self._changed:
            self._changed.notify_all()
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

    def _kf_sync_msg(self, query: dict, body: dict) -> dict:
        kfid = body.get("open_kfid", "")
        if kfid not in self._kf_msgs:
            return _reply(95000)
        owner, expiry = self._kf_tokens.get(str(body.get("token", "")), ("", 0.0))
        if owner != kfid or expiry <= self.now():
            return _reply(95007)
        limit, start = body.get("limit", 1000), self._cursor_index(kfid, body.get("cursor", ""))
        if not isinstance(limit, int) or not 0 < limit <= 1000 or start is None:
            return _reply(40058)
        if self._empty_pages[kfid]:
            self._empty_pages[kfid] -= 1
            return _reply(0, next_cursor=self._cursor(kfid, start), has_more=1, msg_list=[])
        page = self._kf_msgs[kfid][start:start + min(limit, self.page_cap)]
        end = start + len(page)
        more = int(end < len(self._kf_msgs[kfid]))
        return _reply(0, next_cursor=self._cursor(kfid, end), has_more=more, msg_list=page)

    @staticmethod
    def _cursor(open_kfid: str, index: int) -> str:
        return base64.urlsafe_b64encode(f"{open_kfid}:{index}".encode()).decode().rstrip("=")

    @staticmethod
    def _cursor_index(open_kfid: str, cursor: Any) -> int | None:
        if not cursor:
            return 0
        try:
            decoded = base64.urlsafe_b64decode(str(cursor) + "=" * (-len(str(cursor)) % 4))
            kfid, _, index = decoded.decode().rpartition(":")
            position = int(index)
        except ValueError:  # also binascii.Error and UnicodeDecodeError
            return None
        return position if kfid == open_kfid and position >= 0 else None

    def _kf_send_msg(self, query: dict, body: dict) -> dict:
        kfid, user = body.get("open_kfid", ""), body.get("touser", "")
        if kfid not in self._kf_msgs:
            return _reply(95000)
        if early := self._early_answer(body):
            return early
        if self.state(kfid, user)[0] not in (0, 1):
            return _reply(95018)
        window = self._quota.get((kfid, user))
        if window is None or window[1] >= QUOTA or self.now() - window[0] > QUOTA_WINDOW:
            return _reply(95001)
        window[1] += 1
        return _reply(0, msgid=self._deliver("kf", body, TEXT_LIMIT, body.get("msgid")))

    def _early_answer(self, body: dict) -> dict | None:
        """Checks shared by the kf sends: msgid format, repeated msgid (idempotent), msgtype."""
        msgid = body.get("msgid")
        if msgid is not None and not (isinstance(msgid, str) and _MSGID.match(msgid)):
            return _reply(40058)
        if msgid in self._kf_msgids:
            return _reply(0, msgid=msgid)  # the first send stands; nothing is sent twice
        if not isinstance(body.get(body.get("msgtype") or ""), dict):
            return _reply(40008)
        return None

    def _kf_send_msg_on_event(self, query: dict, body: dict) -> dict:
        if early := self._early_answer(body):
            return early
        if self._codes.pop(str(body.get("code", "")), 0.0) <= self.now():
            return _reply(40058)
        return _reply(0, msgid=self._deliver("kf_event", body, TEXT_LIMIT, body.get("msgid")))

    def _issue_code(self) -> str:
        code = f"CODE{next(self._ids)}"
        self._codes[code] = self.now() + CODE_TTL
        return code

    def _kf_service_state_get(self, query: dict, body: dict) -> dict:
        kfid = body.get("open_kfid", "")
        if kfid not in self._kf_msgs:
            return _reply(95000)
        state, servicer = self.state(kfid, body.get("external_userid", ""))
        return _reply(0, service_state=state, servicer_userid=servicer)

    def _kf_service_state_trans(self, query: dict, body: dict) -> dict:
        kfid, user = body.get("open_kfid", ""), body.get("external_userid", "")
        target, servicer = body.get("service_state"), body.get("servicer_userid", "")
        if kfid not in self._kf_msgs:
            return _reply(95000)
        current = self.state(kfid, user)[0]
        if target not in TRANSITIONS or isinstance(target, bool):
            return _reply(40058)
        if target not in TRANSITIONS[current]:
            return _reply(95016)
        if target == 3 and self._servicers[kfid].get(servicer) != 0:
            return _reply(95014)
        self._states[(kfid, user)] = (target, servicer if target == 3 else "")
        first_handover = target in (2, 3) and current in (0, 1)
        return _reply(0, msg_code=self._issue_code() if first_handover or target == 4 else "")

    def _kf_servicer_list(self, query: dict, body: dict) -> dict:
        kfid = query.get("open_kfid") or body.get("open_kfid", "")
        if kfid not in self._kf_msgs:
            return _reply(95000)
        listing = [{"userid": u, "status": s} for u, s in self._servicers[kfid].items()]
        return _reply(0, servicer_list=listing)


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
