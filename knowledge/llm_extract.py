"""Asking the model for structured items (calendar entries, support items) from a document's clauses.

`ask_for_items` sends the clauses that match a hint to the model with an extraction prompt and parses
the JSON list it answers; the callers check every item against the text before keeping it.
"""
from __future__ import annotations

import json
import re
from typing import Any

import structlog
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import Runnable

import prompts
from bot import llm as llm_ops
from bot.errors import LLMError
from knowledge.policy_text import clauses

log = structlog.get_logger(__name__)
MAX_CHARS = 6000


async def ask_for_items(llm: Runnable[Any, Any], prompt: str, hint: re.Pattern[str], sections: list[tuple[str, str]],
                        title: str, doc_id: str) -> tuple[list[Any], dict[str, str]]:
    """The model's items (a JSON list) for the clauses matching `hint`, and the section of each clause;
    ([], {}) when no clause matches or the model fails or answers no list."""
    relevant = [(sec, c) for sec, body in sections for c in clauses(body) if hint.search(c)]
    if not relevant:
        return [], {}
    text = "\n".join(c for _, c in relevant)[:MAX_CHARS]
    try:
        raw = await llm_ops.complete(llm, [SystemMessage(prompts.template("zh", prompt)),
                                           HumanMessage(f"《{title}》\n{text}")])
        items = json.loads(raw[raw.find("["): raw.rfind("]") + 1] or "[]")
    except (LLMError, ValueError) as exc:
        log.warning("llm_extract_failed", prompt=prompt, doc=doc_id, error=str(exc)[:200])
        return [], {}
    return (items if isinstance(items, list) else []), {c: sec for sec, c in relevant}
