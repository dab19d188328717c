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


def session_change(data: dict) -> str:
    """The transcript note for a kf ``session_status_change`` event (operators read it)."""
    change_type = data.get("change_type")
    if change_type in (1, 2, 3, 4):
        change = text("zh", f"kf_change_{change_type}")
    else:
        change = text("zh", "kf_change_other", change_type=change_type)
    servicer = data.get("new_servicer_userid") or ""
    if servicer:
        change += text("zh", "kf_session_servicer", servicer=servicer)
    return text("zh", "kf_session_status", change=change)
