"""The password rule for console accounts: long enough, not common, not trivial.

Refused: fewer than 10 characters; control or format characters (NUL, zero-width, ...); only
whitespace or leading/trailing whitespace; one character repeated or fewer than 4 distinct ones;
a run along the alphabet, the digits or a keyboard row (`1234567890`, `abcdefghij`, `qwertyuiop`,
also backwards); a common password from the bundled list (`data/common_passwords.txt`), also with
digits or punctuation added at the end or the same word repeated; the username itself.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from bot.errors import BadRequestError

MIN_PASSWORD = 10
MIN_DISTINCT = 4
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm",
              "1qaz2wsx3edc4rfv5tgb", "qazwsxedcrfvtgbyhnujm")
_TAIL = re.compile(r"[\d\W_]+$")


@lru_cache(maxsize=1)
def common() -> frozenset[str]:
    path = Path(__file__).parent / "data" / "common_passwords.txt"
    lines = (line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _is_run(text: str) -> bool:
    """The whole text is one stretch of a sequence (either way round), e.g. 1234567890 or poiuytrewq."""
    return any(text in seq or text in seq[::-1] or text in (seq * 3) for seq in _SEQUENCES)


def _is_common(text: str) -> bool:
    folded = re.sub(r"\s+", "", text.lower())
    stem = _TAIL.sub("", folded) or folded
    words = {folded, stem}
    for size in range(2, len(folded) // 2 + 1):  # the same word repeated: passwordpassword, abcabcabcabc
        if len(folded) % size == 0 and folded[:size] * (len(folded) // size) == folded:
            words.add(folded[:size])
    return bool(words & common()) or _is_run(folded) or (stem != folded and _is_run(stem) and len(stem) >= 6)


def problem(password: str, username: str = "") -> str | None:
    """Why the password is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD:
        return f"the password needs at least {MIN_PASSWORD} characters"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in password):
        return "the password contains control or invisible characters"
    if password != password.strip():
        return "the password starts or ends with whitespace"
    if len(set(password.lower())) < MIN_DISTINCT:
        return f"the password needs at least {MIN_DISTINCT} different characters"
    if _is_common(password):
        return "the password is too common or too easy to guess"
    if len(username) >= 4 and username.lower() in password.lower():
        return "the password contains the username"
    return None


def check(password: str, username: str = "") -> None:
    reason = problem(password, username)
    if reason is not None:
        raise BadRequestError(reason)
