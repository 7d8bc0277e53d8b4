"""OpenAI-compatible provider against a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import time

import pytest
from pydantic import BaseModel, Field

from nanoresearch.errors import (ModelError, ModelRequestsBlocked, RunFailure, ServiceUnavailable,
                                 StructuredOutputError, UserError)
from nanoresearch.llm.openai_compat import OpenAICompatLLM
from nanoresearch.llm.retry import RetryPolicy
from nanoresearch.llm.structured import generate_structured
from tests.llm.fake_server import Reply, openai_body

MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
FAST = RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.05)


class Paper(BaseModel):
    title: str = Field(min_length=3)
    keywords: list[str] = Field(min_length=1)


def make(server, **kw) -> OpenAICompatLLM:
    kw.setdefault("retry", FAST)
    return OpenAICompatLLM("test-model", provider="vllm", base_url=server.url + "/v1",
                           timeout_s=kw.pop("timeout_s", 5.0), **kw)


def test_success_returns_text_usage_and_sends_openai_shape(server):
    server.script(Reply(body=openai_body("hello there", 21, 3, "length")))
    comp = make(server).generate(MSGS, max_tokens=33, temperature=0.5, stop=["\n"])
    assert comp.text == "hello there"
    assert (comp.usage.prompt_tokens, comp.usage.completion_tokens) == (21, 3)
    assert comp.finish_reason == "length" and comp.latency_s > 0
    req = server.seen[0]
    assert req.path == "/v1/chat/completions"
    assert req.body["model"] == "test-model" and req.body["messages"] == MSGS
    assert req.body["max_tokens"] == 33 and req.body["stop"] == ["\n"]
    assert "response_format" not in req.body


def test_429_then_success_honours_retry_after(server):
    server.script(Reply(429, {"error": {"message": "slow down"}}, {"retry-after": "0.3"}),
                  Reply(body=openai_body("ok")))
    comp = make(server).generate(MSGS)
    assert comp.text == "ok" and len(server.seen) == 2
    # the backoff alone is <= 0.05 s, so a gap >= 0.3 s proves Retry-After was used
    assert server.seen[1].at - server.seen[0].at >= 0.3


def test_500_storm_gives_clear_error_after_bounded_retries(server):
    server.script(*[Reply(500, {"error": {"message": "boom"}}) for _ in range(5)])
    with pytest.raises(ServiceUnavailable) as ei:
        make(server).generate(MSGS)
    assert len(server.seen) == 3  # 1 try + max_retries=2
    msg = str(ei.value)
    assert "failed after 3 attempt(s)" in msg and "HTTP 500" in msg and "vllm:test-model" in msg


@pytest.mark.parametrize("status,exc", [(400, RunFailure), (401, UserError), (404, UserError),
                                        (422, RunFailure)])
def test_non_retryable_4xx_raises_at_once(server, status, exc):
    server.script(Reply(status, {"error": {"message": "nope"}}), Reply(body=openai_body("x")))
    with pytest.raises(exc) as ei:
        make(server).generate(MSGS)
    assert len(server.seen) == 1
    assert str(status) in str(ei.value) and "vllm:test-model" in str(ei.value)


@pytest.mark.parametrize("reply", [
    Reply(body="<html>gateway says hi</html>", content_type="text/html"),
    Reply(body={"unexpected": True}),
    Reply(body={"choices": []}),
    Reply(body={"choices": [{"message": {"content": {"not": "text"}}}]}),
])
def test_malformed_body_gives_clear_model_error(server, reply):
    server.script(reply)
    with pytest.raises(ModelError, match="malformed chat-completion body"):
        make(server).generate(MSGS)
    assert len(server.seen) == 1


def test_timeouts_are_retried_then_reported(server):
    server.script(*[Reply(body=openai_body("late"), delay_s=1.0) for _ in range(3)])
    llm = make(server, timeout_s=0.2, retry=RetryPolicy(max_retries=1, base_delay_s=0.01))
    with pytest.raises(ServiceUnavailable, match="failed after 2 attempt"):
        llm.generate(MSGS)


def test_connection_refused_is_retried_then_reported():
    llm = OpenAICompatLLM("m", provider="vllm", base_url="http://127.0.0.1:9/v1",
                          timeout_s=1.0, retry=FAST)
    with pytest.raises(ServiceUnavailable, match="APIConnectionError"):
        llm.generate(MSGS)


def test_schema_uses_json_schema_and_falls_back_when_rejected(server):
    server.script(Reply(400, {"error": {"message": "response_format json_schema unsupported"}}),
                  Reply(body=openai_body('{"title": "abc", "keywords": ["k"]}')),
                  Reply(body=openai_body('{"title": "def", "keywords": ["k"]}')))
    llm = make(server)
    schema = Paper.model_json_schema()
    assert llm.generate(MSGS, schema=schema).text.startswith('{"title": "abc"')
    assert server.seen[0].body["response_format"]["type"] == "json_schema"
    assert server.seen[0].body["response_format"]["json_schema"]["schema"] == schema
    assert server.seen[1].body["response_format"] == {"type": "json_object"}
    llm.generate(MSGS, schema=schema)  # remembered: straight to json_object
    assert server.seen[2].body["response_format"] == {"type": "json_object"}


def test_structured_retry_end_to_end_reasks_with_the_error(server):
    server.script(Reply(body=openai_body("Sure! here it is: {title: oops")),
                  Reply(body=openai_body('```json\n{"title": "GNNs for molecules", '
                                         '"keywords": ["gnn", "chemistry"]}\n```')))
    paper, comp = generate_structured(make(server), [{"role": "user", "content": "a paper"}],
                                      Paper, retries=2)
    assert paper == Paper(title="GNNs for molecules", keywords=["gnn", "chemistry"])
    second = server.seen[1].body["messages"]
    assert second[-2] == {"role": "assistant", "content": "Sure! here it is: {title: oops"}
    assert "not valid for Paper" in second[-1]["content"]


def test_structured_retry_exhausted_names_the_schema(server):
    server.script(*[Reply(body=openai_body('{"title": "x"}')) for _ in range(3)])
    with pytest.raises(StructuredOutputError) as ei:
        generate_structured(make(server), [{"role": "user", "content": "a paper"}], Paper, retries=2)
    assert ei.value.schema_name == "Paper" and ei.value.attempts == 3
    assert "Paper" in str(ei.value) and len(server.seen) == 3


def test_network_switch_blocks_non_loopback_without_sending(monkeypatch):
    monkeypatch.setenv("NANORESEARCH_ALLOW_MODEL_REQUESTS", "0")
    llm = OpenAICompatLLM("gpt-4o", provider="openai", base_url="https://api.example.com/v1",
                          api_key="sk-test", retry=FAST)
    t0 = time.perf_counter()
    with pytest.raises(ModelRequestsBlocked, match="blocked"):
        llm.generate(MSGS)
    assert time.perf_counter() - t0 < 1.0  # refused before any connection attempt
    default = OpenAICompatLLM("gpt-4o", provider="openai", base_url=None, api_key="sk-test")
    with pytest.raises(ModelRequestsBlocked):
        default.generate(MSGS)


def test_sdk_retries_are_disabled(server):
    assert make(server).client.max_retries == 0


def test_switches_to_max_completion_tokens_when_asked(server):
    server.script(Reply(400, {"error": {"message": "Unsupported parameter: 'max_tokens'. Use "
                                        "'max_completion_tokens' instead."}}),
                  Reply(body=openai_body("a")), Reply(body=openai_body("b")))
    llm = make(server)
    assert llm.generate(MSGS, max_tokens=9).text == "a"
    assert llm.generate(MSGS, max_tokens=9).text == "b"
    assert "max_tokens" in server.seen[0].body
    assert [r.body.get("max_completion_tokens") for r in server.seen[1:]] == [9, 9]
    assert all("max_tokens" not in r.body for r in server.seen[1:])
