"""The intake form before a ticket reaches a manager: what is needed, field, organisation, contact.

Step by step (extractive mode) or, in LLM mode, fields extracted from free text first so only the
missing ones are asked. Every field can be skipped; the whole intake can be cancelled.
"""
from __future__ import annotations

import json
import re

KINDS = ("transfer", "licence", "joint_rnd", "poc", "pilot", "financing", "other")
STEPS = ("kind", "field", "organisation", "contact_name", "contact", "description")
_KIND_WORDS = {
    "licence": r"许可|授权|licen[cs]",
    "poc": r"概念验证|proof[- ]of[- ]concept|\bpoc\b",
    "pilot": r"中试|小试|pilot",
    "joint_rnd": r"联合研发|合作研发|共同研发|产学研|joint r&d|co-?develop",
    "financing": r"融资|投资|基金|资本|financ|invest",
    "transfer": r"转化|转让|转移|技术交易|commerciali|transfer|sell",
}
_SKIP = re.compile(r"^\s*(跳过|略过|不填|无|没有|暂无|skip|-|n/?a|none)\s*[。.!！]?\s*$", re.I)
_CANCEL = re.compile(r"^\s*(/cancel|取消|取消工单|撤销|撤销工单|不用了|算了|不需要了|不要了|cancel|never ?mind|stop)"
                     r"\s*[。.!！]?\s*$", re.I)
_NEW_CHAT = re.compile(r"^\s*(/new|新对话|重新开始|new chat|start over)\s*[。.!！]?\s*$", re.I)
_QUESTION = re.compile(r"[?？]\s*$|吗\s*$|什么|多少|如何|怎么|怎样|哪些|哪个|哪里|是否|能否|可以.{0,12}吗|有没有|"
                       r"\b(what|how|which|when|where|who|is there|are there|can i|do you)\b", re.I)
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def is_skip(text: str) -> bool:
    return bool(_SKIP.match(text))


def is_cancel(text: str) -> bool:
    return bool(_CANCEL.match(text))


def is_new_chat(text: str) -> bool:
    """"新对话" or /new: the user wants to start over."""
    return bool(_NEW_CHAT.match(text))


def looks_like_question(text: str) -> bool:
    """A question worth answering from the knowledge base (not contact details or a note for the manager)."""
    return bool(_QUESTION.search(text)) and parse_contact(text) is None and not text.strip().startswith("/")


def kind_from_text(text: str) -> str | None:
    for kind, pattern in _KIND_WORDS.items():
        if re.search(pattern, text, re.I):
            return kind
    return None


def parse_kind(answer: str) -> str | None:
    """A number 1-7 from the menu or words that name a kind."""
    m = re.match(r"^\s*([1-7])\s*[.、)）]?", answer)
    if m:
        return KINDS[int(m.group(1)) - 1]
    return kind_from_text(answer) or ("other" if re.search(r"其他|其它|other", answer, re.I) else None)


def parse_contact(answer: str) -> str | None:
    """The first valid mobile, landline or e-mail in the answer."""
    for pattern in (_MOBILE, _EMAIL, _LANDLINE):
        m = pattern.search(answer)
        if m:
            return m.group(0)
    return None


def prefill(trigger: str) -> dict[str, str]:
    """Fields the triggering message already gives (rules only)."""
    fields: dict[str, str] = {}
    kind = kind_from_text(trigger)
    if kind:
        fields["kind"] = kind
    contact = parse_contact(trigger)
    if contact:
        fields["contact"] = contact
    if len(trigger.strip()) >= 12 and not trigger.strip().startswith("/"):
        fields["description"] = trigger.strip()[:1000]
    return fields


def next_step(fields: dict[str, str | None]) -> str | None:
    """The first field not yet answered or skipped."""
    return next((s for s in STEPS if s not in fields), None)


def accept(step: str, answer: str) -> tuple[bool, str | None]:
    """(accepted, value) for an answer to `step`; a skip is accepted with None."""
    if is_skip(answer):
        return True, None
    text = answer.strip()[:500]
    if step == "kind":
        kind = parse_kind(text)
        return (kind is not None), kind
    if step == "contact":
        contact = parse_contact(text)
        return (contact is not None), contact
    return bool(text), text


def parse_llm_fields(raw: str) -> dict[str, str]:
    """Fields from the model's JSON answer; anything invalid is dropped."""
    m = re.search(r"\{.*\}", raw, re.S)
    if not m:
        return {}
    try:
        data = json.loads(m.group(0))
    except json.JSONDecodeError:
        return {}
    out: dict[str, str] = {}
    for key in STEPS:
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, str) and value.strip():
            ok, parsed = accept(key, value)
            if ok and parsed:
                out[key] = parsed
    return out
