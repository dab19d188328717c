"""The WeChat Customer Service (kf) half of the fake WeCom API, mixed into ``FakeWeCom``.

Control: ``add_kf_message``, ``add_session_change``, ``kf_token``, ``kf_event_xml``, ``inject_empty_page``, ``set_state``,
``state``, ``set_servicers``. Endpoints: kf/sync_msg, kf/send_msg, kf/send_msg_on_event,
kf/service_state/get and /trans, kf/servicer/list (see ``tests.fakes.wecom_server`` for the
semantics and error codes).
"""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from typing import Any

from adapters.wecom.xml import build_xml

TEXT_LIMIT = 2048  # UTF-8 bytes of a text message; longer is cut
KF_TOKEN_TTL, CODE_TTL, QUOTA_WINDOW, QUOTA = 600, 20, 48 * 3600, 5
# service_state transitions this fake allows (0 new, 1 bot, 2 pool, 3 human, 4 ended)
TRANSITIONS = {0: {1, 2, 3, 4}, 1: {2, 3, 4}, 2: {3, 4}, 3: {3, 4}, 4: set()}
_MSGID = re.compile(r"[0-9a-zA-Z_-]{1,32}\Z")


class FakeKf:
    """State and handlers of the kf endpoints; ``FakeWeCom`` supplies ``_reply``, ``_deliver``,
    ``now``, ``_ids``, ``corp_id`` and ``page_cap``."""

    def _init_kf(self) -> None:
        self._kf_tokens: dict[str, tuple[str, float]] = {}  # token -> (open_kfid, expiry)
        self._codes: dict[str, float] = {}  # event code -> expiry
        self._kf_msgs: dict[str, list[dict]] = defaultdict(list)
        self._empty_pages: dict[str, int] = defaultdict(int)
        self._states: dict[tuple[str, str], tuple[int, str]] = {}
        self._quota: dict[tuple[str, str], list[float]] = {}  # pair -> [window start, used]
        self._servicers: dict[str, dict[str, int]] = defaultdict(dict)
        self._kf_msgids: set[str] = set()  # msgid is an idempotency key for kf sends

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

    def add_session_change(self, open_kfid: str, external_userid: str, change_type: int, *,
                           old_servicer: str = "", new_servicer: str = "") -> str:
        """A servicer's action in the WeCom client as WeCom reports it: the session moves (1 picked
        up from the pool, 2 transferred, 4 re-joined: to ``new_servicer`` in state 3; 3 ended:
        state 4) and a ``session_status_change`` event is queued, with a ``msg_code`` for 1 and 3
        (as WeCom gives one only then). Returns the event's msgid."""
        pair = (open_kfid, external_userid)
        self._states[pair] = (4, "") if change_type == 3 else (3, new_servicer)
        event: dict[str, Any] = {"event_type": "session_status_change", "change_type": change_type}
        if old_servicer:
            event["old_servicer_userid"] = old_servicer
        if new_servicer:
            event["new_servicer_userid"] = new_servicer
        if change_type in (1, 3):
            event["msg_code"] = self._issue_code()
        return self.add_kf_message(open_kfid, external_userid, origin=4, msgtype="event", event=event)

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

    def _kf_sync_msg(self, query: dict, body: dict) -> dict:
        kfid = body.get("open_kfid", "")
        if kfid not in self._kf_msgs:
            return self._reply(95000)
        owner, expiry = self._kf_tokens.get(str(body.get("token", "")), ("", 0.0))
        if owner != kfid or expiry <= self.now():
            return self._reply(95007)
        limit, start = body.get("limit", 1000), self._cursor_index(kfid, body.get("cursor", ""))
        if not isinstance(limit, int) or not 0 < limit <= 1000 or start is None:
            return self._reply(40058)
        if self._empty_pages[kfid]:
            self._empty_pages[kfid] -= 1
            return self._reply(0, next_cursor=self._cursor(kfid, start), has_more=1, msg_list=[])
        page = self._kf_msgs[kfid][start:start + min(limit, self.page_cap)]
        end = start + len(page)
        more = int(end < len(self._kf_msgs[kfid]))
        return self._reply(0, next_cursor=self._cursor(kfid, end), has_more=more, msg_list=page)

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
            return self._reply(95000)
        if early := self._early_answer(body):
            return early
        if self.state(kfid, user)[0] not in (0, 1):
            return self._reply(95018)
        window = self._quota.get((kfid, user))
        if window is None or window[1] >= QUOTA or self.now() - window[0] > QUOTA_WINDOW:
            return self._reply(95001)
        window[1] += 1
        return self._reply(0, msgid=self._deliver("kf", body, TEXT_LIMIT, body.get("msgid")))

    def _early_answer(self, body: dict) -> dict | None:
        """Checks shared by the kf sends: msgid format, repeated msgid (idempotent), msgtype."""
        msgid = body.get("msgid")
        if msgid is not None and not (isinstance(msgid, str) and _MSGID.match(msgid)):
            return self._reply(40058)
        if msgid in self._kf_msgids:
            return self._reply(0, msgid=msgid)  # the first send stands; nothing is sent twice
        if not isinstance(body.get(body.get("msgtype") or ""), dict):
            return self._reply(40008)
        return None

    def _kf_send_msg_on_event(self, query: dict, body: dict) -> dict:
        if early := self._early_answer(body):
            return early
        if self._codes.pop(str(body.get("code", "")), 0.0) <= self.now():
            return self._reply(40058)
        return self._reply(0, msgid=self._deliver("kf_event", body, TEXT_LIMIT, body.get("msgid")))

    def _issue_code(self) -> str:
        code = f"CODE{next(self._ids)}"
        self._codes[code] = self.now() + CODE_TTL
        return code

    def _kf_service_state_get(self, query: dict, body: dict) -> dict:
        kfid = body.get("open_kfid", "")
        if kfid not in self._kf_msgs:
            return self._reply(95000)
        state, servicer = self.state(kfid, body.get("external_userid", ""))
        return self._reply(0, service_state=state, servicer_userid=servicer)

    def _kf_service_state_trans(self, query: dict, body: dict) -> dict:
        kfid, user = body.get("open_kfid", ""), body.get("external_userid", "")
        target, servicer = body.get("service_state"), body.get("servicer_userid", "")
        if kfid not in self._kf_msgs:
            return self._reply(95000)
        current = self.state(kfid, user)[0]
        if target not in TRANSITIONS or isinstance(target, bool):
            return self._reply(40058)
        if target not in TRANSITIONS[current]:
            return self._reply(95016)
        if target == 3 and self._servicers[kfid].get(servicer) != 0:
            return self._reply(95014)
        self._states[(kfid, user)] = (target, servicer if target == 3 else "")
        first_handover = target in (2, 3) and current in (0, 1)
        return self._reply(0, msg_code=self._issue_code() if first_handover or target == 4 else "")

    def _kf_servicer_list(self, query: dict, body: dict) -> dict:
        kfid = query.get("open_kfid") or body.get("open_kfid", "")
        if kfid not in self._kf_msgs:
            return self._reply(95000)
        listing = [{"userid": u, "status": s} for u, s in self._servicers[kfid].items()]
        return self._reply(0, servicer_list=listing)
