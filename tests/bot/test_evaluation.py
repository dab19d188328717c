"""`qdbot eval` judges a fact answer by its own document: the expected text must be in a cited
passage of the document the question names (`doc`), not merely somewhere in the answer."""
from __future__ import annotations

from bot.engine import Outcome
from bot.evaluation import EvalReport, check
from bot.types import Answer, AnswerMode, Citation

ITEM = {"id": "q1", "kind": "fact", "question": "青岛职工教育经费比例？", "expect": [["百分之一点五"]],
        "doc": "qingdao_vocational.txt", "tags": ["qingdao", "disambiguation"]}


def _outcome(source: str, no_answer: bool = False) -> Outcome:
    cite = Citation("t", "", f"docs/{source}", "按照职工工资总额的百分之一点五提取")
    answer = Answer("按照职工工资总额的百分之一点五提取 [1]", AnswerMode.EXTRACTIVE, (cite,), no_answer=no_answer)
    return Outcome("no_answer" if no_answer else "answered", answer=answer)


def test_the_same_figure_from_another_citys_document_fails() -> None:
    result = check(ITEM, _outcome("ningbo_vocational.txt"))
    assert not result.passed and result.doc_ok is False and result.cited == ("ningbo_vocational.txt",)
    assert "qingdao_vocational.txt" in result.why


def test_the_figure_from_its_own_document_passes_and_counts_per_tag() -> None:
    good, bad = check(ITEM, _outcome("qingdao_vocational.txt")), check({**ITEM, "id": "q2"}, _outcome("x.txt"))
    report = EvalReport([good, bad])
    assert good.passed and good.doc_ok and good.answered
    assert report.by_tag()["qingdao"] == (1, 2) and report.doc_rate() == (1, 2)


def test_the_gate_is_scored_on_answered_fact_and_out_of_scope_questions() -> None:
    fact = check(ITEM, _outcome("qingdao_vocational.txt"))
    trap = check({"id": "o1", "kind": "out_of_scope", "question": "?", "expect": []},
                 _outcome("qingdao_vocational.txt"))
    refused = check({"id": "o2", "kind": "out_of_scope", "question": "?", "expect": []},
                    _outcome("qingdao_vocational.txt", no_answer=True))
    assert EvalReport([fact, trap, refused]).gate() == (0.5, 1.0)
