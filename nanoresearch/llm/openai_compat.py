"""OpenAI-compatible chat completions via the `openai` SDK: OpenAI, DeepSeek, vLLM,
any local server, and our own planner route.

With a schema it asks for `response_format=json_schema`; servers that reject it (HTTP
400/422) are asked again with `json_object`, then with no format at all, and the level
that worked is remembered. `llm/structured.py` validates either way. Newer OpenAI models
refuse `max_tokens` and want `max_completion_tokens`; that switch is remembered too.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from nanoresearch.errors import ModelError, RunFailure
from nanoresearch.llm.base import LLM, Messages, check_network_allowed, to_messages
from nanoresearch.llm.retry import RetryPolicy, call_with_retries, status_of
from nanoresearch.types import Completion, Usage

log = logging.getLogger(__name__)
FORMAT_LEVELS = ("json_schema", "json_object", "none")


def _import_openai():
    try:
        import openai
    except ImportError as e:  # pragma: no cover - a core dependency
        raise ImportError("the OpenAI-compatible provider needs the `openai` package: "
                          "pip install 'nanoresearch' (it is a core dependency)") from e
    return openai


def _response_format(level: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    if level == "json_schema":
        name = str(schema.get("title") or "output")[:64]
        return {"type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": False}}
    if level == "json_object":
        return {"type": "json_object"}
    return None


def parse_chat_completion(resp: Any, where: str) -> tuple[str, Usage, str]:
    """(text, usage, finish_reason) from an SDK response; anything malformed -> ModelError.
    The SDK does not validate bodies (a non-JSON body comes back as a plain str)."""
    try:
        if isinstance(resp, (str, bytes)):
            raise TypeError(f"body is not a JSON object: {str(resp)[:120]!r}")
        choice = resp.choices[0]
        text = choice.message.content
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise TypeError(f"message.content is {type(text).__name__}, not str")
        u = getattr(resp, "usage", None)
        usage = Usage(prompt_tokens=int(getattr(u, "prompt_tokens", 0) or 0),
                      completion_tokens=int(getattr(u, "completion_tokens", 0) or 0))
        return text, usage, str(getattr(choice, "finish_reason", None) or "stop")
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{where} returned a malformed chat-completion body ({e}); "
                         "is the base_url an OpenAI-compatible /v1 endpoint?") from None


class OpenAICompatLLM(LLM):
    """One model on one OpenAI-compatible endpoint."""

    def __init__(self, model: str, *, provider: str = "openai", base_url: str | None = None,
                 api_key: str | None = None, timeout_s: float = 120.0,
                 retry: RetryPolicy | None = None, extra_body: dict[str, Any] | None = None):
        self.provider, self.model, self.base_url = provider, model, base_url
        self.retry = retry or RetryPolicy()
        self.extra_body = extra_body or {}
        self._format_level = 0  # index into FORMAT_LEVELS; lowered when a server refuses
        self._max_tokens_key = "max_tokens"
        openai = _import_openai()
        self._openai = openai
        # max_retries=0: our retry policy (retry.py) is the only one
        self.client = openai.OpenAI(api_key=api_key or "EMPTY", base_url=base_url,
                                    timeout=timeout_s, max_retries=0)

    @property
    def where(self) -> str:
        return f"{self.provider}:{self.model} at {self.base_url or 'api.openai.com'}"

    def _create(self, kwargs: dict[str, Any]) -> Any:
        transient = (self._openai.APIConnectionError, self._openai.APITimeoutError)
        return call_with_retries(lambda: self.client.chat.completions.create(**kwargs),
                                 policy=self.retry, where=self.where, transient=transient)

    def _create_with_format(self, kwargs: dict[str, Any], schema: dict[str, Any] | None) -> Any:
        """Try the strongest JSON mode the server accepts, remembering what worked."""
        while True:
            level = FORMAT_LEVELS[self._format_level] if schema else "none"
            fmt = _response_format(level, schema) if schema else None
            call = dict(kwargs, **({"response_format": fmt} if fmt else {}))
            call[self._max_tokens_key] = call.pop("max_tokens")
            try:
                return self._create(call)
            except RunFailure as e:
                cause = e.__cause__
                if self._max_tokens_key == "max_tokens" and "max_completion_tokens" in str(e):
                    self._max_tokens_key = "max_completion_tokens"
                    continue
                if not (fmt and status_of(cause) in (400, 422)
                        and self._format_level < len(FORMAT_LEVELS) - 1):
                    raise
                self._format_level += 1
                log.info("%s rejected response_format=%s; falling back to %s", self.where,
                         level, FORMAT_LEVELS[self._format_level])

    def generate(self, messages: Messages, *, schema: dict[str, Any] | None = None,
                 max_tokens: int = 512, temperature: float = 0.0,
                 stop: list[str] | None = None) -> Completion:
        check_network_allowed(self.provider, self.base_url)
        msgs = [m.model_dump() for m in to_messages(messages)]
        kwargs: dict[str, Any] = {"model": self.model, "messages": msgs,
                                  "max_tokens": max_tokens, "temperature": temperature}
        if stop:
            kwargs["stop"] = stop
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        t0 = time.perf_counter()
        resp = self._create_with_format(kwargs, schema)
        text, usage, finish = parse_chat_completion(resp, self.where)
        return Completion(text=text, model=self.model, usage=usage, finish_reason=finish,
                          latency_s=time.perf_counter() - t0)
