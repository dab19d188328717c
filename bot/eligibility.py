"""The eligibility self-check in a conversation (issue 17), on every channel.

    "帮我看看我们公司能申请哪些政策" / "政策匹配" / "/match"
        -> consent (nothing is stored before "同意")
        -> only the profile fields some published item still needs, one question at a time
           ("跳过" skips one, "结束" shows the result now, an unrelated question leaves the flow)
        -> the match: eligible items, near misses ("还差：…"), unknowns, each cited
    "我的资料" shows the profile; "删除我的资料" deletes it and blanks the profile answers and
    eligibility replies stored in the conversation.

`EligibilityDesk.handle` is what `Engine._process` calls (like the subscription commands): a Reply
when the message belongs to the self-check, None otherwise. Profile answers are stored with the
outcome "profile" and replies with the author `qdbot-eligibility`, so logs and exports hide them.
In LLM mode the result's text is written by the model from the matched items only (a figure that
is not in them discards it, and the listed result is sent instead).
"""
from __future__ import annotations

import re
from typing import Any

import structlog
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import Runnable

import prompts
from bot import llm as llm_ops
from bot import matching, status
from bot.clock import Clock
from bot.eligibility_render import render, say, profile_text
from bot.errors import LLMError
from bot.matching import MatchResult
from bot.profile import ASK_ORDER, parse
from bot.store.eligibility import ELIGIBILITY_AUTHOR
from bot.support import PUBLISHED, SupportItem
from bot.types import Conversation, IncomingMessage, Reply, Role

log = structlog.get_logger(__name__)
START = re.compile(r"(?:能|可以|可)(?:申请|申报|享受)(?:哪些|什么)(?:政策|支持|补贴|补助|资金)|符合哪些(?:政策|条件)|政策匹配|"
                   r"资格自测|政策体检|^/match(?:@\w+)?$|^/eligibility(?:@\w+)?$|更新(?:我的|企业)?资料|"
                   r"which (?:supports?|subsid\w+|policies) can (?:my|our) company", re.I)
DELETE = re.compile(r"^(?:删除我的资料|删除资料|删除企业资料|/deleteprofile(?:@\w+)?|delete my (?:data|profile))[。.!！]?$", re.I)
SHOW = re.compile(r"^(?:我的资料|查看资料|我的企业资料|/profile(?:@\w+)?|my profile)[。.!！]?$", re.I)
YES = re.compile(r"^(?:同意|好|好的|可以|行|是|yes|y|ok|agree)[。.!！]?$", re.I)
NO = re.compile(r"^(?:不同意|不|不要|不用|拒绝|no|n)[。.!！]?$", re.I)
SKIP = re.compile(r"^(?:跳过|不知道|不清楚|不方便|保密|skip|pass)[。.!！]?$", re.I)
STOP = re.compile(r"^(?:结束|好了|就这些|看结果|查看结果|done|stop)[。.!！]?$", re.I)
QUESTION = re.compile(r"[？?]|吗|什么|怎么|如何|多少家")


