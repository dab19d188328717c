"""Policy status: current, not yet effective, expired or superseded, relative to an injected date.

Read from the document identity's dates (`effective`, `expires`: "有效期至…", "自…起施行，有效期X年")
and from later documents that repeal it ("原《…》同时废止", `policy["repeals"]`); an operator's
`policy_override` ({"status", "successor"}) wins. `status_line` is the first line of an answer
drawn from an expired, superseded or not yet effective document.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import prompts
from bot.types import Citation

_NOISE = re.compile(r"[\s《》〈〉“”\"'（）()]")


class Status(StrEnum):
    CURRENT = "current"
    NOT_YET_EFFECTIVE = "not_yet_effective"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class PolicyState:
    status: Status
    title: str
    since: str = ""  # the date it took or takes effect, or expired (YYYY-MM-DD)
    successor: str = ""  # the title of the document that replaces it, when known
    by_operator: bool = False


def _norm(title: str) -> str:
    return _NOISE.sub("", title)


def same_title(a: str, b: str) -> bool:
    a, b = _norm(a), _norm(b)
    return bool(a and b) and (a == b or (min(len(a), len(b)) >= 8 and (a in b or b in a)))


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def state_of(doc: Any, today: date, docs: Iterable[Any] = ()) -> PolicyState:
    """The status of one document (`PolicyRecord`-like: title, identity, policy, override) on `today`."""
    title = doc.identity.get("title") or doc.title
    forced = (doc.override or {}).get("status", "")
    successor = (doc.override or {}).get("successor", "") or _successor(doc, today, docs)
    if forced in Status.__members__.values():
        return PolicyState(Status(forced), title, successor=successor, by_operator=True)
    effective, expires = _day(doc.identity.get("effective", "")), _day(doc.identity.get("expires", ""))
    if successor:
        return PolicyState(Status.SUPERSEDED, title, successor=successor)
    if expires is not None and expires < today:
        return PolicyState(Status.EXPIRED, title, since=expires.isoformat())
    if effective is not None and effective > today:
        return PolicyState(Status.NOT_YET_EFFECTIVE, title, since=effective.isoformat())
    return PolicyState(Status.CURRENT, title)


def _successor(doc: Any, today: date, docs: Iterable[Any]) -> str:
    """The title of a document in force on `today` that repeals this one."""
    title = doc.identity.get("title") or doc.title
    for other in docs:
        if other.id == doc.id:
            continue
        effective = _day(other.identity.get("effective", ""))
        if (effective is None or effective <= today) and any(same_title(t, title)
                                                              for t in other.policy.get("repeals", ())):
            title_of: str = other.identity.get("title") or other.title
            return title_of
    return ""


def states(docs: list[Any], today: date) -> dict[str, PolicyState]:
    """doc id -> state, for every document."""
    return {d.id: state_of(d, today, docs) for d in docs}


def status_line(citations: Iterable[Citation], by_title: Mapping[str, PolicyState], lang: str) -> str | None:
    """One line naming every cited document that is not current (and its successor), or None."""
    parts, seen = [], set()
    for c in citations:
        state = _find(by_title, c.title)
        if state is None or state.status is Status.CURRENT or state.title in seen:
            continue
        seen.add(state.title)
        parts.append(describe(state, lang))
    if not parts:
        return None
    return prompts.text_from("calendar", lang, "status_prefix") + (" " if lang == "en" else "").join(parts)


def describe(state: PolicyState, lang: str) -> str:
    key = f"status_{state.status.value}" + ("_successor" if state.successor and state.status in (
        Status.SUPERSEDED, Status.EXPIRED) else "")
    if not state.since and state.status in (Status.EXPIRED, Status.NOT_YET_EFFECTIVE):
        key += "_undated"  # an operator's setting without a date: never "已于?失效"
    return prompts.text_from("calendar", lang, key, title=state.title, since=state.since, successor=state.successor)


def _find(by_title: Mapping[str, PolicyState], title: str) -> PolicyState | None:
    head = title.split("（")[0]  # chunk titles may carry the region: "办法（青岛市）"
    return by_title.get(title) or by_title.get(head) or next(
        (s for t, s in by_title.items() if same_title(t, head)), None)
