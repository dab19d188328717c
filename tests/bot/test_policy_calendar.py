"""Policy status (expired, superseded, not yet effective) in answers, and questions answered from the
application calendar, relative to a fixed clock. Documents here are FICTIONAL TEST DATA."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.answerer import Answerer
from bot.calendar import CalendarEntry
from bot.clock import FixedClock
from bot.policy import PolicyDesk
from bot.status import PolicyState, Status, state_of, status_line
from bot.records import DocumentRecord
from bot.store.calendar import PolicyRecord
from bot.types import Citation
from tests.fakes.engine import POLICY
from tests.fakes.retriever import MemoryRetriever

TITLE = "青岛测试政策"  # the title MemoryRetriever gives its passages (doc d1)
TODAY = datetime(2027, 6, 10, 9, 0)


def _doc(doc_id: str, title: str, **identity: str) -> DocumentRecord:
    return DocumentRecord(id=doc_id, title=title, source=f"test/{doc_id}.txt", sha256=doc_id * 4, chunk_count=0,
                          identity={"title": title, **identity})


def _rec(doc_id: str, title: str, repeals=(), override=None, **identity: str) -> PolicyRecord:
    return PolicyRecord(doc_id, title, {"title": title, **identity}, {"repeals": list(repeals)}, override or {})


def test_the_status_follows_the_dates_the_repeals_of_later_documents_and_the_operator():
    today = date(2027, 6, 10)
    old = _rec("a", "青岛市科技创新券管理办法", effective="2020-01-01")
    new = _rec("b", "青岛市科技创新券管理办法（2027年修订）", repeals=["青岛市科技创新券管理办法"], effective="2027-01-01")
    assert state_of(old, today, [old, new]) == PolicyState(Status.SUPERSEDED, old.title, successor=new.title)
    assert state_of(new, today, [old, new]).status is Status.CURRENT
    assert state_of(_rec("c", "甲", expires="2027-06-09"), today).status is Status.EXPIRED
    assert state_of(_rec("c", "甲", expires="2027-06-10"), today).status is Status.CURRENT  # its last day
    assert state_of(_rec("d", "乙", effective="2027-07-01"), today).status is Status.NOT_YET_EFFECTIVE
    future = _rec("e", "丙", repeals=["甲"], effective="2028-01-01")  # repeals only once it is in force
    assert state_of(_rec("c", "甲"), today, [future]).status is Status.CURRENT
    forced = _rec("f", "丁", override={"status": "expired"})
    assert state_of(forced, today).by_operator and state_of(forced, today).status is Status.EXPIRED


def test_the_status_line_names_each_cited_document_that_is_not_in_force_once():
    by_title = {"甲": PolicyState(Status.EXPIRED, "甲", since="2026-12-31"),
                "乙": PolicyState(Status.CURRENT, "乙")}
    cites = [Citation("甲", "", "", ""), Citation("甲（青岛市）", "", "", ""), Citation("乙", "", "", "")]
    line = status_line(cites, by_title, "zh")
    assert line is not None and line.count("《甲》已于2026-12-31失效") == 1 and "乙" not in line
    assert status_line([Citation("乙", "", "", "")], by_title, "zh") is None
    assert "expired on 2026-12-31" in status_line(cites, by_title, "en")


async def _answerer(store, settings, clock: FixedClock) -> Answerer:
    answerer = Answerer(MemoryRetriever(POLICY, title=TITLE), settings)
    answerer.policy = PolicyDesk(store, clock)
    return answerer


async def test_an_answer_from_an_expired_policy_says_so_in_its_first_line(store, settings):
    await store.kb.replace_document(_doc("d1", TITLE, effective="2024-01-01", expires="2026-12-31"), [])
    answerer = await _answerer(store, settings, FixedClock(TODAY))
    answer = await answerer.answer("青岛计划建设多少家概念验证平台？")
    first, rest = answer.text.split("\n", 1)
    assert "《青岛测试政策》已于2026-12-31失效" in first
    assert "60家" in rest and answer.citations


async def test_an_answer_from_a_superseded_policy_points_to_its_successor(store, settings):
    await store.kb.replace_document(_doc("d1", TITLE, effective="2024-01-01"), [])
    await store.kb.replace_document(_doc("d2", "青岛测试政策（2027年版）", effective="2027-01-01"), [])
    await store.calendar.set_policy("d2", {"repeals": [TITLE]})
    answerer = await _answerer(store, settings, FixedClock(TODAY))
    first = (await answerer.answer("青岛计划建设多少家概念验证平台？")).text.split("\n", 1)[0]
    assert "已被《青岛测试政策（2027年版）》废止" in first


async def test_the_same_policy_answers_without_a_warning_while_it_is_in_force(store, settings):
    await store.kb.replace_document(_doc("d1", TITLE, effective="2024-01-01", expires="2026-12-31"), [])
    answerer = await _answerer(store, settings, FixedClock(datetime(2026, 12, 31, 23, 0)))
    answer = await answerer.answer("青岛计划建设多少家概念验证平台？")
    assert "失效" not in answer.text and "⚠️" not in answer.text


ENTRIES = [
    CalendarEntry(what="研发费用后补助", who="科技型中小企业", opens="06-01", closes="06-30", recurrence="yearly",
                  clause="研发费用后补助每年6月1日至6月30日集中受理。", section="一、研发费用后补助", doc_id="d1",
                  title=TITLE, source="test/d1.txt"),
    CalendarEntry(what="中试平台认定", opens="2027-07-01", closes="2027-07-31", clause="2027年7月1日至2027年7月31日受理中试平台认定申报。",
                  doc_id="d1", title=TITLE, source="test/d1.txt"),
    CalendarEntry(what="科技创新券", recurrence="rolling", clause="科技创新券常年受理。", doc_id="d1", title=TITLE,
                  source="test/d1.txt"),
    CalendarEntry(what="高企培育入库", closes="2027-03-31", clause="申报截止时间为2027年3月31日。", doc_id="d1", title=TITLE,
                  source="test/d1.txt"),
]


@pytest.fixture
async def calendar_store(store):
    await store.kb.replace_document(_doc("d1", TITLE, effective="2024-01-01"), [])
    await store.calendar.replace_entries("d1", ENTRIES)
    return store


async def test_what_can_i_apply_for_this_month_lists_the_open_windows_with_citations(calendar_store, settings):
    """On 10 June 2027: the June window (20 days left) and the rolling voucher; not July's, not March's."""
    answerer = await _answerer(calendar_store, settings, FixedClock(TODAY))
    answer = await answerer.answer("这个月可以申报什么？")
    assert "本月（2027-06-01至2027-06-30）" in answer.text and "今天是2027-06-10" in answer.text
    assert "研发费用后补助：每年6月1日至6月30日（还剩20天截止） [1]" in answer.text
    assert "科技创新券：常年受理 [2]" in answer.text
    assert "中试平台" not in answer.text and "高企培育" not in answer.text
    assert [c.snippet for c in answer.citations] == [ENTRIES[0].clause, ENTRIES[2].clause]


async def test_the_same_question_a_month_later_lists_julys_window(calendar_store, settings):
    answerer = await _answerer(calendar_store, settings, FixedClock(datetime(2027, 7, 5, 10, 0)))
    answer = await answerer.answer("这个月可以申报什么？")
    assert "中试平台认定：2027年7月1日至2027年7月31日（还剩26天截止）" in answer.text
    assert "研发费用后补助" not in answer.text


async def test_when_does_a_named_programme_close_is_answered_from_its_entry(calendar_store, settings):
    answerer = await _answerer(calendar_store, settings, FixedClock(TODAY))
    answer = await answerer.answer("研发费用后补助什么时候截止？")
    assert answer.text.splitlines()[1].startswith("1. 研发费用后补助：每年6月1日至6月30日")
    assert len(answer.citations) == 1


async def test_an_english_question_before_a_month_is_answered_in_english(calendar_store, settings):
    answerer = await _answerer(calendar_store, settings, FixedClock(TODAY))
    answer = await answerer.answer("What can I apply for before July?")
    assert "before 2027-06-30" in answer.text and "研发费用后补助: every year 01 Jun to 30 Jun (20 days left)" in answer.text
    assert "中试平台" not in answer.text


async def test_an_ordinary_question_is_not_taken_for_a_calendar_question(calendar_store, settings):
    answerer = await _answerer(calendar_store, settings, FixedClock(TODAY))
    answer = await answerer.answer("青岛计划建设多少家概念验证平台？")
    assert answer.notice != "calendar" and "60家" in answer.text
