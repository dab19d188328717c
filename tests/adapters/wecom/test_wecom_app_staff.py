"""Technology managers in the WeCom self-built app: the intake card through message/send, and
ticket commands that serve a user on another channel through the desk."""
from __future__ import annotations

import itertools

import prompts
from adapters.wecom import texts
from adapters.wecom.app_staff import Command, parse_command
from adapters.wecom.render import utf8_len
from bot.records import ManagerRecord
from bot.types import IncomingMessage, Role
from tests.adapters.wecom.harness import QUESTION, Deployment
from tests.fakes.channel import RecordingChannel

ALICE = ManagerRecord("alice", "张工", ("专利",), wecom_userid="alice_wx", kf_servicer_userid="alice_kf")
BOB = ManagerRecord("bob", "李工", ("人工智能",), wecom_userid="bob_wx")
INTAKE = ("2", "海洋生物", "青岛某某科技有限公司", "王先生", "13812345678", "一项海藻提取专利想授权给企业")
_ids = itertools.count(1)


class WebUser:
    """A web-chat user of the same engine (a recording channel named "web")."""

    def __init__(self, dep: Deployment):
        self.dep, self.channel = dep, RecordingChannel(name="web")
        dep.engine.register(self.channel)

    async def say(self, text: str):
        return await self.dep.engine.handle(IncomingMessage("web", "u1", "u1", text, channel_message_id=f"w{next(_ids)}"))

    def texts(self) -> list[str]:
        return [r.text for _, r in self.channel.sent]


async def ticket_for(dep: Deployment, user: WebUser):
    for m in (ALICE, BOB):
        await dep.store.tickets.upsert_manager(m)
    for text in ("转人工", *INTAKE):
        await user.say(text)
    (ticket,) = await dep.store.tickets.list()
    return ticket


async def manager(dep: Deployment, userid: str, text: str) -> str | None:
    """A member's text to the app; the app's last message to them afterwards."""
    await dep.ask(text, f"m{next(_ids)}", user=userid)
    await dep.settle()
    sent = app_texts(dep, userid)
    return sent[-1] if sent else None


def app_texts(dep: Deployment, userid: str) -> list[str]:
    return [d.text for d in dep.fake.sent("message") if userid in d.body["touser"].split("|")]


def t(key: str, **fields: object) -> str:
    return texts.text("zh", key, **fields)


async def test_the_card_reaches_the_manager_in_the_app_and_app_commands_serve_a_web_user(wecom_db):
    dep = wecom_db
    user = WebUser(dep)
    ticket = await ticket_for(dep, user)
    (card,) = dep.fake.sent("message")
    assert card.body["touser"] == "alice_wx" and not card.truncated  # 专利 matches Alice only
    assert card.text.startswith(t("staff_opened", ticket=ticket.id)) and "13812345678" in card.text

    assert await manager(dep, "alice_wx", f"认领 {ticket.id}") == t("staff_claimed", ticket=ticket.id)
    assert user.texts()[-1] == prompts.text("zh", "manager_joined", name="张工")
    await manager(dep, "alice_wx", f"回复 {ticket.id} 你好，我是张工")
    assert (user.channel.sent[-1][0], user.channel.sent[-1][1].role, user.texts()[-1]) == ("u1", Role.MANAGER, "你好，我是张工")
    await user.say("专利号是 ZL202410000000.1")
    assert app_texts(dep, "alice_wx")[-1] == t("staff_user_message", ticket=ticket.id, text="专利号是 ZL202410000000.1")
    await manager(dep, "alice_wx", f"#{ticket.id} 收到")
    assert user.texts()[-1] == "收到"
    assert await manager(dep, "alice_wx", f"备注 {ticket.id} 客户很配合") == t("staff_noted", ticket=ticket.id)
    assert "客户很配合" not in user.texts()

    answer = await manager(dep, "alice_wx", f"结束 {ticket.id} 已对接企业")
    assert answer == t("staff_resolved", ticket=ticket.id, outcome="已对接企业")
    done = await dep.store.tickets.get(ticket.id)
    assert (done.state, done.outcome) == ("resolved", "已对接企业") and done.first_response_at is not None
    assert user.texts()[-2:] == [prompts.text("zh", "back_to_assistant"), prompts.text("zh", "rate_request")]
    out = await user.say(QUESTION)
    assert out.status == "answered" and "60家左右" in user.texts()[-1]


async def test_refusals_are_explained_and_other_messages_are_questions_for_the_assistant(wecom):
    dep = wecom
    user = WebUser(dep)
    ticket = await ticket_for(dep, user)
    assert await manager(dep, "bob_wx", f"回复 {ticket.id} 我来") == t("staff_claim_first", ticket=ticket.id)
    await manager(dep, "alice_wx", f"/claim {ticket.id}")
    assert await manager(dep, "bob_wx", f"回复 {ticket.id} 我来") == t("staff_held_by_other", ticket=ticket.id, name="张工")
    refused = await manager(dep, "bob_wx", f"认领 {ticket.id}")
    assert refused.startswith(f"工单 #{ticket.id}：操作未完成") and "alice" in refused
    assert await manager(dep, "alice_wx", "认领 999") == t("staff_no_ticket", ticket=999)
    assert await manager(dep, "alice_wx", "/reply") == t("staff_usage")
    assert "我来" not in user.texts()

    answer = await manager(dep, "zhangsan", f"认领 {ticket.id}")  # not on the roster: a question
    assert answer is not None and "工单" not in answer
    assert "60家左右" in await manager(dep, "alice_wx", QUESTION)  # a manager's question is answered

    assert await manager(dep, "alice_wx", f"转交 {ticket.id} bob") == t("staff_moved", ticket=ticket.id, name="李工")
    assert app_texts(dep, "bob_wx")[-1].startswith(t("staff_transferred", ticket=ticket.id))
    assert (await dep.store.tickets.get(ticket.id)).manager_id == "bob"
    assert user.texts()[-1] == prompts.text("zh", "manager_transferred", name="李工")


async def test_a_notice_to_several_members_is_one_send_within_2048_bytes_per_message(wecom):
    long_text = "。".join(f"第{i}句关于概念验证平台的说明" for i in range(300))
    await wecom.app.tell(["alice_wx", "bob_wx", "alice_wx"], long_text)
    sent = wecom.fake.sent("message")
    assert len(sent) == 2 and all(d.body["touser"] == "alice_wx|bob_wx" for d in sent)
    assert all(utf8_len(d.body["text"]["content"]) <= 2048 and not d.truncated for d in sent)


def test_ticket_commands_are_parsed_in_chinese_and_with_slashes():
    assert parse_command("认领 12") == Command("claim", 12)
    assert parse_command("  /claim #12 ") == Command("claim", 12)
    assert parse_command("回复 12 您好，\n请问专利号？") == Command("reply", 12, "您好，\n请问专利号？")
    assert parse_command("#12 您好") == Command("reply", 12, "您好")
    assert parse_command("结束 12") == Command("resolve", 12) and parse_command("/back 3") == Command("back", 3)
    assert parse_command("转交 12 bob") == Command("transfer", 12, "bob")
    assert parse_command("/reply") == Command("reply", None)
    for question in ("结束了吗？", "回复12个问题", "认领流程是什么", "青岛有哪些补贴", "#话题"):
        assert parse_command(question) is None
