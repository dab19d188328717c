"""Console settings, read once from the environment and `.env` (pydantic-settings).

    CONSOLE_ENABLED                 serve /console and /api/admin (default true)
    CONSOLE_SESSION_HOURS           a login lasts this long (default 12)
    CONSOLE_MAX_UPLOAD_MB           largest document upload (default 20)
    CONSOLE_LOGIN_MAX_FAILURES      failed logins of one account from one address before back-off (default 5)
    CONSOLE_LOGIN_BACKOFF_SECONDS   the first back-off of such a pair, doubling per further failure (default 60)
    CONSOLE_LOGIN_MAX_IP_FAILURES   failed logins per client address in the window, any account (default 20)
    CONSOLE_LOGIN_WINDOW_MINUTES    the window of the per-address limit (default 15)
    CONSOLE_TOKEN_DAYS              API tokens expire after this many days unless issued otherwise (default 90; 0 never)
    CONSOLE_PAGE_SIZE               conversations per page (default 50)
    CONSOLE_TRUSTED_PROXIES         reverse proxies whose X-Forwarded-For is believed (default: none, e.g. 127.0.0.1)
"""
from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=False)

    console_enabled: bool = True
    console_session_hours: float = Field(12.0, gt=0)
    console_max_upload_mb: float = Field(20.0, gt=0)
    console_login_max_failures: int = Field(5, ge=1)
    console_login_max_ip_failures: int = Field(20, ge=1)
    console_login_window_minutes: float = Field(15.0, gt=0)
    console_page_size: int = Field(50, ge=5, le=500)
    console_login_backoff_seconds: float = Field(60.0, gt=0)
    console_token_days: float = Field(90.0, ge=0)
    console_trusted_proxies: str = ""

    @property
    def trusted_proxies(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.console_trusted_proxies.split(",") if p.strip())

    @property
    def max_upload_bytes(self) -> int:
        return int(self.console_max_upload_mb * 1024 * 1024)


def load_console_settings(**overrides: object) -> ConsoleSettings:
    try:
        return ConsoleSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"invalid console settings: {exc}") from exc
