"""Structure-aware chunking: sentences of one section packed into chunks of bounded size.

A chunk never crosses a section boundary and never cuts a sentence; only a single sentence
longer than the limit is split, at clause punctuation, and as a last resort by length.
Chunk ids are content hashes, so re-chunking unchanged text yields the same ids.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from collections.abc import Iterable, Iterator
from itertools import groupby

from bot.records import ChunkRecord
from knowledge.structure import Sentence, short_label, short_path, walk

SECTION_SEPARATOR = " > "
_CLAUSE = re.compile(r"(?<=[，,、：:])")
ID_LENGTH = 32


def chunk_id(doc_id: str, section: str, text: str, occurrence: int = 0, title: str = "") -> str:
    """sha256 of (doc id, section, text, title), hex, truncated; `occurrence` separates exact
    repeats. The title is part of what is embedded, so a corrected title means new ids."""
    key = "\x1f".join((doc_id, section, text) + ((str(occurrence),) if occurrence else ())
                      + ((title,) if title else ()))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:ID_LENGTH]


def index_text(section: str, text: str, title: str = "") -> str:
    """The text that is embedded and indexed (contextual chunk text): the document's title line
    (with its region, see `knowledge.identity.header`; cut at its first clause break), the short
    section heading, the text."""
    prefix = "\n".join(p for p in (short_label(title) if title else "", short_path(section)) if p)
    return f"{prefix}\n{text}" if prefix else text


def record_index_text(chunk: ChunkRecord) -> str:
    return index_text(chunk.section, chunk.text, chunk.title)


def split_long_sentence(sentence: str, max_chars: int) -> list[str]:
    """Split one over-long sentence at clause punctuation, then by length if still too long."""
    parts: list[str] = []
    for clause in pack(_CLAUSE.split(sentence), max_chars, joiner=""):
        parts.extend(clause[i:i + max_chars] for i in range(0, len(clause), max_chars))
    return parts


def pack(pieces: Iterable[str], max_chars: int, joiner: str = "") -> Iterator[str]:
    """Greedily join consecutive pieces while the result stays within `max_chars`."""
    current = ""
    for piece in pieces:
        if current and len(current) + len(joiner) + len(piece) > max_chars:
            yield current
            current = piece
        else:
            current = f"{current}{joiner}{piece}" if current else piece
    if current:
        yield current


def _units(sentences: list[Sentence], max_chars: int) -> Iterator[str]:
    """Sentences as packing units: a paragraph break becomes a leading newline."""
    previous = None
    for s in sentences:
        parts = split_long_sentence(s.text, max_chars) if len(s.text) > max_chars else [s.text]
        if previous is not None and s.paragraph != previous:
            parts[0] = "\n" + parts[0]
        previous = s.paragraph
        yield from parts


def section_texts(text: str, max_chars: int) -> Iterator[tuple[str, str]]:
    """(section path, chunk text) pairs in reading order."""
    for path, group in groupby(walk(text), key=lambda s: s.path):
        section = SECTION_SEPARATOR.join(path)
        for chunk in pack(_units(list(group), max_chars), max_chars + 1):
            yield section, chunk.strip()


def chunk_document(doc_id: str, title: str, source: str, text: str, max_chars: int) -> list[ChunkRecord]:
    """Chunk a cleaned document into records carrying section path, title, source and position."""
    chunks = [ChunkRecord(id="", doc_id=doc_id, position=position, title=title, section=section,
                          source=source, text=body)
              for position, (section, body) in enumerate(section_texts(text, max_chars))]
    return rechunk_with_title(doc_id, title, chunks)


def rechunk_with_title(doc_id: str, title: str, chunks: list[ChunkRecord]) -> list[ChunkRecord]:
    """The same chunks under another title line (new ids, since the title is indexed with them)."""
    out: list[ChunkRecord] = []
    seen: dict[str, int] = {}
    for c in sorted(chunks, key=lambda c: c.position):
        base = chunk_id(doc_id, c.section, c.text, title=title)
        seen[base] = seen.get(base, -1) + 1
        cid = chunk_id(doc_id, c.section, c.text, seen[base], title) if seen[base] else base
        out.append(replace(c, id=cid, title=title))
    return out
