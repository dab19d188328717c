"""Text from users, made storable and judged for emptiness before anything else sees it.

- `scrub`: lone UTF-16 surrogates (valid JSON, `"\\ud800"`, but not encodable as UTF-8) become U+FFFD
  and NUL characters are dropped (PostgreSQL text cannot hold them), so no database write fails on them.
- `is_blank`: only whitespace, control or invisible format characters (zero-width space/joiner,
  BOM, direction marks): a message of those is empty.
"""
from __future__ import annotations

import re
import unicodedata

_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", text)


def is_blank(text: str) -> bool:
    return all(ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc") for ch in text)
