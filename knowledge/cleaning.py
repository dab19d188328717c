"""Cleaning of extracted text: conversion artefacts, stray whitespace, broken line wraps.

`clean_text` is applied to every loaded document; `unwrap_lines` additionally re-joins the
hard-wrapped lines that PDF extraction produces (a line that does not end a sentence and is
not a heading belongs to the next one).
"""
from __future__ import annotations

import re

from knowledge.structure import is_heading_line

# Artefacts left by docx/html -> text converters (pandoc, LibreOffice, WPS ...).
_ARTEFACTS = re.compile(
    r"\[bookmark:[^\]]*\]"  # [bookmark: _GoBack]
    r"|\{#_?[A-Za-z0-9_]+(?:\s+\.anchor)?\}"  # {#_Toc123 .anchor}
    r"|\[\]\{#[^}]*\}"  # []{#_GoBack}
)
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WIDE_SPACES = re.compile("[\u3000\u00a0\u2002-\u200a\u202f\u205f\t]")
_SPACE_RUN = re.compile(r" {2,}")
_CJK = "\u4e00-\u9fff\u3400-\u4dbf，。；：、！？“”‘’（）《》【】"
_SPACE_IN_CJK = re.compile(f"(?<=[{_CJK}]) +(?=[{_CJK}])")
_BLANK_RUN = re.compile(r"\n{3,}")
_SENTENCE_END = tuple("。！？；：!?;:.…”’」』）)")


def normalise_line_breaks(text: str) -> str:
    """Turn CRLF, CR and Unicode line/paragraph separators into plain newlines."""
    return re.sub(r"\r\n?|[\u2028\u2029\u0085\x0b\x0c]", "\n", text)


def clean_line(line: str) -> str:
    """Clean one line: wide and zero-width spaces, runs of spaces, spaces between CJK characters."""
    line = _ZERO_WIDTH.sub("", line)
    line = _CONTROL.sub("", line)
    line = _WIDE_SPACES.sub(" ", line)
    line = _SPACE_RUN.sub(" ", line).strip()
    return _SPACE_IN_CJK.sub("", line)


def clean_text(text: str) -> str:
    """Remove conversion artefacts and stray whitespace; keep one blank line between blocks at most."""
    text = _ARTEFACTS.sub("", normalise_line_breaks(text))
    lines = [clean_line(line) for line in text.split("\n")]
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


def _joiner(left: str, right: str) -> str:
    """No space between CJK text, one space between Latin words."""
    if left[-1:].isascii() and right[:1].isascii() and left[-1:].isalnum():
        return " "
    return ""


def unwrap_lines(text: str) -> str:
    """Re-join hard-wrapped lines (PDF extraction) unless a line ends a sentence or is a heading."""
    out: list[str] = []
    for line in text.split("\n"):
        prev = out[-1] if out else ""
        if prev and line and not prev.endswith(_SENTENCE_END) and not is_heading_line(prev) \
                and not is_heading_line(line):
            out[-1] = prev + _joiner(prev, line) + line
        else:
            out.append(line)
    return "\n".join(out)
