"""The Telegram channel in webhook mode: its route on an aiohttp server, updates from FakeTelegram."""
from __future__ import annotations

import aiohttp
import pytest

# Tests whose behaviour does not depend on the database backend run on SQLite only (time budget).
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"], indirect=True)

USER = 4242
QUESTION = "青岛计划建设多少家概念验证平台？"


@SQLITE_ONLY
async def test_start_registers_the_webhook_with_its_secret_and_no_polling_happens(webhook_channel, fake):
    [call] = await fake.wait_for("setWebhook")
    assert call.params["url"] == fake.webhook_url and call.params["secret_token"] == fake.webhook_secret
    assert set(call.params["allowed_updates"]) == {"message", "callback_query", "my_chat_member"}
    assert "getUpdates" not in {c.method for c in fake.calls}


async def test_an_update_with_the_right_secret_is_answered(webhook_channel, fake):
    update = fake.user_message(USER, USER, QUESTION)
    assert await fake.deliver_webhook(update) == 200
    [answer] = await fake.wait_for("sendMessage")
    assert "60家左右" in answer.params["text"] and answer.params["parse_mode"] == "HTML"


async def test_a_redelivered_update_is_answered_once(webhook_channel, fake, engine, records):
    update = fake.user_message(USER, USER, QUESTION)
    assert await fake.deliver_webhook(update) == 200
    assert await fake.deliver_webhook(dict(update)) == 200
    await fake.wait_for("sendMessage")
    assert await engine.drain(5)
    assert len(fake.sent_messages(USER)) == 1 and len(await records.messages(USER, "user")) == 1


async def test_a_wrong_or_missing_secret_is_rejected_and_nothing_is_stored(webhook_channel, fake, store):
    update = fake.user_message(USER, USER, QUESTION)
    assert await fake.deliver_webhook(update, secret="wrong-secret") == 403
    assert await fake.deliver_webhook(update, secret=None) == 401
    assert await store.count_messages() == 0 and fake.sent_messages() == []


@SQLITE_ONLY
async def test_a_body_that_is_not_an_update_is_a_400(webhook_channel, fake, store):
    headers = {"X-Telegram-Bot-Api-Secret-Token": fake.webhook_secret}
    async with aiohttp.ClientSession() as session:
        for body in (b"{not json", b"[1, 2]", b'{"message": {}}'):
            async with session.post(fake.webhook_url, data=body, headers=headers) as response:
                assert response.status == 400, body
    assert await store.count_messages() == 0


@SQLITE_ONLY
async def test_after_stop_the_webhook_answers_503_so_telegram_retries_later(webhook_channel, fake):
    await webhook_channel.stop()
    update = fake.user_message(USER, USER, QUESTION)
    assert await fake.deliver_webhook(update) == 503


async def test_an_update_is_in_the_inbox_when_it_is_acknowledged(webhook_channel, fake, store):
    update = fake.user_message(USER, USER, QUESTION)
    assert await fake.deliver_webhook(update) == 200
    rows = await store.inbox.rows("telegram")  # read right after the 200, before waiting
    assert [r["key"] for r in rows] == [str(update["update_id"])]
    await fake.wait_for("sendMessage")


@SQLITE_ONLY
async def test_an_update_that_cannot_be_stored_is_not_acknowledged(webhook_channel, fake, store):
    from sqlalchemy import text

    async with store.engine.begin() as conn:
        await conn.execute(text("DROP TABLE inbox"))
    assert await fake.deliver_webhook(fake.user_message(USER, USER, QUESTION)) == 503  # Telegram retries
    assert await store.count_messages() == 0


def _deeply_nested_update(update_id: int, depth: int = 5000) -> bytes:
    return (f'{{"update_id": {update_id}, "message": ' + '{"reply_to_message": ' * depth + "{}"
            + "}" * depth + "}").encode()


@SQLITE_ONLY
async def test_deeply_nested_json_is_a_400_and_never_stored(webhook_channel, fake, store):
    """Finding 9: JSON nested thousands of levels deep was a RecursionError (500); now a 400, before the inbox."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": fake.webhook_secret}
    async with aiohttp.ClientSession() as session:
        async with session.post(fake.webhook_url, data=_deeply_nested_update(77), headers=headers) as response:
            assert response.status == 400
            assert "nested" in (await response.json())["error"]
    assert await store.inbox.rows("telegram") == [] and await store.count_messages() == 0


@SQLITE_ONLY
async def test_a_poison_update_already_in_the_inbox_is_set_aside_and_the_next_is_answered(webhook_channel, fake, store):
    """A nested payload stored before the webhook refused such bodies is marked done, not retried, and
    the inbox workers keep answering."""
    assert await webhook_channel.inbox.accept("78", _deeply_nested_update(78).decode())
    update = fake.user_message(USER, USER, QUESTION)
    assert await fake.deliver_webhook(update) == 200
    [answer] = await fake.wait_for("sendMessage")
    assert "60家左右" in answer.params["text"]
    assert await webhook_channel.inbox.join(10)
    rows = {r["key"]: r["status"] for r in await store.inbox.rows("telegram")}
    assert rows == {"78": "done", str(update["update_id"]): "done"}
