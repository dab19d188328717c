"""Greetings, thanks, goodbyes and unknown /commands: a short friendly reply with example questions,
never a knowledge-base search and never a knowledge gap.

Only whole messages that are nothing but small talk match ("你好，青岛有哪些补贴？" is a question).
"""
from __future__ import annotations

import re

_FILLER = r"[\s,，.。!！~～?？呀啊呢哈嗯😊🙂👋🙏]*"
_KINDS = {
    "greeting": r"(你好|您好|嗨|哈喽|hello|hi|hey|在吗|在不在|有人吗|早上好|下午好|晚上好|good (morning|afternoon|evening))",
    "thanks": r"(谢谢|多谢|感谢|谢谢你|谢谢您|谢啦|thanks?( you)?|thx|好的谢谢|好的，谢谢|明白了谢谢)",
    "bye": r"(再见|拜拜|bye|goodbye|回头见)",
}
_PATTERNS = {kind: re.compile(rf"^{_FILLER}{body}{_FILLER}$", re.I) for kind, body in _KINDS.items()}
_COMMAND = re.compile(r"^/[A-Za-z_]\w{0,31}(@\w+)?(\s|$)")


def kind(text: str, known_commands: tuple[str, ...]) -> str | None:
    """"greeting" / "thanks" / "bye" / "unknown_command", or None for anything else."""
    stripped = text.strip()
    if _COMMAND.match(stripped):
        return None if stripped.split()[0].split("@")[0].lower() in known_commands else "unknown_command"
    if len(stripped) > 24:
        return None
    return next((k for k, pattern in _PATTERNS.items() if pattern.match(stripped)), None)
