"""WeCom settings and factories: a channel starts only when configured, and says what is missing."""
from __future__ import annotations

import asyncio

import pytest

from adapters.wecom import create, create_kf, load_wecom_settings
from adapters.wecom.budget import SendBudget
from adapters.wecom.translate import app_message, dedupe_key
from bot.errors import ConfigError, DeliveryError
from tests.adapters.wecom.harness import AES_KEY, TOKEN
from tests.fakes.engine import make_engine

APP_ENV = {"WECOM_CORP_ID": "wwcorp", "WECOM_AGENT_ID": "1000002", "WECOM_SECRET": "s3cret",
           "WECOM_TOKEN": TOKEN, "WECOM_ENCODING_AES_KEY": AES_KEY}


@pytest.fixture
def env(monkeypatch):
    for name in (*APP_ENV, "WECOM_KF_OPEN_KFIDS", "WECOM_KF_SECRET"):
        monkeypatch.delenv(name, raising=False)

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
    return apply


@pytest.fixture
def engine(lite_store, settings):
    return make_engine(lite_store, settings=settings)


def test_without_wecom_settings_neither_channel_starts(env, engine, settings):
    assert create(engine, settings) is None and create_kf(engine, settings) is None


def test_a_fully_configured_app_starts_and_kf_stays_off(env, engine, settings):
    env(**APP_ENV)
    channel = create(engine, settings)
    assert channel is not None and channel.name == "wecom"
    assert [r.method for r in channel.routes()] == ["GET", "POST"]
    assert create_kf(engine, settings) is None


@pytest.mark.parametrize("missing", ["WECOM_CORP_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_ENCODING_AES_KEY"])
def test_a_half_configured_app_refuses_to_start_naming_the_missing_setting(env, engine, settings, missing):
    env(**{k: v for k, v in APP_ENV.items() if k != missing})
    with pytest.raises(ConfigError, match=missing):
        create(engine, settings)


def test_credentials_without_an_agent_id_or_kf_accounts_name_the_agent_id(env, engine, settings):
    env(**{k: v for k, v in APP_ENV.items() if k != "WECOM_AGENT_ID"})
    with pytest.raises(ConfigError, match="WECOM_AGENT_ID"):
        create(engine, settings)


def test_a_kf_only_deployment_starts_kf_with_its_own_route(env, engine, settings):
    env(**{k: v for k, v in APP_ENV.items() if k not in ("WECOM_AGENT_ID", "WECOM_SECRET")},
        WECOM_KF_OPEN_KFIDS="wkA, wkB", WECOM_KF_SECRET="kf-secret")
    assert create(engine, settings) is None
    kf = create_kf(engine, settings)
    assert kf is not None and kf.kfids == ("wkA", "wkB") and kf.sender.secret == "kf-secret"
    assert [r.path for r in kf.routes()] == ["/wecom/callback", "/wecom/callback"]


def test_with_both_channels_on_one_url_the_app_serves_it_and_kf_mounts_nothing(env, engine, settings):
    env(**APP_ENV, WECOM_KF_OPEN_KFIDS="wkA")
    kf = create_kf(engine, settings)
    assert kf.sender.secret == "s3cret"  # no kf secret: the app's
    assert kf.routes() == [] and len(create(engine, settings).routes()) == 2


def test_kf_accounts_without_a_secret_name_it(env):
    env(**{k: v for k, v in APP_ENV.items() if k not in ("WECOM_AGENT_ID", "WECOM_SECRET")},
        WECOM_KF_OPEN_KFIDS="wkA")
    with pytest.raises(ConfigError, match="WECOM_KF_SECRET"):
        load_wecom_settings().kf_enabled()


def test_a_malformed_encoding_aes_key_is_refused(env, engine, settings):
    env(**{**APP_ENV, "WECOM_ENCODING_AES_KEY": "short"})
    with pytest.raises(ConfigError, match="EncodingAESKey"):
        create(engine, settings)


def test_the_member_budget_allows_30_messages_a_minute_then_waits():
    now = [0.0]
    budget = SendBudget(clock=lambda: now[0], max_wait=0.0)
    for _ in range(30):
        asyncio.run(budget.acquire("zhangsan"))
    assert budget.wait_needed("zhangsan") == pytest.approx(60.0)
    assert budget.wait_needed("lisi") == 0.0
    with pytest.raises(DeliveryError, match="budget"):
        asyncio.run(budget.acquire("zhangsan"))
    now[0] = 60.0
    assert budget.wait_needed("zhangsan") == 0.0


def test_events_dedupe_on_sender_and_time_and_a_new_follower_gets_the_welcome():
    fields = {"FromUserName": "zhangsan", "CreateTime": "1700000000", "MsgType": "event", "Event": "subscribe"}
    assert dedupe_key(fields) == "wecom:event:zhangsan:1700000000:subscribe"
    msg = app_message(fields)
    assert (msg.text, msg.kind, msg.chat_id) == ("/start", "text", "zhangsan")
    assert app_message({**fields, "Event": "enter_agent"}) is None
