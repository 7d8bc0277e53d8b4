"""Retry policy details and the schema-guided JSON filler (no model needed)."""
from __future__ import annotations

import email.utils
import json
import time
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel, Field

from nanoresearch.errors import ServiceUnavailable
from nanoresearch.llm.engines.json_guide import guidable, guided_json
from nanoresearch.llm.retry import RetryPolicy, call_with_retries, retry_after_s


class _Status(Exception):
    def __init__(self, status: int, headers: dict[str, str] | None = None):
        super().__init__(f"status {status}")
        self.status_code = status
        self.response = httpx.Response(status, headers=headers or {}, text="body")


def test_retry_after_forms():
    assert retry_after_s(_Status(429, {"retry-after": "2"})) == 2.0
    assert retry_after_s(_Status(429, {"retry-after-ms": "250"})) == 0.25
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after_s(_Status(503, {"retry-after": when})) <= 31
    assert retry_after_s(_Status(500)) is None


def test_backoff_is_bounded_full_jitter():
    p = RetryPolicy(base_delay_s=0.5, max_delay_s=4.0)
    delays = [p.backoff(a) for a in range(10) for _ in range(20)]
    assert all(0 <= d <= 4.0 for d in delays) and max(delays) > 1.0


def test_sleeps_follow_retry_after_and_stop_at_the_limit():
    slept: list[float] = []
    calls = iter([_Status(429, {"retry-after": "1.5"}), _Status(502), "ok"])

    def fn():
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    out = call_with_retries(fn, policy=RetryPolicy(max_retries=3, base_delay_s=0.01),
                            where="t", transient=(), sleep=slept.append)
    assert out == "ok" and slept[0] == 1.5 and slept[1] <= 0.02


def test_too_long_retry_after_is_reported_not_slept():
    def fn():
        raise _Status(429, {"retry-after": "3600"})

    with pytest.raises(ServiceUnavailable, match="retry after 3600s"):
        call_with_retries(fn, policy=RetryPolicy(), where="t", transient=(),
                          sleep=lambda s: pytest.fail("must not sleep an hour"))


def test_other_exceptions_propagate_unchanged():
    def fn():
        raise KeyError("bug")

    with pytest.raises(KeyError):
        call_with_retries(fn, policy=RetryPolicy(), where="t", transient=(OSError,))


class Paper(BaseModel):
    title: str
    keywords: list[str] = Field(min_length=1, max_length=3)
    year: int
    score: float | None = None
    venue: Literal["neurips", "icml", "acl"]
    open_access: bool


class Nested(BaseModel):
    paper: Paper


def _scripted_complete(answers: list[str]):
    seen: list[str] = []

    def complete(prefix: str, stop: list[str], n: int):
        seen.append(prefix)
        return answers.pop(0), 2
    return complete, seen


def test_guided_json_writes_keys_and_parses_values():
    schema = Paper.model_json_schema()
    assert guidable(schema) and not guidable(Nested.model_json_schema())
    # the engine may return text past the stop string: the filler cuts it there
    answers = ['Graph nets\\ "for" molecules', "gnn", ', "', "chem", ', "', "bio",
               " 2023,", "ICML", "true"]
    complete, seen = _scripted_complete(answers)
    text, used = guided_json(schema, complete, max_tokens=200)
    obj = Paper.model_validate(json.loads(text))
    assert obj.title == "Graph nets\\"  # a backslash is escaped, not JSON syntax
    assert obj.keywords == ["gnn", "chem", "bio"]  # capped at maxItems
    assert (obj.year, obj.venue, obj.open_access) == (2023, "icml", True)
    assert seen[0].endswith('{"title": "') and used == 2 * len(seen)
    assert "score" not in json.loads(text)  # optional fields are left to their defaults


def test_guided_json_respects_the_token_budget():
    complete, seen = _scripted_complete(["a"] * 50)
    text, used = guided_json({"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 50}},
        "required": ["tags"]}, complete, max_tokens=6)
    assert used <= 8 and isinstance(json.loads(text)["tags"], list)


ID_SCHEMA = {"type": "object", "required": ["steps", "ids"], "properties": {
    "steps": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
    "ids": {"type": "array", "minItems": 0, "maxItems": 3, "items": {"enum": ["sk-7f3a", "sk-91bc", "mem-1"]}}}}


def test_optional_choice_list_may_stay_empty():
    # the model closes the id list at once: no id is invented
    complete, seen = _scripted_complete(["load data", ', "', "train", "", ""])
    text, _ = guided_json(ID_SCHEMA, complete, max_tokens=100)
    assert json.loads(text) == {"steps": ["load data", "train"], "ids": []}


def test_choices_snap_to_allowed_values_and_stop_on_repeat():
    # "sk-91" is snapped to the only id it starts; a repeated choice ends the list
    complete, seen = _scripted_complete(["go", "", '"sk-91', ', "', "sk-7f3a", ', "', "sk-7f3a"])
    text, _ = guided_json(ID_SCHEMA, complete, max_tokens=100)
    assert json.loads(text)["ids"] == ["sk-91bc", "sk-7f3a"]
