"""The loopback OpenAI fake, driven by the real `openai` and `langchain_openai` clients."""

from __future__ import annotations

import json
import math
import time

import aiohttp
import openai
import pytest
from langchain_openai import ChatOpenAI

from .openai_server import FakeOpenAI

KEY = "sk-test-key"
USER = [{"role": "user", "content": "hello there world"}]


@pytest.fixture
async def fake():
    async with FakeOpenAI(api_key=KEY, embedding_dim=12) as server:
        yield server


@pytest.fixture
async def client(fake):
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0, timeout=5) as sdk:
        yield sdk


def chat_model(fake, **kwargs):
    return ChatOpenAI(base_url=fake.base_url, api_key=KEY, model="m", max_retries=0, **kwargs)


async def test_openai_client_gets_a_chat_completion_echoing_the_last_message(client):
    completion = await client.chat.completions.create(model="gpt-x", messages=USER)
    choice = completion.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", "echo: hello there world")
    assert choice.finish_reason == "stop"
    assert completion.object == "chat.completion" and completion.model == "gpt-x"
    assert completion.usage.prompt_tokens == 3 and completion.usage.total_tokens == 7


async def test_scripted_replies_are_served_in_order_before_the_responder(fake, client):
    fake.script(["first", "second"])
    replies = [(await client.chat.completions.create(model="m", messages=USER)).choices[0].message.content
               for _ in range(3)]
    assert replies == ["first", "second", "echo: hello there world"]


async def test_an_async_responder_receives_the_messages_and_the_request_body(fake, client):
    seen = []

    async def responder(messages, body):
        seen.append((messages, body["temperature"]))
        return "from responder"

    fake.responder = responder
    completion = await client.chat.completions.create(model="m", messages=USER, temperature=0.5)
    assert completion.choices[0].message.content == "from responder"
    assert seen == [(USER, 0.5)]


async def test_a_streamed_completion_arrives_in_several_deltas_then_stop_then_usage(fake, client):
    fake.script(["a reply long enough to split"])
    stream = await client.chat.completions.create(
        model="m", messages=USER, stream=True, stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) > 3 and "".join(deltas) == "a reply long enough to split"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6


async def test_a_stream_without_include_usage_sends_no_usage(client):
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(c.usage is None and c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_embeddings_are_deterministic_unit_vectors_of_the_configured_dimension(client):
    first = await client.embeddings.create(model="emb", input=["alpha", "beta"])
    again = await client.embeddings.create(model="emb", input="alpha", encoding_format="float")
    vectors = [d.embedding for d in first.data]
    assert [len(v) for v in vectors] == [12, 12] and first.model == "emb"
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-5) for v in vectors)
    assert vectors[0] != vectors[1]
    assert again.data[0].embedding == pytest.approx(vectors[0], rel=1e-6)
    assert first.usage.prompt_tokens == 2


async def test_embeddings_honour_the_dimensions_parameter(client):
    result = await client.embeddings.create(model="emb", input="alpha", dimensions=5)
    assert len(result.data[0].embedding) == 5


async def test_models_lists_the_chat_and_embedding_models(fake, client):
    page = await client.models.list()
    assert [m.id for m in page.data] == [fake.model, fake.embedding_model]


async def test_chatopenai_ainvoke_returns_the_reply_with_usage(fake):
    fake.script(["langchain reply"])
    message = await chat_model(fake).ainvoke("hi")
    assert message.content == "langchain reply"
    assert message.usage_metadata["output_tokens"] == 2


async def test_chatopenai_astream_yields_the_reply_in_several_chunks(fake):
    fake.script(["streamed through langchain"])
    chunks = [c async for c in chat_model(fake, stream_usage=True).astream("hi")]
    assert "".join(c.content for c in chunks) == "streamed through langchain"
    assert sum(1 for c in chunks if c.content) > 3
    assert fake.requests[-1].body["stream"] is True


@pytest.mark.parametrize(("kind", "error", "status"), [
    ("429", openai.RateLimitError, 429),
    ("500", openai.InternalServerError, 500),
    ("503", openai.InternalServerError, 503),
])
@pytest.mark.parametrize("stream", [False, True])
async def test_status_faults_raise_the_matching_openai_error(fake, client, kind, error, status, stream):
    fake.fail_next(1, kind)
    with pytest.raises(error) as caught:
        await client.chat.completions.create(model="m", messages=USER, stream=stream)
    assert caught.value.status_code == status
    assert caught.value.body["message"]


