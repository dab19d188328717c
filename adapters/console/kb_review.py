"""The knowledge-base page's review note: what screening flagged in a document (issue 12, finding 16).

Flagged sentences (instruction-like text, links to hosts not allowed; see ``knowledge.screening``)
are listed under the document's status, so an operator can check them, and fix or delete the
document. Extractive answers never quote them.
"""
from __future__ import annotations

from typing import Any

from adapters.console.html import badge, e
from adapters.console.i18n import t


def review_html(lang: str, d: Any) -> str:
    """A collapsed list of the document's flagged sentences ("" when nothing was flagged)."""
    review = getattr(d, "review", None) or []
    if not review:
        return ""
    items = "".join(f'<li>{e(_reason(lang, r.get("reason", "")))}: {e(r.get("text", ""))}'
                    + (f' <small>({e(r["section"])})</small>' if r.get("section") else "") + "</li>"
                    for r in review)
    label = badge(t(lang, "kb_review_flagged", n=len(review)), "amber")
    return f'<details class="kb-review"><summary>{label}</summary><ul>{items}</ul></details>'


def _reason(lang: str, reason: str) -> str:
    if reason == "instruction":
        return t(lang, "kb_review_instruction")
    host = reason.removeprefix("link to ")
    return f'{t(lang, "kb_review_link")} {host}'
