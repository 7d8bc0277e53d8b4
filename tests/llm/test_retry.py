"""Retry policy details (tenacity underneath; no model needed)."""
from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from nanoresearch.errors import ServiceUnavailable
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
