"""Keyless models for tests and offline control flow.

`ScriptedModel` replays a list of responses (strings, or callables of the messages);
`FunctionModel` answers with any function of the messages. They count tokens the same
rough way (whitespace words) so ledgers and budgets can be tested.
"""
from __future__ import annotations

import json
import threading
from typing import Any, Callable, Sequence

from nanoresearch.llm.base import LLM, Messages, to_messages
from nanoresearch.types import ChatMessage, Completion, Usage

Responder = Callable[[list[ChatMessage]], str]


def _count(text: str) -> int:
    return max(1, len(text.split()))


class FunctionModel(LLM):
    provider = "function"

    def __init__(self, fn: Responder, model: str = "function"):
        self.fn = fn
        self.model = model
        self.calls: list[list[ChatMessage]] = []
        self._lock = threading.Lock()

    def generate(self, messages: Messages, *, schema: dict[str, Any] | None = None,
                 max_tokens: int = 512, temperature: float = 0.0,
                 stop: list[str] | None = None) -> Completion:
        msgs = to_messages(messages)
        with self._lock:
            self.calls.append(msgs)
        text = self.fn(msgs)
        if not isinstance(text, str):
            text = json.dumps(text)
        prompt = sum(_count(m.content) for m in msgs)
        return Completion(text=text, model=self.model,
                          usage=Usage(prompt_tokens=prompt, completion_tokens=_count(text)))


class ScriptedModel(FunctionModel):
    """Replays `responses` in order; each item is a str, a dict/list (sent as JSON) or a
    callable(messages) -> str. When exhausted it repeats the last one if `cycle_last`,
    else raises IndexError so a test sees an unexpected extra call."""

    provider = "scripted"

    def __init__(self, responses: Sequence[Any], cycle_last: bool = False,
                 model: str = "scripted"):
        self.responses = list(responses)
        self.cycle_last = cycle_last
        self._i = 0
        super().__init__(self._next, model=model)

    def _next(self, msgs: list[ChatMessage]) -> str:
        if self._i >= len(self.responses):
            if not (self.cycle_last and self.responses):
                raise IndexError(f"ScriptedModel exhausted after {len(self.responses)} responses")
            item = self.responses[-1]
        else:
            item = self.responses[self._i]
        self._i += 1
        if callable(item):
            item = item(msgs)
        return item if isinstance(item, str) else json.dumps(item)
