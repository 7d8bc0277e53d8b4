"""The one interface every LLM backend implements.

`generate(messages, schema=None)` returns a `Completion` (text + usage). `schema` is a
JSON schema dict: engines that can constrain decoding (llama.cpp grammars, vLLM guided
decoding, OpenAI `response_format`) use it; others ignore it and the structured-output
helper (`llm/structured.py`) validates and re-asks.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any, Sequence

from nanoresearch.errors import ModelRequestsBlocked
from nanoresearch.types import ChatMessage, Completion

Messages = Sequence[ChatMessage | dict]

# Tests set this to "0" (tests/conftest.py): any real *network* model call then raises.
# Local engines (the embedded model) and the scripted model stay allowed.
ALLOW_ENV = "NANORESEARCH_ALLOW_MODEL_REQUESTS"


def network_requests_allowed() -> bool:
    return os.environ.get(ALLOW_ENV, "1") != "0"


def check_network_allowed(provider: str, base_url: str | None = None) -> None:
    """Loopback servers (our own planner route, test servers) are always allowed."""
    if network_requests_allowed():
        return
    if base_url and any(h in base_url for h in ("127.0.0.1", "localhost", "[::1]")):
        return
    raise ModelRequestsBlocked(
        f"network model request to {provider} blocked: {ALLOW_ENV}=0 (tests forbid real calls)")


def to_messages(messages: Messages) -> list[ChatMessage]:
    return [m if isinstance(m, ChatMessage) else ChatMessage(**m) for m in messages]


class LLM(ABC):
    """Base class: one `generate()`; subclasses are one backend each."""

    provider: str = "base"
    model: str = ""

    @abstractmethod
    def generate(
        self,
        messages: Messages,
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Completion:
        ...

    def generate_batch(self, batch: Sequence[Messages], **kw: Any) -> list[Completion]:
        """Engines that batch natively override this."""
        return [self.generate(m, **kw) for m in batch]

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.model}"