class EligibilityDesk:
    author = ELIGIBILITY_AUTHOR

    def __init__(self, engine: Any, clock: Clock,  # the Engine (importing bot.engine would close a circle)
                 llm: Runnable[Any, Any] | None = None):
        self.engine, self.clock, self.llm = engine, clock, llm
        self.store, self.settings = engine.store, engine.settings

    async def handle(self, conv: Conversation, msg: IncomingMessage, lang: str,
                     has_profile: bool | None = None) -> Reply | None:
        """``has_profile``: whether the user has a profile, when the caller knows (False: it is not read)."""
        text, user = msg.text.strip(), msg.user_id or conv.user_id
        if DELETE.match(text):
            return self._reply(await self._delete(conv, user, lang))
        profile = None if has_profile is False else await self.store.eligibility.profile(conv.channel, user)
        if SHOW.match(text):
            return self._reply(say(lang, "show_profile", profile=profile_text(profile.data if profile else {}, lang)))
        flow = profile.flow if profile else {}
        if START.search(text):
            if profile is None or profile.consent_at is None:
                await self.store.eligibility.save_profile(conv.channel, user, flow={"step": "consent"})
                return self._reply(say(lang, "consent"))
            return await self._next(conv, user, profile.data, [], lang)
        if flow.get("step") == "consent":
            return await self._consent(conv, user, text, lang)
        if flow.get("step") == "asking" and profile is not None:  # (a flow is a profile's)
            return await self._answer(conv, user, profile.data, flow, text, lang)
        return None

    def _reply(self, text: str, citations: tuple[Any, ...] = ()) -> Reply:
        return Reply(text, citations=citations, role=Role.SYSTEM)

    async def _consent(self, conv: Conversation, user: str, text: str, lang: str) -> Reply | None:
        if YES.match(text):
            await self.store.eligibility.save_profile(conv.channel, user, consent_at=self.clock.now(), flow={})
            return await self._next(conv, user, {}, [], lang)
        await self.store.eligibility.delete_profile(conv.channel, user)  # no consent: nothing is kept
        return self._reply(say(lang, "consent_refused")) if NO.match(text) else None

    async def _answer(self, conv: Conversation, user: str, data: dict[str, Any], flow: dict[str, Any], text: str,
                      lang: str) -> Reply | None:
        pending, asked = flow.get("pending"), list(flow.get("asked", []))
        if STOP.match(text):
            return await self._result(conv, user, data, lang)
        if SKIP.match(text):
            return await self._next(conv, user, data, [*asked, pending], lang)
        found = parse(text, pending, self.clock.today())
        if not found or (QUESTION.search(text) and set(found) <= {"district"}):
            await self.store.eligibility.save_profile(conv.channel, user, flow={})  # a question: leave the flow
            return None
        data = {**data, **found}
        return await self._next(conv, user, data, [*asked, pending, *found], lang)

    async def _next(self, conv: Conversation, user: str, data: dict[str, Any], asked: list[Any], lang: str) -> Reply:
        """Ask for the next field some item needs, or show the result."""
        items = await self._candidates()
        if not items:
            await self.store.eligibility.save_profile(conv.channel, user, data=data, flow={})
            return self._reply(say(lang, "no_items"))
        needed = matching.needed_fields(data, items, self.clock.today(), self.settings.home_region, ASK_ORDER)
        todo = [f for f in needed if f not in asked]
        if not todo:
            return await self._result(conv, user, data, lang)
        await self.store.eligibility.save_profile(conv.channel, user, data=data,
                                                  flow={"step": "asking", "pending": todo[0], "asked": asked})
        return self._reply(f"{say(lang, 'ask_' + todo[0])}\n{say(lang, 'skip_hint')}")

    async def _candidates(self) -> list[SupportItem]:
        items: list[SupportItem] = await self.store.eligibility.items(state=PUBLISHED)
        return items

    async def match(self, data: dict[str, Any]) -> MatchResult:
        """The match of a profile against the published items of documents in force."""
        today = self.clock.today()
        states = status.states(await self.store.calendar.policies(), today)
        return matching.match(data, await self._candidates(), today, self.settings.home_region, states,
                              await self.store.calendar.entries())

    async def _result(self, conv: Conversation, user: str, data: dict[str, Any], lang: str) -> Reply:
        await self.store.eligibility.save_profile(conv.channel, user, data=data, flow={})
        result = await self.match(data)
        await self.store.eligibility.record_matches(
            [(m.item.id, m.outcome, m.failed[0].field if m.failed else "") for m in result.all() if m.item.id])
        text = render(result, data, self.clock.today(), lang)
        if self.llm is not None and result.all():
            text = await self._summary(self.llm, result, text, lang)
        log.info("eligibility_match", channel=conv.channel, eligible=len(result.eligible),
                 near_miss=len(result.near_miss), unknown=len(result.unknown))
        return Reply(text, citations=tuple(m.item.citation() for m in result.all()), role=Role.ASSISTANT)

    async def _summary(self, llm: Runnable[Any, Any], result: MatchResult, listed: str, lang: str) -> str:
        """The model's summary of the matched items, followed by the list; the list alone when the
        model fails or writes a figure the items do not contain."""
        try:
            out = await llm_ops.complete(llm, [SystemMessage(prompts.template(lang, "eligibility_summary")),
                                                    HumanMessage(listed)])
        except LLMError as exc:
            log.warning("eligibility_summary_failed", error=str(exc)[:200])
            return listed
        allowed = listed + "".join(m.item.clause for m in result.all())
        if any(n not in allowed for n in re.findall(r"\d+(?:\.\d+)?", out)):
            log.warning("eligibility_summary_unsupported_figure")
            return listed
        return f"{out.strip()}\n{say(lang, 'summary_label')}\n\n{listed}"

    async def _delete(self, conv: Conversation, user: str, lang: str) -> str:
        done = await self.store.eligibility.delete_profile(conv.channel, user)
        await self.store.eligibility.redact_messages(conv.id)
        return say(lang, "deleted" if done else "nothing_to_delete")

