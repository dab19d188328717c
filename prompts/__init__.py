"""Prompt templates and every user-facing sentence, as data files in `zh/` and `en/`.

`text(lang, key, **fields)` returns one user-facing sentence; `template(lang, name)` returns a
prompt template file's content. Unknown languages fall back to Chinese.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
LANGS = ("zh", "en")


def _lang(lang: str | None) -> str:
    return lang if lang in LANGS else "zh"


@lru_cache(maxsize=None)
def table(lang: str | None, name: str) -> dict[str, Any]:
    """The data file `<lang>/<name>.toml` (messages, web, console, telegram, wecom, calendar, …): the one
    loader of sentence files; unknown languages read the Chinese file."""
    with (HERE / _lang(lang) / f"{name}.toml").open("rb") as fh:
        return tomllib.load(fh)


def messages(lang: str) -> dict[str, str]:
    return table(lang, "messages")


def text(lang: str | None, key: str, /, **fields: object) -> str:
    """One user-facing sentence in the given language, with `{field}`s filled in."""
    raw = messages(_lang(lang)).get(key) or messages("zh")[key]
    return raw.format(**fields) if fields else raw


@lru_cache(maxsize=None)
def template(lang: str | None, name: str) -> str:
    path = HERE / _lang(lang) / f"{name}.txt"
    return path.read_text(encoding="utf-8").strip()


def text_from(name: str, lang: str | None, key: str, /, **fields: object) -> str:
    """One sentence of the data file `<lang>/<name>.toml` (e.g. "calendar"), Chinese as fallback."""
    raw = str(table(lang, name).get(key) or table("zh", name)[key])
    return raw.format(**fields) if fields else raw
