"""The chat model as a langchain Runnable, and the few things we ask of it.

Production: `ChatOpenAI` against any OpenAI-compatible endpoint (OpenAI, DeepSeek, Qwen/DashScope
compatible mode, vLLM, Ollama). Tests: a loopback OpenAI-compatible server or a RunnableLambda.
Every failure becomes `LLMError`, so callers fall back to extractive answers.
"""
from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from openai import AsyncStream

import prompts
from bot.errors import LLMError
from bot.settings import Settings
from bot.types import Citation, Passage, Role, Turn

NO_ANSWER = "NO_ANSWER"
_CITE = re.compile(r"\[(\d{1,2})\]")
_FIGURE = re.compile(r"\d+(?:\.\d+)?")


def make_chat_model(settings: Settings) -> Runnable[Any, Any]:
    """ChatOpenAI over aiohttp: the SDK's default httpx pool spends time proportional to the number of
    open connections on every request, which dominates with hundreds of answers streaming at once.
    Proxies come from HTTPS_PROXY / HTTP_PROXY as with the default client. Close with `close_chat_model`."""
    from langchain_openai import ChatOpenAI
    from openai import DefaultAioHttpClient
    from pydantic import SecretStr

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    return ChatOpenAI(
        model=settings.llm_model, base_url=settings.openai_base_url, api_key=SecretStr(key or "not-needed"),
        temperature=settings.llm_temperature, timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries, streaming=True, stream_usage=True,
        http_async_client=DefaultAioHttpClient(timeout=settings.llm_timeout),
    )


async def close_chat_model(llm: Runnable[Any, Any] | None) -> None:
    """Close the HTTP connections of a model made by `make_chat_model` (others are left alone)."""
    client = getattr(llm, "http_async_client", None)
    if client is not None and hasattr(client, "aclose"):
        await client.aclose()


def format_passages(passages: Sequence[Passage]) -> str:
    return "\n\n".join(
        f"[{i}] 《{p.title}》{(' ' + p.section) if p.section else ''}\n{p.text}" for i, p in enumerate(passages, 1)
    )


def answer_messages(question: str, passages: Sequence[Passage], lang: str) -> list[BaseMessage]:
    user = prompts.template(lang, "answer").format(passages=format_passages(passages), question=question)
    return [SystemMessage(prompts.template(lang, "system")), HumanMessage(user)]


def _content(msg: object) -> str:
    content = getattr(msg, "content", msg)
    if isinstance(content, list):
        content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    if not isinstance(content, str):
        raise LLMError(f"unexpected model output type {type(content).__name__}")
    return content


async def complete(llm: Runnable[Any, Any], messages: list[BaseMessage]) -> str:
    try:
        out = await llm.ainvoke(messages)
    except LLMError:
        raise
    except Exception as exc:  # openai.*, httpx.*, asyncio.TimeoutError, parsing errors
        raise LLMError(f"{exc.__class__.__name__}: {str(exc)[:200]}") from exc
    text = _content(out)
    if not text.strip():
        raise LLMError("empty model output")
    return text


async def stream(llm: Runnable[Any, Any], messages: list[BaseMessage]) -> AsyncIterator[str]:
    direct = _sdk_stream(llm)
    try:
        pieces = direct(messages) if direct is not None else _langchain_stream(llm, messages)
        async for piece in pieces:
            if piece:
                yield piece
    except LLMError:
        raise
    except Exception as exc:
        raise LLMError(f"{exc.__class__.__name__}: {str(exc)[:200]}") from exc


async def _langchain_stream(llm: Runnable[Any, Any], messages: list[BaseMessage]) -> AsyncIterator[str]:
    async for chunk in llm.astream(messages):
        yield _content(chunk)


