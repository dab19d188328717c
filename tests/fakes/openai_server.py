"""A loopback OpenAI-compatible API server for tests and benchmarks.

It speaks the real wire protocol (JSON and server-sent events) so that the official
``openai`` client and ``langchain_openai`` can be driven against it unchanged::

    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.script(["first reply"])
        fake.fail_next(1, "429")
        client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test")

A stream can be held after its first text chunk (``fake.hold_streams = True``) until
``fake.release`` is set, so a test can act in the middle of an answer without timing;
``fake.streams_abandoned`` counts streams whose client went away before the end.

Endpoints: ``POST /v1/chat/completions`` (plain and ``stream: true``),
``POST /v1/embeddings`` and ``GET /v1/models``. Every request is recorded in
``fake.requests`` before auth and faults are applied.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import json
import math
import random
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.loopback import LoopbackServer

Responder = Callable[[list[dict], dict], "str | Awaitable[str]"]
FAULT_KINDS = frozenset({"429", "500", "503", "timeout", "garbage", "malformed", "stream_cut"})
_ERROR_KINDS = {
    "429": ("Rate limit reached for requests (fake)", "requests", "rate_limit_exceeded"),
    "500": ("The server had an error while processing your request (fake)", "server_error", None),
    "503": ("The engine is currently overloaded (fake)", "server_error", "service_unavailable"),
}
BODY = web.RequestKey("body", object)
FAULT = web.RequestKey("fault", object)


class RecordedRequest(NamedTuple):
    """One request as the fake received it; unpacks as ``(path, body, headers)``."""

    path: str
    body: Any
    headers: CIMultiDict


def echo_responder(messages: list[dict], body: dict) -> str:
    """Reply ``"echo: <text of the last message>"``."""
    return f"echo: {_text(messages[-1].get('content')) if messages else ''}"


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _tokens(text: str) -> int:
    return len(text.split())


def _error(status: int, message: str, type_: str, code: str | None = None, **headers) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def unit_vector(item: Any, dim: int) -> list[float]:
    """A deterministic unit vector seeded by the hash of ``item`` (a string or token list)."""
    seed = hashlib.sha256(json.dumps(item, ensure_ascii=False).encode()).digest()
    rng = random.Random(seed)
    raw = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


class FakeOpenAI(LoopbackServer):
    """Loopback OpenAI-compatible server on 127.0.0.1 and a free port; ``requests`` holds a
    ``RecordedRequest`` per request."""

    base_path = "/v1"

    def __init__(self, *, api_key: str | None = None, model: str = "fake-model",
                 embedding_dim: int = 16, chunk_chars: int = 4) -> None:
        super().__init__()
        self.requests: list[RecordedRequest] = []
        self.api_key = api_key
        self.model = model
        self.embedding_model = "fake-embedding"
        self.embedding_dim = embedding_dim
        self.chunk_chars = chunk_chars
        self.responder: Responder = echo_responder
        self.delay = 0.0  # seconds added to every request
        self.stream_delay = 0.0  # seconds between streamed chunks
        self.hang_seconds = 30.0  # how long a "timeout" fault sleeps
        # hold a stream after its first content chunk until `release` is set (the client may go away meanwhile)
        self.hold_streams = False
        self.release = asyncio.Event()
        self.holding = asyncio.Event()  # set while a stream is held
        self.streams_abandoned = 0  # streams whose client went away before the end
        self.abandoned = asyncio.Event()  # set when one did
        self._scripted: deque[str] = deque()
        self._faults: deque[str] = deque()

    def script(self, replies: list[str]) -> None:
        """Queue replies that are served, in order, before the responder is asked."""
        self._scripted.extend(replies)

    def fail_next(self, n: int, kind: str) -> None:
        """Make the next ``n`` requests fail with ``kind`` (one of ``FAULT_KINDS``)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        self._faults.extend([kind] * n)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)

    def middlewares(self) -> list:
        return [self._gate]

    async def record(self, request: web.Request) -> RecordedRequest:
        body = await request.json() if request.can_read_body else None
        request[BODY] = body
        return RecordedRequest(request.path, body, CIMultiDict(request.headers))

    # -- request pipeline -------------------------------------------------

    @web.middleware
    async def _gate(self, request: web.Request, handler) -> web.StreamResponse:
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided (fake)", "invalid_request_error", "invalid_api_key")
        if self.delay:
            await asyncio.sleep(self.delay)
        fault = self._faults.popleft() if self._faults else None
        request[FAULT] = fault
        if fault in _ERROR_KINDS:
            return _error(int(fault), *_ERROR_KINDS[fault], **({"retry-after": "1"} if fault == "429" else {}))
        if fault == "timeout":
            await asyncio.sleep(self.hang_seconds)
            return _error(504, "Gateway timeout (fake)", "server_error")
        if fault == "garbage":
            return web.Response(text="<html>not json", content_type="application/json")
        if fault == "malformed":
            return web.json_response({"id": "malformed", "object": "chat.completion", "model": self.model})
        return await handler(request)

    def _authorized(self, request: web.Request) -> bool:
        if self.api_key is None:
            return True
        given = request.headers.get("Authorization", "").encode()
        return hmac.compare_digest(given, f"Bearer {self.api_key}".encode())

    # -- chat -------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = request[BODY]
        if body.get("n", 1) != 1:
            return _error(400, "The fake supports n=1 only", "invalid_request_error")
        content = await self._reply(body.get("messages", []), body)
        if body.get("stream"):
            return await self._stream(request, body, content)
        payload = json.dumps(self._completion(body, content)).encode()
        if request[FAULT] == "stream_cut":
            return await self._cut(request, payload)
        return web.Response(body=payload, content_type="application/json")

    async def _reply(self, messages: list[dict], body: dict) -> str:
        if self._scripted:
            return self._scripted.popleft()
        reply = self.responder(messages, body)
        return await reply if inspect.isawaitable(reply) else reply

    def _envelope(self, body: dict, obj: str) -> dict:
        return {"id": f"chatcmpl-fake{len(self.requests)}", "object": obj, "created": int(time.time()),
                "model": body.get("model") or self.model, "system_fingerprint": "fp_fake"}

    def _usage(self, body: dict, content: str) -> dict:
        prompt = sum(_tokens(_text(m.get("content"))) for m in body.get("messages", []))
        completion = _tokens(content)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _completion(self, body: dict, content: str) -> dict:
        message = {"role": "assistant", "content": content, "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return {**self._envelope(body, "chat.completion"), "choices": [choice], "usage": self._usage(body, content)}

    def _chunks(self, body: dict, content: str) -> list[dict]:
        size = self.chunk_chars
        deltas = [{"role": "assistant", "content": ""}]
        deltas += [{"content": content[i:i + size]} for i in range(0, len(content), size)]
        choices = [[{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}] for d in deltas]
        choices.append([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}])
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        extra = {"usage": None} if with_usage else {}
        chunks = [{**self._envelope(body, "chat.completion.chunk"), "choices": c, **extra} for c in choices]
        if with_usage:
            chunks.append({**chunks[0], "choices": [], "usage": self._usage(body, content)})
        return chunks

    async def _stream(self, request: web.Request, body: dict, content: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        events = [f"data: {json.dumps(c)}\n\n".encode() for c in self._chunks(body, content)]
        if request[FAULT] == "stream_cut":
            events = events[: max(1, len(events) // 2)]
        else:
            events.append(b"data: [DONE]\n\n")
        try:
            for i, event in enumerate(events):
                if i and self.stream_delay:
                    await asyncio.sleep(self.stream_delay)
                await resp.write(event)
                if i == 1 and self.hold_streams:  # events[0] names the role, events[1] is the first text
                    self.holding.set()
                    await self.release.wait()
        except (asyncio.CancelledError, ConnectionResetError):
            self.streams_abandoned += 1
            self.abandoned.set()
            raise
        finally:
            self.holding.clear()
        if request[FAULT] == "stream_cut":
            return self._abort(request, resp)
        await resp.write_eof()
        return resp

    async def _cut(self, request: web.Request, payload: bytes) -> web.StreamResponse:
        """Announce the whole body, send half of it, then drop the connection."""
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(payload)
        await resp.prepare(request)
        await resp.write(payload[: len(payload) // 2])
        return self._abort(request, resp)

    @staticmethod
    def _abort(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.close()
        return resp

    # -- embeddings and models -------------------------------------------

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = request[BODY]
        items = body.get("input")
        if isinstance(items, str) or (isinstance(items, list) and items and isinstance(items[0], int)):
            items = [items]
        dim = body.get("dimensions") or self.embedding_dim
        as_base64 = body.get("encoding_format") == "base64"
        data = [{"object": "embedding", "index": i, "embedding": self._encode(unit_vector(item, dim), as_base64)}
                for i, item in enumerate(items)]
        tokens = sum(_tokens(i) if isinstance(i, str) else len(i) for i in items)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        model = body.get("model") or self.embedding_model
        return web.json_response({"object": "list", "data": data, "model": model, "usage": usage})

    @staticmethod
    def _encode(vector: list[float], as_base64: bool) -> list[float] | str:
        if not as_base64:
            return vector
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()

    async def _models(self, request: web.Request) -> web.Response:
        models = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                  for m in (self.model, self.embedding_model)]
        return web.json_response({"object": "list", "data": models})
