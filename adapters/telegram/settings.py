"""Telegram settings, read once from the environment and `.env` (pydantic-settings).

    TELEGRAM_BOT_TOKEN        the bot's token (unset: the channel is off)
    TELEGRAM_API_BASE_URL     Bot API base; PTB appends the token (a self-hosted Bot API server, tests)
    TELEGRAM_PROXY_URL        http(s):// or socks5:// proxy for every Bot API call (mainland China)
    TELEGRAM_WEBHOOK_URL      public https URL forwarding to POST /telegram/webhook; set: webhook mode
    TELEGRAM_WEBHOOK_SECRET   1-256 of A-Za-z0-9_-; required with a webhook URL
    TELEGRAM_STAFF_CHAT_ID    the technology managers' forum supergroup (one topic per handoff ticket)
    TELEGRAM_STAFF_LANG       language of what the bot writes in that group: zh (default) or en
    TELEGRAM_RATE_LIMIT_RETRIES  how often a 429 is waited out and retried (AIORateLimiter)
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.settings import PLACEHOLDER_SECRETS

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = DEFAULT_API_BASE_URL
    telegram_proxy_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_staff_chat_id: int | None = None
    telegram_staff_lang: Literal["zh", "en"] = "zh"
    telegram_rate_limit_retries: int = 2

    @field_validator("telegram_proxy_url", "telegram_webhook_url", "telegram_staff_chat_id", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @property
    def token(self) -> str:
        return self.telegram_bot_token.get_secret_value().strip() if self.telegram_bot_token else ""

    @property
    def webhook_secret(self) -> str:
        return self.telegram_webhook_secret.get_secret_value() if self.telegram_webhook_secret else ""

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    @property
    def webhook_mode(self) -> bool:
        return bool(self.telegram_webhook_url)

    def base_file_url(self) -> str:
        """PTB's file URL next to the API URL: .../bot -> .../file/bot."""
        base = self.telegram_api_base_url.rstrip("/")
        head, _, tail = base.rpartition("/")
        return f"{head}/file/{tail}" if head else f"{base}/file"

    def check(self) -> None:
        """Refuse a webhook without a real, well-formed secret."""
        url = self.telegram_webhook_url
        if not url:  # not webhook_mode
            return
        if not url.startswith(("https://", "http://")):
            raise ConfigError("TELEGRAM_WEBHOOK_URL must be an http(s) URL")
        secret = self.webhook_secret
        if not secret or secret.lower() in PLACEHOLDER_SECRETS:
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL (not a placeholder)")
        if not _SECRET.fullmatch(secret):
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -")


def load_telegram_settings(**overrides: object) -> TelegramSettings:
    """Read and check the Telegram settings; keyword overrides win (tests)."""
    try:
        settings = TelegramSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"invalid Telegram settings: {exc}") from exc
    settings.check()
    return settings
