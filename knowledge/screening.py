"""Screening at ingest (issue 12, finding 16): sentences that look like instructions to the assistant
("忽略以上…", "ignore previous instructions", "系统通知：…", "你现在是…") or that link to a host outside
the allow-list are flagged for operator review.

A flagged sentence stays in its chunk (the document is what operators chose to ingest, and search
still finds it), but it is stored in the chunk's ``flags`` and listed in the document's ``review``
(shown on the console's knowledge-base page), and extractive answers never quote it as policy
(``bot.extractive`` skips every excerpt unit that contains one).

Allowed link hosts: ``KB_ALLOWED_LINK_HOSTS`` (default ``gov.cn``; each entry also allows its
subdomains, so ``gov.cn`` allows ``qingdao.gov.cn``) and the host of ``QDBOT_PUBLIC_URL``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import urlsplit

from bot.settings import Settings
from bot.records import ChunkRecord
from bot.text import split_sentences

REVIEW_MAX = 50  # flagged sentences listed per document (all of them are still flagged in their chunks)
_INSTRUCTION = re.compile(
    r"(忽略|无视|不要理会|忘记|忘掉)(掉)?(以上|上述|上面|之前|此前|前面|先前|所有|全部|你的)"
    r"|系统(通知|提示|指令|消息|公告)\s*[:：]"
    r"|你现在(是|扮演|的身份)|从现在(起|开始)[，,]?\s*你|(请你|你要)扮演|提示词"
    r"|\bignore\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|preceding)\b"
    r"|\bdisregard\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|instructions)\b"
    r"|\byou\s+are\s+now\b|\bsystem\s+prompt\b|\bnew\s+instructions\s*:",
    re.IGNORECASE)
_LINK = re.compile(r"(?:https?://|\bwww\.)[^\s<>\"'，。；、）)】]+", re.IGNORECASE)


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """The hosts passages may link to: the setting's entries and this deployment's own host."""
    hosts = [h.strip().lower().strip(".") for h in settings.kb_allowed_link_hosts.split(",") if h.strip()]
    own = urlsplit(settings.qdbot_public_url or "").hostname
    return tuple(hosts + ([own.lower()] if own else []))


def _host(link: str) -> str:
    return (urlsplit(link if "://" in link else f"http://{link}").hostname or "").lower()


def _allowed(host: str, allowed: Iterable[str]) -> bool:
    return any(host == a or host.endswith("." + a) for a in allowed)


def reason(sentence: str, allowed: tuple[str, ...]) -> str | None:
    """Why a sentence is flagged ("instruction" or "link to <host>"), or None."""
    if _INSTRUCTION.search(sentence):
        return "instruction"
    for link in _LINK.findall(sentence):
        host = _host(link)
        if not _allowed(host, allowed):
            return f"link to {host or link[:60]}"
    return None


def sentences(text: str) -> list[str]:
    return [s for line in text.split("\n") for s in split_sentences(line)]


def screen(chunks: list[ChunkRecord], allowed: tuple[str, ...]) -> tuple[list[ChunkRecord], list[dict[str, str]]]:
    """The chunks with their flagged sentences in ``flags``, and the document's review list."""
    out: list[ChunkRecord] = []
    review: list[dict[str, str]] = []
    for chunk in chunks:
        found = [(s, why) for s in sentences(chunk.text) if (why := reason(s, allowed))]
        out.append(replace(chunk, flags=tuple(s for s, _ in found)))
        review.extend({"section": chunk.section, "reason": why, "text": s[:200]} for s, why in found)
    return out, review[:REVIEW_MAX]
