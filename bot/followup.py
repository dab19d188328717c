"""Follow-up questions without an LLM: "那这个平台有什么支持？" after "青岛的概念验证平台有哪些？"
becomes a standalone query by borrowing the previous question's subject (its nouns and places).

Only short questions that point back (这个/那个/该/它/其/上述, or open with 那/那么/还有/另外) are
expanded; a question that names its own subject is searched as it is. The LLM mode rewrites
follow-ups with the model instead (`bot.llm.rewrite`).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from bot import regions
from bot.text import query_terms
from bot.types import Role, Turn

MAX_FOLLOWUP = 24  # characters: longer questions usually carry their own subject
_POINTS_BACK = re.compile(r"^(那|那么|还有|另外|此外|那如果|如果是|and |what about |how about )|这个|那个|这项|该|它|其|上述|此项|这些|那些"
                          r"|\b(it|this|that|these|those|they)\b", re.IGNORECASE)
_SUBJECT_WEIGHT = 0.5  # nouns, figures, verbal nouns and verbs (see bot.text)


def is_followup(question: str) -> bool:
    return len(question.strip()) <= MAX_FOLLOWUP and bool(_POINTS_BACK.search(question.strip()))


def _previous_question(history: Sequence[Turn]) -> str | None:
    return next((t.text for t in reversed(history) if t.role is Role.USER and t.text.strip()), None)


def expand(question: str, history: Sequence[Turn]) -> str:
    """The question, preceded by the previous question's subject words when it is a follow-up."""
    previous = _previous_question(history)
    if not previous or not is_followup(question):
        return question
    own = {t.word for t in query_terms(question)}
    places = [p for p in regions.find_places(previous) if not regions.find_places(question)]
    words = [t.word for t in query_terms(previous)
             if t.weight >= _SUBJECT_WEIGHT and t.word not in own and not regions.find_places(t.word)]
    subject = " ".join(dict.fromkeys([*places, *words]))
    return f"{subject} {question}".strip() if subject else question
