"""The WeCom sentences in ``prompts/<lang>/wecom.toml`` (the same shape as ``prompts.text``)."""
from __future__ import annotations

import tomllib
from functools import lru_cache

import prompts


@lru_cache(maxsize=None)
def _messages(lang: str) -> dict[str, str]:
    with (prompts.HERE / lang / "wecom.toml").open("rb") as fh:
        return tomllib.load(fh)


def text(lang: str | None, key: str, **fields: object) -> str:
    """One WeCom sentence in ``lang`` (Chinese when unknown or missing), ``{field}``s filled in."""
    lang = lang if lang in prompts.LANGS else "zh"
    raw = _messages(lang).get(key) or _messages("zh")[key]
    return raw.format(**fields) if fields else raw
