"""Masking of personal data (phone numbers, ID numbers, e-mail addresses) for logs and exports."""
from __future__ import annotations

import re

_ID = re.compile(r"(?<!\d)(\d{6})(\d{8})(\d{3}[\dXx])(?!\d)")  # PRC resident ID: 18 chars
_MOBILE = re.compile(r"(?<!\d)(\+?86[- ]?)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)(\d{3,4})(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask(text: str | None) -> str:
    """The text with ID numbers, phone numbers and e-mail addresses partly hidden."""
    if not text:
        return text or ""
    text = _ID.sub(lambda m: f"{m.group(1)}********{m.group(3)[-1:].rjust(4, '*')}", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}***{m.group(2)}", text)


_CJK_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,6}$")


def mask_name(name: str | None) -> str:
    """A person's name partly hidden like a phone number: 王先生 -> 王**, Zhang Wei -> Z*** W***."""
    if not name or not name.strip():
        return name or ""
    name = name.strip()
    if _CJK_NAME.match(name):
        return name[0] + "*" * (len(name) - 1)
    return " ".join(part[0] + "***" if part else part for part in name.split(" "))
