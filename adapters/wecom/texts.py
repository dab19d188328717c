"""The WeCom sentences in ``prompts/<lang>/wecom.toml`` (the same shape as ``prompts.text``)."""
from __future__ import annotations

from typing import Any

import prompts


def text(lang: str | None, key: str, /, **fields: object) -> str:
    """One WeCom sentence in ``lang`` (Chinese when unknown or missing), ``{field}``s filled in."""
    return prompts.text_from("wecom", lang, key, **fields)


def session_change(data: dict[str, Any]) -> str:
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
