"""Region rules on a small multi-city library (fictional test documents, not real regulations):
each document's identity is read at ingest, a question is answered from the documents of the
place it is about (the home region when it names none), provincial and national rules are
labelled, another place's rule is never presented as the place asked about."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.answerer import Answerer
from knowledge import KnowledgeBase
from tests.knowledge.conftest import make_settings

TEST_DATA_NOTE = "（本文件为自动化测试虚构的测试数据，不是真实法规。）"
DOCS = {
    "qd.txt": f"""青岛市科技成果转化促进条例
2024年3月1日 青岛市第十七届人民代表大会常务委员会第十次会议通过
{TEST_DATA_NOTE}
第一条 为了促进科技成果转化，结合本市实际，制定本条例。
第十条 科技成果转化所获收益，应当提取不低于百分之六十的比例用于奖励成果完成人。
第二十条 本条例自2024年5月1日起施行。""",
    "nb.txt": f"""宁波市科技成果转化促进条例
2023年6月2日 宁波市第十六届人民代表大会常务委员会第九次会议通过
{TEST_DATA_NOTE}
第一条 为了促进科技成果转化，结合本市实际，制定本条例。
第十条 科技成果转化所获收益，应当提取不低于百分之八十的比例用于奖励成果完成人。
第二十条 本条例自2023年9月1日起施行。""",
    "sd.txt": f"""山东省高新技术企业培育条例
2022年5月20日 山东省第十三届人民代表大会常务委员会第三十五次会议通过
{TEST_DATA_NOTE}
第八条 对首次认定的高新技术企业，省财政给予一次性奖励十万元。""",
    "bj.txt": f"""北京市技术经理人队伍建设条例
2021年4月9日 北京市第十五届人民代表大会常务委员会第三十次会议通过
{TEST_DATA_NOTE}
第五条 技术经理人职称评审设置初级、中级和高级三个层级，由市人力资源社会保障部门组织评审。""",
}


@pytest.fixture
async def library(tmp_path: Path, kb_settings, kb_store, hash_embedder):
    folder = tmp_path / "library"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    kb = KnowledgeBase(kb_settings, kb_store, hash_embedder)
    report = await kb.ingest([folder])
    assert report.failed == 0
    yield kb
    await kb.close()


def _answerer(kb: KnowledgeBase, settings) -> Answerer:
    return Answerer(kb, settings)


def _cited(answer) -> set[str]:
    return {c.source.rsplit("/", 1)[-1] for c in answer.citations}


async def test_identity_is_read_from_each_document(library: KnowledgeBase) -> None:
    """Title, issuer, region and effective date come from the text, not the file name."""
    docs = {d.source.rsplit("/", 1)[-1]: d.effective_identity for d in await library.store.kb.list_documents()}
    assert docs["qd.txt"]["title"] == "青岛市科技成果转化促进条例"
    assert docs["qd.txt"]["issuer"] == "青岛市人民代表大会常务委员会"
    assert (docs["qd.txt"]["region"], docs["nb.txt"]["region"], docs["sd.txt"]["region"]) == ("青岛市", "宁波市", "山东省")
    assert docs["qd.txt"]["effective"] == "2024-05-01" and docs["qd.txt"]["issued"] == "2024-03-01"


async def test_a_question_about_qingdao_gets_qingdaos_rule_not_ningbos(library, kb_settings) -> None:
    answer = await _answerer(library, kb_settings).answer("青岛对科技成果转化完成人的奖励比例是多少？")
    assert not answer.no_answer and _cited(answer) == {"qd.txt"}
    assert "百分之六十" in answer.text and "百分之八十" not in answer.text


async def test_a_question_about_ningbo_gets_ningbos_rule(library, kb_settings) -> None:
    answer = await _answerer(library, kb_settings).answer("宁波对科技成果转化完成人的奖励比例是多少？")
    assert _cited(answer) == {"nb.txt"} and "百分之八十" in answer.text and "百分之六十" not in answer.text


async def test_a_question_naming_no_place_is_about_the_home_region(library, kb_settings, tmp_path) -> None:
    question = "科技成果转化收益奖励完成人的比例不低于多少？"
    answer = await _answerer(library, kb_settings).answer(question)
    assert _cited(answer) == {"qd.txt"} and "百分之六十" in answer.text
    ningbo_home = make_settings(kb_settings.data_dir, home_region="宁波")
    answer = await _answerer(library, ningbo_home).answer(question)
    assert _cited(answer) == {"nb.txt"} and "百分之八十" in answer.text


async def test_a_provincial_rule_answers_for_its_cities_and_says_whose_it_is(library, kb_settings) -> None:
    answer = await _answerer(library, kb_settings).answer("青岛对首次认定的高新技术企业奖励多少？")
    assert _cited(answer) == {"sd.txt"} and "十万元" in answer.text
    first = answer.text.splitlines()[0]
    assert "山东省" in first and "青岛市" in first


async def test_only_another_citys_document_means_not_covered_here(library, kb_settings) -> None:
    """The answer says first that Qingdao's documents do not cover it and names whose rule it quotes."""
    answer = await _answerer(library, kb_settings).answer("青岛的技术经理人职称评审分几个层级？")
    assert answer.no_answer
    first = answer.text.splitlines()[0]
    assert first.startswith("青岛市的文件中没有找到") and "北京市" in first and "不适用于青岛市" in first


