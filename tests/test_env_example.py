"""`.env.example` lists every setting the assistant reads, and nothing it does not."""
from __future__ import annotations

import re
from pathlib import Path

from adapters.console.settings import ConsoleSettings
from adapters.telegram.settings import TelegramSettings
from adapters.wecom.settings import WeComSettings
from bot.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def test_every_setting_is_in_env_example_and_every_line_there_is_a_setting():
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", EXAMPLE.read_text(encoding="utf-8"), re.M))
    read = {(field.alias or name).upper() for cls in (Settings, TelegramSettings, WeComSettings, ConsoleSettings)
            for name, field in cls.model_fields.items()}
    assert sorted(read - listed) == []  # settings nobody can find
    assert sorted(listed - read) == []  # lines that do nothing