def _sdk_stream(llm: Runnable[Any, Any]) -> Callable[[list[BaseMessage]], AsyncIterator[str]] | None:
    """For a plain `ChatOpenAI` (what `make_chat_model` makes): its own OpenAI SDK client, asked with the
    request langchain would send (model, temperature, stream options), so the same timeout, retries and
    errors apply, without langchain's per-token chunk objects, callbacks and a task per chunk for its
    chunk timeout (here one deadline, moved on at each chunk). Anything else (a RunnableLambda, a bound or
    configured model, headers or structured output asked for, callbacks attached): None, langchain streams."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:  # pragma: no cover - langchain_openai is a dependency
        return None
    if (type(llm) is not ChatOpenAI or llm.callbacks or llm.include_response_headers or llm._uses_gateway
            or "response_format" in llm.model_kwargs or llm.root_async_client is None):
        return None
    model: Any = llm
    return functools.partial(_openai_pieces, model)


async def _openai_pieces(llm: Any, messages: list[BaseMessage]) -> AsyncIterator[str]:
    options = {"stream_options": {"include_usage": True}} if llm._should_stream_usage() else {}
    payload = llm._get_request_payload(messages, stream=True, **options)
    limit = llm.stream_chunk_timeout if llm.stream_chunk_timeout and llm.stream_chunk_timeout > 0 else None
    loop = asyncio.get_running_loop()
    # the client's own `post`, as `chat.completions.create` makes it, minus the per-request walk of the
    # body against the SDK's typed parameters (langchain's payload is plain JSON already) and the typed
    # object per chunk (each chunk stays the JSON dict it arrived as); errors, retries, timeout unchanged
    response = await llm.root_async_client.post("/chat/completions", body=payload, cast_to=object, stream=True,
                                                stream_cls=AsyncStream[object], options=_create_options())
    # langchain's stream_chunk_timeout: a bound on each wait for the next chunk (not on the request, not on
    # the consumer), as one deadline armed around each wait instead of a task per chunk
    async with response, asyncio.timeout(None) as deadline:
        chunks, received = aiter(response), 0
        while True:
            if limit is not None:
                deadline.reschedule(loop.time() + limit)
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                if not received:  # as langchain: an empty stream (e.g. a body that is not SSE) is an error
                    raise ValueError("No generation chunks were returned") from None
                return
            deadline.reschedule(None)
            received += 1
            content = _delta_content(chunk)
            if content:
                yield content


@functools.cache
def _create_options() -> Any:
    """The request options `chat.completions.create` passes (the bearer key only, where the SDK has
    per-request security options; older SDKs have none)."""
    from openai._types import RequestOptions
    return {"security": {"bearer_auth": True}} if "security" in RequestOptions.__annotations__ else {}


def _delta_content(chunk: Any) -> str | None:
    """The text a streamed chat-completion chunk (a JSON dict) adds; None for a usage or empty chunk."""
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    delta = choices[0].get("delta") if choices and isinstance(choices[0], dict) else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else None


def history_text(history: Sequence[Turn]) -> str:
    names = {Role.USER: "用户/User", Role.ASSISTANT: "助手/Assistant", Role.MANAGER: "技术经理人/Manager"}
    return "\n".join(f"{names.get(t.role, t.role)}: {t.text[:500]}" for t in history)


async def rewrite(llm: Runnable[Any, Any], question: str, history: Sequence[Turn], lang: str) -> str:
    """A standalone version of a follow-up question (the question itself when there is no history)."""
    if not history:
        return question
    prompt = prompts.template(lang, "rewrite").format(history=history_text(history), question=question)
    out = (await complete(llm, [HumanMessage(prompt)])).strip().strip('"“”')
    return out if 0 < len(out) <= max(400, 3 * len(question)) else question


async def classify(llm: Runnable[Any, Any], question: str, lang: str) -> str:
    prompt = prompts.template(lang, "classify").format(question=question)
    return await complete(llm, [HumanMessage(prompt)])


def is_no_answer(text: str) -> bool:
    return text.strip().upper().startswith(NO_ANSWER) or text.strip().upper() == NO_ANSWER


def cite(text: str, passages: Sequence[Passage]) -> tuple[str, tuple[Citation, ...]]:
    """Renumber the model's [n] markers to the passages actually cited, dropping invalid ones."""
    used: dict[int, int] = {}

    def repl(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if not 1 <= n <= len(passages):
            return ""
        return f"[{used.setdefault(n, len(used) + 1)}]"

    out = _CITE.sub(repl, text).strip()
    from bot.extractive import citation_for

    cites = tuple(citation_for(passages[n - 1]) for n, _ in sorted(used.items(), key=lambda kv: kv[1]))
    return out, cites


def invented_figures(answer: str, passages: Sequence[Passage], question: str) -> list[str]:
    """Figures in the answer that appear neither in the cited material nor in the question."""
    known = " ".join(p.text for p in passages) + " " + question
    body = _CITE.sub("", answer)
    return [f for f in _FIGURE.findall(body) if f not in known]


def leaks_prompt(answer: str) -> bool:
    """Does the answer repeat a line of a system prompt (any language)?"""
    for lang in prompts.LANGS:
        for line in prompts.template(lang, "system").splitlines():
            fragment = line.strip()[3:40]
            if len(fragment) >= 15 and fragment in answer:
                return True
    return False


def as_ai(text: str) -> AIMessage:
    return AIMessage(text)
