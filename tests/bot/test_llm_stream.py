"""bot.llm.stream: a plain ChatOpenAI is streamed through its own OpenAI SDK client, with the same request,
the same pieces and the same failures (LLMError) as langchain's astream."""
from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableLambda
from langchain_openai import ChatOpenAI

from bot import llm as llm_ops
from bot.errors import LLMError
from tests.fakes.openai_server import FakeOpenAI

MESSAGES = [SystemMessage("只根据材料回答。"), HumanMessage("高新技术企业认定奖励是多少？ hello there")]


@pytest.fixture
async def fake():
    async with FakeOpenAI(api_key="k") as server:
        yield server


def chat_model(fake: FakeOpenAI, **kwargs) -> ChatOpenAI:
    return ChatOpenAI(base_url=fake.base_url, api_key="k", model="m", max_retries=0, timeout=5,
                      streaming=True, stream_usage=True, **kwargs)


async def _langchain(llm, messages):
    return [p for p in [llm_ops._content(c) async for c in llm.astream(messages)] if p]


async def test_a_plain_chat_openai_streams_through_the_sdk_with_langchains_request_and_pieces(fake):
    llm = chat_model(fake, temperature=0.2)
    assert llm_ops._sdk_stream(llm) is not None
    direct = [p async for p in llm_ops.stream(llm, MESSAGES)]
    through_langchain = await _langchain(llm, MESSAGES)
    assert direct == through_langchain and "".join(direct).startswith("echo:")
    sent, expected = fake.requests[-2:]
    assert sent.body == expected.body and sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert {k: v for k, v in sent.headers.items() if k.lower() != "content-length"} == \
        {k: v for k, v in expected.headers.items() if k.lower() != "content-length"}


def test_other_runnables_and_configured_models_go_through_langchain(fake):
    assert llm_ops._sdk_stream(RunnableLambda(lambda _: "x")) is None
    assert llm_ops._sdk_stream(chat_model(fake).bind(stop=["。"])) is None
    assert llm_ops._sdk_stream(chat_model(fake, include_response_headers=True)) is None


@pytest.mark.parametrize("kind", ["429", "500", "garbage", "malformed", "stream_cut"])
async def test_a_failing_model_raises_llm_error_as_through_langchain(fake, kind):
    llm = chat_model(fake)
    for _ in range(2):  # the direct path, then langchain's (as `stream` used it before)
        fake.fail_next(1, kind)
        with pytest.raises(LLMError):
            _ = [p async for p in llm_ops.stream(llm, MESSAGES)]
        llm = chat_model(fake).with_config(tags=["through-langchain"])
