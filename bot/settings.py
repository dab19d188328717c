"""Settings, read once from the environment and `.env` (pydantic-settings), then passed down.

Every field is named after its environment variable (case-insensitive). Secrets are `SecretStr`
and never logged. `.env.example` documents each one with its default.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "placeholder", "xxx", "your-secret"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # -- where things live
    qdbot_data_dir: Path = Path("./data")
    database_url: str | None = None  # default: SQLite under the data dir
    db_pool_size: int = Field(10, ge=1)  # PostgreSQL connections kept per worker
    db_max_overflow: int = Field(10, ge=0)  # extra connections per worker under load
    qdbot_log_level: str = "INFO"
    qdbot_log_format: Literal["console", "json"] = "console"

    # -- serving
    qdbot_host: str = "127.0.0.1"
    qdbot_port: int = 8080
    qdbot_public_url: str | None = None
    qdbot_secret_key: SecretStr = SecretStr("")

    # -- LLM (OpenAI-compatible); LLM mode when a key or a base URL is set
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_temperature: float = 0.1
    llm_timeout: float = 30.0
    llm_max_retries: int = 1
    llm_classify_intent: bool = True

    # -- embeddings
    embedding_provider: Literal["local", "openai"] = "local"
    embedding_base_url: str | None = None  # default: OPENAI_BASE_URL, else https://api.openai.com/v1
    embedding_model: str = "text-embedding-3-small"
    embedding_api_key: SecretStr | None = None  # default: OPENAI_API_KEY, only on OPENAI_BASE_URL's host
    embedding_batch_size: int = 64
    embedding_query_cache: int = Field(4096, ge=0)  # recent query vectors kept in memory (0: none)

    # -- vector store
    chroma_host: str | None = None
    chroma_port: int = 8000
    chroma_ssl: bool = False
    chroma_collection: str = "qd_policies"

    # -- retrieval and answering
    retrieval_top_k: int = Field(5, ge=1, le=50)
    retrieval_candidates: int = Field(30, ge=1, le=500)
    retrieval_min_score: float = Field(0.3, ge=0.0, le=1.0)  # calibrated relevance of the best passage
    chunk_max_chars: int = Field(420, ge=80, le=4000)
    home_region: str = "青岛市"  # the region a question that names no place is about (see bot/regions.py)
    history_turns: int = Field(6, ge=0, le=50)
    history_max_age_minutes: float = Field(60.0, gt=0)  # older turns do not shape follow-up questions
    max_message_chars: int = Field(2000, ge=10, le=20000)
    max_concurrency: int = Field(32, ge=1, le=1000)  # answers generated at once, overall
    rate_limit_per_minute: int = Field(20, ge=0)  # messages per user per minute (0: no limit)
    shutdown_grace_seconds: float = Field(20.0, ge=0)
    recovery_grace_seconds: float = Field(120.0, ge=0)  # a message "processing" longer is a dead worker's
    conversation_lease_seconds: float = Field(30.0, ge=3)  # a killed worker's hold on a conversation ends after
    inbox_lease_seconds: float = Field(60.0, ge=1)  # a stored callback a dead worker was handling is taken again after

    # -- knowledge-base ingest: parse limit and screening (issue 12, findings 5 and 16)
    kb_parse_timeout_seconds: float = Field(60.0, gt=0, le=3600)  # a document's parse is ended after this
    kb_allowed_link_hosts: str = "gov.cn"  # comma-separated hosts (and their subdomains) passages may link to

    # -- web chat
    web_rate_limit_per_ip: int = Field(60, ge=0)  # chat messages per client address per minute, per worker (0: no limit)
    web_trusted_proxies: str = ""  # reverse proxies whose X-Forwarded-For the web chat believes (none by default)

    # -- handoff to technology managers
    handoff_roster_file: Path | None = None  # YAML roster of technology managers
    handoff_timezone: str = "Asia/Shanghai"
    handoff_renotify_minutes: float = Field(10.0, gt=0)
    handoff_expire_hours: float = Field(72.0, gt=0)
    handoff_active_timeout_hours: float = Field(24.0, gt=0)
    handoff_intake_timeout_minutes: float = Field(30.0, gt=0)
    handoff_office_hours: str = "mon-fri 09:00-12:00,13:30-17:30"  # told to users when the roster is empty

    # -- policy status, application calendar, subscriptions (issue 16)
    calendar_timezone: str = "Asia/Shanghai"  # "today" for policy status, calendar answers and notices
    calendar_llm_extract: bool = True  # also read application windows with the LLM at ingest (LLM mode only)
    notice_closing_days: int = Field(7, ge=0, le=365)  # subscribers hear of windows closing within this many days
    notice_digest_hours: float = Field(24.0, gt=0)  # at most one notice per subscriber in this period
    notice_check_seconds: float = Field(60.0, ge=1)  # how often new documents and closing windows are looked for
    # -- eligibility self-check (issue 17)
    support_items_auto_publish: bool = False  # match items read at ingest without an operator publishing them
    support_items_llm_extract: bool = False  # also read support items with the LLM at ingest (LLM mode only; opt-in)

    @field_validator("openai_base_url", "embedding_base_url", "chroma_host", "database_url", "handoff_roster_file",
                     mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("home_region")
    @classmethod
    def _known_region(cls, v: str) -> str:
        from bot import regions

        found = regions.find_places(v.strip())
        if len(found) != 1:
            raise ValueError(f"HOME_REGION must name one region of bot/regions.py (e.g. 青岛市), not {v!r}")
        return found[0]

    @property
    def llm_enabled(self) -> bool:
        key = self.openai_api_key.get_secret_value() if self.openai_api_key else ""
        return bool(key.strip() or self.openai_base_url)

    @cached_property
    def data_dir(self) -> Path:
        return self.qdbot_data_dir.expanduser().resolve()

    @property
    def db_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql+asyncpg://" + url[len("postgres://"):]
            elif url.startswith("postgresql://"):
                url = "postgresql+asyncpg://" + url[len("postgresql://"):]
            return url
        return f"sqlite+aiosqlite:///{self.data_dir / 'qdbot.db'}"

    def ensure_data_dir(self) -> Path:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"QDBOT_DATA_DIR {self.data_dir} cannot be created: {exc}") from exc
        return self.data_dir

    def secret_key(self) -> bytes:
        """The signing key; generated once and kept in the data dir when not configured."""
        configured = self.qdbot_secret_key.get_secret_value()
        if configured.strip():
            return configured.encode()
        path = self.ensure_data_dir() / ".secret_key"
        if not path.exists():
            import secrets

            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()

    def check_public_bind(self) -> None:
        """Refuse placeholder secrets when listening beyond loopback."""
        if self.qdbot_host in ("127.0.0.1", "localhost", "::1"):
            return
        if self.qdbot_secret_key.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
            raise ConfigError(
                f"QDBOT_HOST={self.qdbot_host} is a public bind: set QDBOT_SECRET_KEY to a real secret"
            )


def load_settings(**overrides: object) -> Settings:
    """Read the settings once; keyword overrides win (used by the CLI and tests)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except Exception as exc:  # pydantic.ValidationError
        raise ConfigError(f"invalid settings: {exc}") from exc
