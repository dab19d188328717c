"""WeCom settings, read once from the environment and `.env` (pydantic-settings).

Two channels share them: the self-built app ("wecom") starts when ``WECOM_AGENT_ID`` is set, the
WeChat Customer Service channel ("wecom_kf") when ``WECOM_KF_OPEN_KFIDS`` is set. A channel that
is switched on but lacks a setting refuses to start with a ``ConfigError`` naming it; so does a
deployment that set WeCom credentials without saying which channel they are for.
"""
from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.wecom.api import WeComClient
from adapters.wecom.tokens import TokenShare
from adapters.wecom.crypto import WeComCrypto
from bot.errors import ConfigError

DEFAULT_API = "https://qyapi.weixin.qq.com"
DEFAULT_PATH = "/wecom/callback"


class WeComSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=False)

    wecom_corp_id: str = ""
    wecom_agent_id: int | None = None
    wecom_secret: SecretStr = SecretStr("")
    wecom_token: str = ""
    wecom_encoding_aes_key: SecretStr = SecretStr("")
    wecom_api_base_url: str = DEFAULT_API
    wecom_kf_open_kfids: str = ""  # comma-separated open_kfid values to serve
    wecom_kf_secret: SecretStr = SecretStr("")  # optional; the app secret is used when empty
    wecom_callback_path: str = DEFAULT_PATH
    wecom_kf_callback_path: str = DEFAULT_PATH  # the same URL by default: routed by MsgType/Event
    wecom_callback_max_age: int = 3600  # seconds a callback timestamp (POST and URL check) may be off (0: none)
    wecom_request_timeout: float = 10.0
    wecom_workers: int = Field(16, ge=1, le=1000)  # app callbacks handled at once (the rest queue)

    @field_validator("wecom_agent_id", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("wecom_api_base_url")
    @classmethod
    def _no_trailing_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @property
    def kf_open_kfids(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.wecom_kf_open_kfids.split(",") if k.strip())

    @property
    def app_secret(self) -> str:
        return self.wecom_secret.get_secret_value().strip()

    @property
    def kf_secret(self) -> str:
        """The secret for kf API calls: its own when set, else the app's."""
        return self.wecom_kf_secret.get_secret_value().strip() or self.app_secret

    @property
    def aes_key(self) -> str:
        return self.wecom_encoding_aes_key.get_secret_value().strip()

    def make_crypto(self) -> WeComCrypto:
        return WeComCrypto(self.wecom_token.strip(), self.aes_key, self.wecom_corp_id.strip())

    def make_client(self, shared: TokenShare | None = None) -> WeComClient:
        return WeComClient(self.wecom_api_base_url, self.wecom_corp_id.strip(),
                           timeout=self.wecom_request_timeout, shared=shared)

    def _shared_missing(self) -> list[str]:
        values = {"WECOM_CORP_ID": self.wecom_corp_id.strip(), "WECOM_TOKEN": self.wecom_token.strip(),
                  "WECOM_ENCODING_AES_KEY": self.aes_key}
        return [name for name, value in values.items() if not value]

    def _touched(self) -> bool:
        return bool(self.wecom_corp_id.strip() or self.app_secret or self.wecom_token.strip()
                    or self.aes_key)

    def app_enabled(self) -> bool:
        """True when the self-built app channel is configured; ConfigError when half-configured."""
        if self.wecom_agent_id is None:
            if self._touched() and not self.kf_open_kfids:
                raise ConfigError("WeCom is half-configured: WECOM_AGENT_ID is missing (or set "
                                  "WECOM_KF_OPEN_KFIDS for a WeChat Customer Service deployment)")
            return False
        _require(self._shared_missing() + ([] if self.app_secret else ["WECOM_SECRET"]), "app")
        return True

    def kf_enabled(self) -> bool:
        """True when the WeChat Customer Service channel is configured; ConfigError when half-configured."""
        if not self.kf_open_kfids:
            if self.wecom_kf_secret.get_secret_value().strip():
                raise ConfigError("WeChat Customer Service is half-configured: WECOM_KF_OPEN_KFIDS is missing")
            return False
        missing = self._shared_missing() + ([] if self.kf_secret else ["WECOM_KF_SECRET (or WECOM_SECRET)"])
        _require(missing, "WeChat Customer Service")
        return True


def _require(missing: list[str], what: str) -> None:
    if missing:
        raise ConfigError(f"WeCom {what} channel is half-configured: {', '.join(missing)} missing")


def load_wecom_settings(**overrides: object) -> WeComSettings:
    try:
        return WeComSettings(**overrides)  # type: ignore[arg-type]
    except Exception as exc:  # pydantic.ValidationError
        raise ConfigError(f"invalid WeCom settings: {exc}") from exc
