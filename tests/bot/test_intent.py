"""Handoff intent rules: requests for transfer services go to a human, questions about them do not."""
import pytest

from bot.intent import Intent, classify_rules, parse_llm_label


@pytest.mark.parametrize("text", [
    "转人工", "/human", "我要人工客服", "我们公司有一项发明专利想转化，能帮我联系技术经理人吗？",
    "我想找人对接一下中试验证平台的合作，怎么联系？", "我有个专利想转让",
    "I'd like to talk to a technology transfer manager about licensing our patent.",
    "Can you connect me with a pilot-scale platform?", "talk to a human",
])
def test_requests_for_a_human_or_a_transfer_service_are_handoffs(text):
    assert classify_rules(text) is Intent.HANDOFF


@pytest.mark.parametrize("text", [
    "技术经理人主要是做什么的？", "青岛计划建设多少家概念验证平台？", "为了支持成果转化，青岛打算设立什么基金？",
    "青岛出台过哪些推动成果转化的政策“组合拳”？", "What does a technology manager do?",
    "How many proof-of-concept platforms does Qingdao plan to build?", "今天青岛天气怎么样？",
])
def test_questions_about_services_are_answered_not_handed_off(text):
    assert classify_rules(text) is Intent.QUESTION


def test_a_personal_interest_in_a_policy_topic_is_left_to_the_model():
    assert classify_rules("我想了解一下青岛的专利政策") is Intent.UNSURE


def test_the_model_label_maps_to_an_intent_and_garbage_counts_as_a_question():
    assert parse_llm_label(" handoff\n") is Intent.HANDOFF
    assert parse_llm_label("I think QUESTION") is Intent.QUESTION
    assert parse_llm_label("") is Intent.QUESTION
