"""Anthropic Messages API via the `anthropic` SDK.

System messages go into the `system` parameter; consecutive turns of the same role are
merged because the API wants user/assistant alternation starting with a user turn. A
schema is sent as structured output (`output_config.format`); a server that rejects it
(400/422, e.g. an unsupported schema feature) is asked again without it and that is
remembered; `llm/structured.py` validates either way. The current SDK has no
`temperature` parameter (recent models fix sampling), so it is not sent.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from nanoresearch.errors import ModelError, RunFailure
from nanoresearch.llm.base import LLM, Messages, check_network_allowed, to_messages
from nanoresearch.llm.retry import RetryPolicy, call_with_retries, status_of
from nanoresearch.types import ChatMessage, Completion, Usage

log = logging.getLogger(__name__)


def _import_anthropic():
    try:
        import anthropic
    except ImportError as e:  # pragma: no cover - a core dependency
        raise ImportError("the Anthropic provider needs the `anthropic` package: "
                          "pip install 'nanoresearch' (it is a core dependency)") from e
    return anthropic


def split_system(msgs: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    system = "\n\n".join(m.content for m in msgs if m.role == "system")
    turns: list[dict[str, str]] = []
    for m in msgs:
        if m.role == "system":
            continue
        if turns and turns[-1]["role"] == m.role:
            turns[-1]["content"] += "\n\n" + m.content
        else:
            turns.append({"role": m.role, "content": m.content})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": "(continue)"})
    return system, turns


def parse_message(resp: Any, where: str) -> tuple[str, Usage, str]:
    """(text, usage, stop_reason) from an SDK Message; anything malformed -> ModelError."""
    try:
        if isinstance(resp, (str, bytes)):
            raise TypeError(f"body is not a JSON object: {str(resp)[:120]!r}")
        blocks = resp.content
        if not isinstance(blocks, list):
            raise TypeError("`content` is not a list of blocks")
        text = "".join(b.text for b in blocks if getattr(b, "type", "") == "text")
        u = resp.usage
        usage = Usage(prompt_tokens=int(u.input_tokens or 0),
                      completion_tokens=int(u.output_tokens or 0))
        return text, usage, str(getattr(resp, "stop_reason", None) or "end_turn")
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{where} returned a malformed Messages API body ({e}); "
                         "is the base_url an Anthropic-compatible endpoint?") from None


class AnthropicLLM(LLM):
    provider = "anthropic"

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout_s: float = 120.0, retry: RetryPolicy | None = None):
        self.model, self.base_url = model, base_url
        self.retry = retry or RetryPolicy()
        self._structured_ok = True  # cleared when the server refuses output_config
        anthropic = _import_anthropic()
        self._anthropic = anthropic
        # max_retries=0: our retry policy (retry.py) is the only one
        self.client = anthropic.Anthropic(api_key=api_key or "EMPTY", base_url=base_url,
                                          timeout=timeout_s, max_retries=0)

    @property
    def where(self) -> str:
        return f"anthropic:{self.model} at {self.base_url or 'api.anthropic.com'}"

    def _create(self, kwargs: dict[str, Any], schema: dict[str, Any] | None) -> Any:
        transient = (self._anthropic.APIConnectionError, self._anthropic.APITimeoutError)
        while True:
            structured = bool(schema) and self._structured_ok
            call = dict(kwargs, **({"output_config": {"format": {"type": "json_schema",
                                                                 "schema": schema}}}
                                   if structured else {}))
            try:
                return call_with_retries(lambda: self.client.messages.create(**call),
                                         policy=self.retry, where=self.where, transient=transient)
            except RunFailure as e:
                if not (structured and status_of(e.__cause__) in (400, 422)):
                    raise
                self._structured_ok = False
                log.info("%s rejected structured output; continuing without it", self.where)

    def generate(self, messages: Messages, *, schema: dict[str, Any] | None = None,
                 max_tokens: int = 512, temperature: float = 0.0,
                 stop: list[str] | None = None) -> Completion:
        check_network_allowed(self.provider, self.base_url)
        system, turns = split_system(to_messages(messages))
        kwargs: dict[str, Any] = {"model": self.model, "messages": turns, "max_tokens": max_tokens}
        if system:
            kwargs["system"] = system
        if stop:
            kwargs["stop_sequences"] = stop
        t0 = time.perf_counter()
        resp = self._create(kwargs, schema)
        text, usage, finish = parse_message(resp, self.where)
        return Completion(text=text, model=self.model, usage=usage, finish_reason=finish,
                          latency_s=time.perf_counter() - t0)
