"""Follow-ups without an LLM: a short question that points back borrows the previous question's
subject and place; a question that carries its own subject is searched as it is."""
from __future__ import annotations

from datetime import datetime, timezone

from bot.followup import expand, is_followup
from bot.types import Role, Turn


def _turns(*texts: str) -> list[Turn]:
    now = datetime.now(timezone.utc)
    roles = [Role.USER, Role.ASSISTANT]
    return [Turn(i, 1, roles[i % 2], t, now) for i, t in enumerate(texts)]


def test_a_short_question_pointing_back_borrows_the_subject_and_the_place() -> None:
    history = _turns("宁波的职业院校学生顶岗实习一般多久？", "……（摘录）")
    out = expand("那每天最多工作几个小时？", history)
    assert out.endswith("那每天最多工作几个小时？")
    assert out.startswith("宁波市") and "顶岗" in out and "实习" in out


def test_a_question_with_its_own_subject_is_left_alone() -> None:
    history = _turns("青岛计划建设多少家概念验证平台？", "……")
    question = "研发费用后补助什么时候申报？"
    assert not is_followup(question) and expand(question, history) == question


def test_a_follow_up_naming_its_own_place_keeps_that_place() -> None:
    out = expand("那青岛的呢？", _turns("宁波的职业院校学生顶岗实习一般多久？", "……"))
    assert "宁波" not in out and out.endswith("那青岛的呢？")


def test_without_history_nothing_is_borrowed() -> None:
    assert expand("那这个平台有什么支持？", []) == "那这个平台有什么支持？"
