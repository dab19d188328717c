"""Prompt templates and every user-facing sentence, as data files in `zh/` and `en/`.

`text(lang, key, **fields)` returns one user-facing sentence; `template(lang, name)` returns a
prompt template file's content. Unknown languages fall back to Chinese.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent
LANGS = ("zh", "en")


def _lang(lang: str | None) -> str:
    return lang if lang in LANGS else "zh"


@lru_cache(maxsize=None)
def messages(lang: str) -> dict[str, str]:
    with (HERE / _lang(lang) / "messages.toml").open("rb") as fh:
        return tomllib.load(fh)


def text(lang: str | None, key: str, **fields: object) -> str:
    """One user-facing sentence in the given language, with `{field}`s filled in."""
    raw = messages(_lang(lang)).get(key) or messages("zh")[key]
    return raw.format(**fields) if fields else raw


@lru_cache(maxsize=None)
def template(lang: str | None, name: str) -> str:
    path = HERE / _lang(lang) / f"{name}.txt"
    return path.read_text(encoding="utf-8").strip()


@lru_cache(maxsize=None)
def _table(lang: str, name: str) -> dict[str, str]:
    with (HERE / lang / f"{name}.toml").open("rb") as fh:
        return tomllib.load(fh)


def text_from(name: str, lang: str | None, key: str, **fields: object) -> str:
    """One sentence of the data file `<lang>/<name>.toml` (e.g. "calendar"), Chinese as fallback."""
    raw = _table(_lang(lang), name).get(key) or _table("zh", name)[key]
    return raw.format(**fields) if fields else raw