async def test_a_rate_limit_carries_retry_after_and_an_openai_error_code(fake, client):
    fake.fail_next(1, "429")
    with pytest.raises(openai.RateLimitError) as caught:
        await client.embeddings.create(model="emb", input="x")
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.code == "rate_limit_exceeded"


async def test_faults_hit_only_the_next_n_requests(fake, client):
    fake.fail_next(2, "500")
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="m", messages=USER)
    assert (await client.chat.completions.create(model="m", messages=USER)).choices


async def test_a_timeout_fault_raises_api_timeout_error_for_a_short_client_timeout(fake):
    fake.fail_next(1, "timeout")
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0, timeout=0.2) as impatient:
            await impatient.chat.completions.create(model="m", messages=USER)
    assert time.monotonic() - started < 2


async def test_a_garbage_body_raises_json_decode_error_in_both_clients(fake, client):
    fake.fail_next(2, "garbage")
    with pytest.raises(json.JSONDecodeError):
        await client.chat.completions.create(model="m", messages=USER)
    with pytest.raises(json.JSONDecodeError):
        await chat_model(fake).ainvoke("hi")


async def test_a_garbage_body_to_a_stream_yields_nothing_and_langchain_raises(fake, client):
    fake.fail_next(2, "garbage")
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    assert [chunk async for chunk in stream] == []
    with pytest.raises(ValueError, match="No generation chunks"):
        _ = [c async for c in chat_model(fake).astream("hi")]


async def test_a_malformed_completion_has_no_choices_and_langchain_raises_type_error(fake, client):
    fake.fail_next(2, "malformed")
    completion = await client.chat.completions.create(model="m", messages=USER)
    assert completion.choices is None
    with pytest.raises(TypeError, match="null value for 'choices'"):
        await chat_model(fake).ainvoke("hi")


@pytest.mark.parametrize("stream", [False, True])
async def test_a_cut_connection_raises_api_connection_error_in_both_clients(fake, client, stream):
    fake.fail_next(2, "stream_cut")
    with pytest.raises(openai.APIConnectionError):
        response = await client.chat.completions.create(model="m", messages=USER, stream=stream)
        _ = [chunk async for chunk in response] if stream else response
    with pytest.raises(openai.APIConnectionError):
        llm = chat_model(fake)
        _ = [c async for c in llm.astream("hi")] if stream else await llm.ainvoke("hi")


async def test_a_cut_stream_delivers_some_deltas_before_failing(fake, client):
    fake.fail_next(1, "stream_cut")
    received = []
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk)
    assert received and all(c.choices[0].finish_reason is None for c in received)


async def test_a_wrong_api_key_raises_authentication_error(fake):
    with pytest.raises(openai.AuthenticationError) as caught:
        async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-wrong", max_retries=0) as intruder:
            await intruder.models.list()
    assert caught.value.code == "invalid_api_key"


async def test_a_request_without_authorization_gets_401_with_an_openai_error_body(fake):
    async with aiohttp.ClientSession() as session, session.get(f"{fake.base_url}/models") as response:
        assert response.status == 401
        error = (await response.json())["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")


async def test_requests_are_recorded_with_path_body_and_headers(fake, client):
    await client.chat.completions.create(model="m", messages=USER)
    await client.embeddings.create(model="emb", input="x")
    (chat_path, chat_body, headers), embed = fake.requests
    assert (chat_path, chat_body["messages"]) == ("/v1/chat/completions", USER)
    assert headers["authorization"] == f"Bearer {KEY}"
    assert (embed.path, embed.body["input"]) == ("/v1/embeddings", "x")


async def test_delay_and_stream_delay_slow_down_responses(fake, client):
    fake.delay, fake.stream_delay = 0.1, 0.02
    started = time.monotonic()
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    chunks = [chunk async for chunk in stream]
    assert time.monotonic() - started >= 0.1 + 0.02 * (len(chunks) - 1)


async def test_more_than_one_choice_is_refused_with_bad_request(client):
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="m", messages=USER, n=2)


def test_an_unknown_fault_kind_is_refused():
    with pytest.raises(ValueError, match="unknown fault kind"):
        FakeOpenAI().fail_next(1, "teapot")
