"""The structure of Chinese policy text: headings, inline enumerations and sentences.

Heading kinds, from outermost to innermost (a smaller rank is an outer level)::

    # .. ######     Markdown (and HTML h1-h6, which the loader turns into Markdown)   1-6
    第X编 / 第X章    part / chapter                                                    9, 10
    第X节            section                                                           11
    一、             numbered heading                                                  12
    第X条            article                                                           12.5
    （一）           bracketed numbered heading                                        13
    1. / 1、         arabic item                                                       15
    （1）            bracketed arabic item                                             16
    一是 / 二是      enumeration inside a paragraph (starts at a sentence)             17

A heading replaces every open heading of the same or an inner rank: a new article (第X条) closes
the （一）（二） items of the one before, so an article's items are always its own. A new paragraph closes
an open enumeration (一是 ...), since enumerations never span paragraphs.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_CN = "一二三四五六七八九十百零〇两"
ENUMERATION_RANK = 17
ARTICLE_RANK = 12.5
_RULES: tuple[tuple[float, re.Pattern[str]], ...] = (
    (9, re.compile(rf"^第[{_CN}\d]+编")),
    (10, re.compile(rf"^第[{_CN}\d]+章")),
    (11, re.compile(rf"^第[{_CN}\d]+节")),
    (12, re.compile(rf"^[{_CN}]+、")),
    (13, re.compile(rf"^[（(][{_CN}]+[）)]")),
    (12.5, re.compile(rf"^第[{_CN}\d]+条")),  # an article holds its （一）（二） items
    (15, re.compile(r"^\d{1,2}[.、．](?!\d)")),
    (16, re.compile(r"^[（(]\d{1,2}[）)]")),
)
_MARKDOWN = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
_ENUMERATION = re.compile(rf"^[{_CN}]{{1,3}}是")
_SENTENCE_END = re.compile(r"[。！？；!?]+[”’」』）)》\"']*|(?<=[A-Za-z0-9)\]])\.(?=\s)")
_LABEL_MAX = 40
_SHORT_MAX = 20
_CLAUSE_END = re.compile(r"[，,：:；;]")


@dataclass(frozen=True, slots=True)
class Heading:
    """A recognised heading: its rank, its label, and whether the line holds nothing else."""

    rank: float
    label: str
    heading_only: bool


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of body text with the section path it belongs to."""

    path: tuple[str, ...]
    text: str
    paragraph: int


def split_sentences(text: str) -> list[str]:
    """Split at 。！？；!? (keeping closing quotes with their sentence) and at English full stops."""
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        out.append(text[start:match.end()])
        start = match.end()
    out.append(text[start:])
    return [s.strip() for s in out if s.strip()]


def _first_sentence(line: str) -> str:
    sentences = split_sentences(line)
    return sentences[0] if sentences else line


def _label(sentence: str) -> str:
    """A heading label: the sentence without its final punctuation, cut at a clause if too long."""
    label = sentence.rstrip("。！？；!?;：: ")
    if len(label) <= _LABEL_MAX:
        return label
    clause = _CLAUSE_END.split(label, maxsplit=1)[0]
    return clause if len(clause) <= _LABEL_MAX else clause[:_LABEL_MAX] + "…"


def match_heading(line: str) -> Heading | None:
    """Recognise a heading line (Markdown or Chinese numbering), or None for body text."""
    md = _MARKDOWN.match(line)
    if md:
        return Heading(len(md.group(1)), md.group(2).strip(), True)
    for rank, pattern in _RULES:
        marker = pattern.match(line)
        if marker:
            return _numbered_heading(rank, line, marker.group(0))
    return None


def _numbered_heading(rank: float, line: str, marker: str) -> Heading:
    first = _first_sentence(line)
    heading_only = first == line and len(line) <= _LABEL_MAX and not line.endswith(("。", "；"))
    if rank == ARTICLE_RANK:  # an article's text is body (also "…下列条件："), its label is its number
        return Heading(rank, marker, line.strip() == marker)
    return Heading(rank, _label(first), heading_only)


def is_heading_line(line: str) -> bool:
    """True for a line that is only a heading (used to keep PDF unwrapping off headings)."""
    heading = match_heading(line)
    return heading is not None and heading.heading_only


def short_label(label: str) -> str:
    """The head of a label up to its first clause break, at most ~20 characters."""
    head = _CLAUSE_END.split(label, maxsplit=1)[0].strip()
    if len(head) > _SHORT_MAX:
        return head[:_SHORT_MAX] + "…"
    return head + ("…" if head != label.rstrip("…") else "")


def short_path(section: str) -> str:
    """A compact section path for prefixing indexed text: each level cut at its first comma."""
    return " > ".join(short_label(part) for part in section.split(" > ") if part)


class _Path:
    """The open headings, outermost first."""

    def __init__(self) -> None:
        self._open: list[tuple[float, str]] = []

    def enter(self, rank: float, label: str) -> None:
        self._open = [(r, lab) for r, lab in self._open if r < rank]
        self._open.append((rank, label))

    def close_enumeration(self) -> None:
        self._open = [(r, lab) for r, lab in self._open if r < ENUMERATION_RANK]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for _, label in self._open)

    def item_of_article(self, heading: Heading) -> bool:
        """A （一）/1. item with text of its own inside an open article is part of the article's body
        (款/项 of a regulation), not a heading: the article stays one section."""
        return (not heading.heading_only and heading.rank > ARTICLE_RANK
                and bool(self._open) and self._open[-1][0] == ARTICLE_RANK)


def walk(text: str) -> Iterator[Sentence]:
    """Yield the body sentences of a cleaned text with their section paths, in reading order."""
    path = _Path()
    for number, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        path.close_enumeration()
        heading = match_heading(line)
        if heading and not path.item_of_article(heading):
            path.enter(heading.rank, heading.label)
            if heading.heading_only:
                continue
        for sentence in split_sentences(line):
            if _ENUMERATION.match(sentence):
                path.enter(ENUMERATION_RANK, _label(sentence))
            yield Sentence(path.labels, sentence, number)
