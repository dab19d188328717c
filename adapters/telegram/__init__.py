"""The Telegram channel (python-telegram-bot 22): see `channel.TelegramChannel`.

`create(engine, settings)` is what `qdbot serve` calls: a channel when TELEGRAM_BOT_TOKEN is set,
else None. Telegram's own settings are read here from the environment and `.env`.
With TELEGRAM_STAFF_CHAT_ID set the channel is also where technology managers work on handoff
tickets: one forum topic per ticket in that supergroup (`staff.StaffRoom`).
"""
from __future__ import annotations

from adapters.telegram.channel import TelegramChannel
from adapters.telegram.settings import TelegramSettings, load_telegram_settings
from bot.engine import Engine
from bot.settings import Settings

__all__ = ["TelegramChannel", "TelegramSettings", "create", "load_telegram_settings"]


def create(engine: Engine, settings: Settings, telegram: TelegramSettings | None = None) -> TelegramChannel | None:
    """The Telegram channel, or None when TELEGRAM_BOT_TOKEN is unset; ConfigError on bad settings."""
    config = telegram or load_telegram_settings()
    if not config.enabled:
        return None
    config.check()
    return TelegramChannel(engine, config)
