"""Anthropic provider against a real HTTP server speaking the Messages API shape."""
from __future__ import annotations

import pytest

from nanoresearch.errors import ModelError, ModelRequestsBlocked, RunFailure, ServiceUnavailable
from nanoresearch.llm.anthropic_provider import AnthropicLLM, split_system
from nanoresearch.llm.retry import RetryPolicy
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import ChatMessage
from tests.llm.fake_server import Reply, anthropic_body
from tests.llm.test_openai_compat import Paper

MSGS = [{"role": "system", "content": "you are terse"}, {"role": "user", "content": "hi"}]
FAST = RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.05)


def make(server, **kw) -> AnthropicLLM:
    return AnthropicLLM("claude-x", base_url=server.url, api_key="k", timeout_s=5.0,
                        retry=kw.pop("retry", FAST), **kw)


def test_success_splits_system_and_reads_usage(server):
    server.script(Reply(body=anthropic_body("hello", 13, 5)))
    comp = make(server).generate(MSGS, max_tokens=40, stop=["END"])
    assert comp.text == "hello" and comp.finish_reason == "end_turn"
    assert (comp.usage.prompt_tokens, comp.usage.completion_tokens) == (13, 5)
    req = server.seen[0]
    assert req.path == "/v1/messages"
    assert req.body["system"] == "you are terse"
    assert req.body["messages"] == [{"role": "user", "content": "hi"}]
    assert req.body["max_tokens"] == 40 and req.body["stop_sequences"] == ["END"]
    # SDK versions differ in how the key travels (x-api-key or a bearer token)
    assert "k" in (req.headers.get("x-api-key"), req.headers.get("Authorization", "")[7:])


def test_split_system_merges_turns_and_starts_with_user():
    msgs = [ChatMessage(role="system", content="a"), ChatMessage(role="assistant", content="b"),
            ChatMessage(role="assistant", content="c"), ChatMessage(role="system", content="d")]
    system, turns = split_system(msgs)
    assert system == "a\n\nd"
    assert turns[0]["role"] == "user" and turns[1] == {"role": "assistant", "content": "b\n\nc"}


def test_429_then_success_honours_retry_after(server):
    server.script(Reply(429, {"type": "error", "error": {"type": "rate_limit_error",
                                                          "message": "slow"}},
                        {"retry-after": "0.3"}),
                  Reply(body=anthropic_body("ok")))
    assert make(server).generate(MSGS).text == "ok"
    assert len(server.seen) == 2 and server.seen[1].at - server.seen[0].at >= 0.3


def test_overloaded_storm_gives_clear_error(server):
    server.script(*[Reply(529, {"type": "error", "error": {"type": "overloaded_error",
                                                            "message": "busy"}})
                    for _ in range(4)])
    with pytest.raises(ServiceUnavailable, match=r"anthropic:claude-x .* failed after 3 attempt"):
        make(server).generate(MSGS)
    assert len(server.seen) == 3


def test_400_is_not_retried(server):
    server.script(Reply(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                          "message": "bad"}}),
                  Reply(body=anthropic_body("never")))
    with pytest.raises(RunFailure, match="HTTP 400"):
        make(server).generate(MSGS)
    assert len(server.seen) == 1


@pytest.mark.parametrize("reply", [Reply(body="not json at all", content_type="text/plain"),
                                   Reply(body={"content": "oops"}),
                                   Reply(body={"id": "x"})])
def test_malformed_body_gives_clear_model_error(server, reply):
    server.script(reply)
    with pytest.raises(ModelError, match="malformed Messages API body"):
        make(server).generate(MSGS)


def test_structured_retry_through_anthropic(server):
    server.script(Reply(body=anthropic_body('{"title": ""}')),
                  Reply(body=anthropic_body('{"title": "Sparse attention", "keywords": ["a"]}')))
    paper, _ = generate_structured(make(server), [{"role": "user", "content": "x"}], Paper)
    assert paper.title == "Sparse attention"
    retry_turns = server.seen[1].body["messages"]
    assert retry_turns[-1]["role"] == "user" and "Paper" in retry_turns[-1]["content"]


def test_network_switch_blocks_hosted_anthropic(monkeypatch):
    monkeypatch.setenv("NANORESEARCH_ALLOW_MODEL_REQUESTS", "0")
    with pytest.raises(ModelRequestsBlocked):
        AnthropicLLM("claude-x", api_key="k", retry=FAST).generate(MSGS)


def test_schema_sent_as_structured_output_then_dropped_when_refused(server):
    server.script(Reply(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                          "message": "schema unsupported"}}),
                  Reply(body=anthropic_body('{"title": "abc", "keywords": ["k"]}')),
                  Reply(body=anthropic_body('{"title": "abd", "keywords": ["k"]}')))
    llm = make(server)
    schema = Paper.model_json_schema()
    assert llm.generate(MSGS, schema=schema).text.startswith('{"title": "abc"')
    assert server.seen[0].body["output_config"] == {"format": {"type": "json_schema",
                                                               "schema": schema}}
    assert "output_config" not in server.seen[1].body
    llm.generate(MSGS, schema=schema)
    assert "output_config" not in server.seen[2].body and len(server.seen) == 3
