"""Conversations of every kind, made by the real engine, for the list, export and dashboard tests."""
from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy import func, select, text, update

from bot.store.models import ConversationRow, MessageRow
from bot.types import Role, utcnow
from tests.console.conftest import QUESTION, say

INTAKE = ("2", "海洋生物", "青岛某某科技有限公司", "王先生", "13812345678", "一项海藻提取专利想授权给企业")


async def backdate(store, conversation_id: int, days: int) -> None:
    when = utcnow() - timedelta(days=days)
    async with store.engine.begin() as conn:
        await conn.execute(update(ConversationRow).where(ConversationRow.id == conversation_id)
                           .values(created_at=when, updated_at=when))
        await conn.execute(update(MessageRow).where(MessageRow.conversation_id == conversation_id).values(created_at=when))


async def seed(c) -> dict[str, int]:
    """answered+👍 (web), unanswered (telegram, 40 days ago), handed off (web), 👎 (web), curated (web)."""
    ids = {}
    out = await say(c, QUESTION, "up1")
    await c.app.engine.feedback("web", "up1", out.replies[-1].message_id, "up")
    ids["up"] = out.conversation_id
    ids["unanswered"] = (await say(c, "深圳的人工智能企业补贴标准是多少？", "tg1", channel="telegram")).conversation_id
    await backdate(c.store, ids["unanswered"], 40)
    ids["handoff"] = (await say(c, "/human", "ho1")).conversation_id
    for answer in INTAKE:
        await say(c, answer, "ho1")
    out = await say(c, "市级财政科技资金每年增长多少？", "down1")
    await c.app.engine.feedback("web", "down1", out.replies[-1].message_id, "down")
    ids["down"] = out.conversation_id
    ids["curated"] = (await say(c, "/help Proof of concept platforms", "cur1")).conversation_id
    await c.store.record_reply(ids["curated"], "web", Role.ASSISTANT, "运营审核的答复", mode="curated")
    return ids


_MIGRATION = importlib.import_module("bot.store.migrations.versions.0004_console")


@asynccontextmanager
async def search_index_suspended(store):
    """Bulk loads without per-row full-text upkeep: the index is rebuilt once afterwards."""
    sqlite = store.dialect == "sqlite"
    async with store.engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER messages_fts_ai" if sqlite else "DROP INDEX ix_messages_text_trgm"))
    try:
        yield
    finally:
        async with store.engine.begin() as conn:
            if sqlite:
                await conn.execute(text(_MIGRATION._SQLITE_FTS[1]))
                await conn.execute(text(_MIGRATION._SQLITE_FTS[-1]))
            else:
                await conn.execute(text(_MIGRATION._PG_TRGM[1]))
                await conn.execute(text("ANALYZE"))


async def bulk(store, n: int, *, channels: tuple[str, ...] = ("web", "telegram", "wecom"), per: int = 2,
               batch: int = 10_000) -> None:
    """`n` conversations with `per` messages each (a question and an answer), one a minute, inserted in bulk:
    every 50th answer is a no-answer, every 100th is rated 👎."""
    async with store.engine.begin() as conn:
        first = int((await conn.execute(select(func.coalesce(func.max(ConversationRow.id), 0)))).scalar_one()) + 1
    async with search_index_suspended(store):
        for start in range(0, n, batch):
            await _insert(store, range(first + start, first + min(start + batch, n)), first, n, channels, per)
    if store.dialect == "postgresql":  # explicit ids: move the sequence past them
        async with store.engine.begin() as conn:
            await conn.execute(text("SELECT setval(pg_get_serial_sequence('conversations', 'id'), "
                                    "(SELECT max(id) FROM conversations))"))


_CONV_COLS = ("id", "channel", "chat_id", "user_id", "created_at", "updated_at", "blocked")
_MSG_COLS = ("conversation_id", "channel", "role", "text", "created_at", "status", "no_answer", "handoff", "mode",
             "feedback", "meta")


def _sql(store, table: str, cols: tuple[str, ...]) -> str:
    marks = ", ".join("?" if store.dialect == "sqlite" else f"${n}" for n in range(1, len(cols) + 1))
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"


async def _insert(store, ids: range, first: int, n: int, channels: tuple[str, ...], per: int) -> None:
    """Plain driver executemany (SQLAlchemy's per-row processing would triple the load time)."""
    now, sqlite = utcnow(), store.dialect == "sqlite"
    at = {i: now - timedelta(minutes=n - (i - first)) for i in ids}
    when = {i: at[i].strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else at[i] for i in ids}
    convs = [(i, channels[i % len(channels)], f"bulk{i}", f"user{i}", when[i], when[i], False) for i in ids]
    msgs = [(i, channels[i % len(channels)], "assistant" if k % 2 else "user",
             f"答复{i}：请按政策申报" if k % 2 else f"第{i}号企业问：高新技术企业认定奖励{i % 97}", when[i], "sent",
             k == 1 and i % 50 == 0, False, "extractive" if k % 2 else None,
             "down" if k == 1 and i % 100 == 0 else None, "{}") for i in ids for k in range(per)]
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql(_sql(store, "conversations", _CONV_COLS), convs)
        await conn.exec_driver_sql(_sql(store, "messages", _MSG_COLS), msgs)
