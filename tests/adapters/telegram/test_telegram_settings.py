"""Telegram settings and the `create` factory that `qdbot serve` calls."""
from __future__ import annotations


import pytest

from adapters.telegram import TelegramChannel, create, load_telegram_settings
from adapters.telegram.channel import build_application
from bot.errors import ConfigError


# SQLite only: settings never touch the store.
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No TELEGRAM_* variables and no `.env` in the working directory."""
    monkeypatch.chdir(tmp_path)
    for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "TELEGRAM_PROXY_URL", "TELEGRAM_WEBHOOK_URL",
                "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_STAFF_CHAT_ID", "TELEGRAM_STAFF_LANG"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@SQLITE_ONLY
def test_without_a_token_there_is_no_telegram_channel(clean_env, engine, settings):
    assert create(engine, settings) is None


@SQLITE_ONLY
def test_the_token_from_the_environment_makes_a_polling_channel_with_no_routes(clean_env, engine, settings):
    clean_env.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    clean_env.setenv("TELEGRAM_STAFF_CHAT_ID", "-100777")
    channel = create(engine, settings)
    assert isinstance(channel, TelegramChannel) and channel.routes() == []
    assert channel.config.telegram_staff_chat_id == -100777 and channel.staff.chat_id == -100777
    assert channel.staff.lang == "zh"
    assert channel.application.bot.base_url == "https://api.telegram.org/bot123:abc"


def test_a_webhook_url_without_a_secret_is_refused_naming_the_setting(clean_env):
    clean_env.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    clean_env.setenv("TELEGRAM_WEBHOOK_URL", "https://bot.example.org/telegram/webhook")
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        load_telegram_settings()


@pytest.mark.parametrize("secret", ["has space", "x" * 257, "changeme", "é"])
def test_a_malformed_or_placeholder_webhook_secret_is_refused(clean_env, secret):
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        load_telegram_settings(telegram_bot_token="123:abc", telegram_webhook_secret=secret,
                               telegram_webhook_url="https://bot.example.org/telegram/webhook")


@SQLITE_ONLY
def test_webhook_mode_serves_one_post_route_on_the_shared_server(clean_env, engine, settings):
    config = load_telegram_settings(telegram_bot_token="123:abc", telegram_webhook_secret="Abc_123-x",
                                    telegram_webhook_url="https://bot.example.org/telegram/webhook",
                                    telegram_proxy_url="http://127.0.0.1:3128")
    channel = create(engine, settings, config)
    [route] = channel.routes()
    assert (route.method, route.path) == ("POST", "/telegram/webhook") and channel.application.updater is None


def test_the_file_url_follows_a_self_hosted_api_base(clean_env):
    config = load_telegram_settings(telegram_bot_token="1:a", telegram_api_base_url="http://127.0.0.1:8081/bot")
    assert config.base_file_url() == "http://127.0.0.1:8081/file/bot"


def test_a_socks5_proxy_is_accepted_for_reaching_telegram_from_mainland_china(clean_env):
    config = load_telegram_settings(telegram_bot_token="1:a", telegram_proxy_url="socks5://127.0.0.1:1080")
    application = build_application(config)
    assert application.bot is not None


def test_the_staff_group_language_is_zh_or_en_and_anything_else_is_refused_naming_the_setting(clean_env):
    clean_env.setenv("TELEGRAM_STAFF_LANG", "en")
    assert load_telegram_settings(telegram_bot_token="1:a").telegram_staff_lang == "en"
    clean_env.setenv("TELEGRAM_STAFF_LANG", "fr")
    with pytest.raises(ConfigError, match="telegram_staff_lang"):
        load_telegram_settings(telegram_bot_token="1:a")
