"""An in-memory Channel that records what it is asked to send (for engine tests)."""
from __future__ import annotations

from bot.ports import InboundHandler
from bot.types import Reply


class RecordingChannel:
    def __init__(self, name: str = "web", fail: bool = False):
        self.name = name
        self.fail = fail
        self.sent: list[tuple[str, Reply]] = []
        self.handler: InboundHandler | None = None

    async def start(self, handler: InboundHandler) -> None:
        self.handler = handler

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        if self.fail:
            raise ConnectionError("platform unreachable")
        self.sent.append((chat_id, reply))
        return str(len(self.sent))

    async def stop(self) -> None:
        self.handler = None