async def test_a_comparison_is_answered_place_by_place(library, kb_settings) -> None:
    answer = await _answerer(library, kb_settings).answer("青岛和宁波对科技成果转化完成人的奖励比例分别是多少？")
    text = answer.text
    assert _cited(answer) == {"qd.txt", "nb.txt"}
    qd, nb = text.index("【青岛市】"), text.index("【宁波市】")
    assert "百分之六十" in text[qd:nb] and "百分之八十" in text[nb:]


async def test_a_place_the_library_has_nothing_for_is_not_answered_with_another_places_rule(library, kb_settings) -> None:
    answer = await _answerer(library, kb_settings).answer("天津对科技成果转化完成人的奖励比例是多少？")
    assert answer.no_answer and "百分之六十" not in answer.text.splitlines()[0]
    assert answer.text.splitlines()[0].startswith("天津市的文件中没有找到")


async def _llm_answer(library, kb_settings, question: str, reply) -> tuple:
    from bot.llm import close_chat_model, make_chat_model
    from tests.fakes.openai_server import FakeOpenAI

    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.responder = reply
        settings = make_settings(kb_settings.data_dir, openai_base_url=fake.base_url, openai_api_key="sk-test")
        llm = make_chat_model(settings)
        try:
            answer = await Answerer(library, settings, llm=llm).answer(question)
        finally:
            await close_chat_model(llm)
        return answer, fake.requests


async def test_llm_mode_gets_only_the_places_passages_and_labels_a_provincial_rule(library, kb_settings) -> None:
    answer, requests = await _llm_answer(library, kb_settings, "青岛对首次认定的高新技术企业奖励多少？",
                                         lambda messages, body: "给予一次性奖励十万元[1]。")
    prompt = requests[-1].body["messages"][-1]["content"]
    assert "山东省高新技术企业培育条例" in prompt and "宁波" not in prompt and "北京" not in prompt
    assert answer.text.splitlines()[0].startswith("青岛市的文件中没有专门的规定；以下是山东省的规定")


async def test_llm_mode_compares_places_from_each_places_own_passages(library, kb_settings) -> None:
    def reply(messages, body) -> str:  # cites the first source of each city, as a faithful model would
        prompt = messages[-1]["content"]
        qd, nb = (re.search(rf"\[(\d+)\] 《{city}", prompt).group(1) for city in ("青岛市", "宁波市"))
        return f"青岛：不低于百分之六十[{qd}]；宁波：不低于百分之八十[{nb}]。"

    answer, requests = await _llm_answer(library, kb_settings, "青岛和宁波对科技成果转化完成人的奖励比例分别是多少？", reply)
    prompt = requests[-1].body["messages"][-1]["content"]
    assert "青岛市科技成果转化促进条例" in prompt and "宁波市科技成果转化促进条例" in prompt
    assert "百分之六十" in prompt and "百分之八十" in prompt
    assert {c.region for c in answer.citations} == {"青岛市", "宁波市"}
