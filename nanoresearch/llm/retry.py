"""One retry policy for every network LLM call, run by tenacity: exponential backoff with
full jitter, only on retryable failures (429, 5xx, timeouts, connection errors),
honouring `Retry-After`. The SDKs' own retries are disabled (max_retries=0) so this is the only
policy and its limits come from config (`providers.max_retries`).

Non-retryable failures (other 4xx) are raised at once, mapped to our error classes:
401/403 and 404 are the user's to fix (key, model name, base_url), the rest RunFailure.
"""
from __future__ import annotations

import email.utils
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from nanoresearch.errors import NanoResearchError, RunFailure, ServiceUnavailable, UserError

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4  # re-tries after the first attempt
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    # a server asking for more than this is treated as down rather than slept on
    max_retry_after_s: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, base * 2^attempt]."""
        cap = min(self.max_delay_s, self.base_delay_s * (2 ** attempt))
        return random.uniform(0, cap)


def status_of(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds from `retry-after-ms` / `Retry-After` (seconds or an HTTP date)."""
    resp = getattr(exc, "response", None)
    headers = getattr(resp, "headers", None)
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    val = headers.get("retry-after")
    if not val:
        return None
    try:
        return max(0.0, float(val))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(val) if val else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def error_body(exc: BaseException, limit: int = 300) -> str:
    resp = getattr(exc, "response", None)
    try:
        text = resp.text if resp is not None else str(exc)
    except Exception:  # a streamed/closed body cannot be read again
        text = str(exc)
    return " ".join(text.split())[:limit]


def non_retryable_error(exc: BaseException, where: str) -> NanoResearchError:
    """Map a final 4xx to the class whose owner must act."""
    status = status_of(exc)
    body = error_body(exc)
    if status in (401, 403):
        return UserError(f"{where} rejected the credentials (HTTP {status}): {body}. "
                         "Set the provider's api key in the config or its environment variable.")
    if status == 404:
        return UserError(f"{where} answered 404 (unknown model or wrong base_url): {body}. "
                         "Check the model name in models.* and the providers.*_base_url.")
    return RunFailure(f"{where} refused the request (HTTP {status}): {body}")


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    """The server's Retry-After when it sent one, else full-jitter backoff."""
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = retry_after_s(exc) if exc is not None else None
        return after if after is not None else policy.backoff(state.attempt_number - 1)
    return wait


def call_with_retries(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    where: str,
    transient: tuple[type[BaseException], ...],
    sleep: Callable[[float], Any] = time.sleep,
) -> T:
    """Run `fn` under tenacity: retry on transient exceptions (connection/timeouts) and
    retryable HTTP statuses, never sleep longer than the policy allows. `where` names
    the provider+model+url in every message."""
    def retryable(exc: BaseException) -> bool:
        return isinstance(exc, transient) or status_of(exc) in RETRYABLE_STATUS

    def patient(exc: BaseException) -> bool:  # a Retry-After of an hour: report, don't sleep
        wait = retry_after_s(exc)
        return wait is None or wait <= policy.max_retry_after_s

    def before_sleep(state: RetryCallState) -> None:
        log.warning("%s: %s; retry %d/%d in %.2fs", where, _reason(state.outcome.exception()),
                    state.attempt_number, policy.max_retries, state.upcoming_sleep)

    retrying = Retrying(stop=stop_after_attempt(policy.max_retries + 1), wait=_wait(policy),
                        retry=retry_if_exception(lambda e: retryable(e) and patient(e)),
                        sleep=sleep, before_sleep=before_sleep, reraise=True)
    try:
        return retrying(fn)
    except Exception as exc:  # noqa: BLE001 - classified below, re-raised otherwise
        if not retryable(exc):
            if status_of(exc) is not None:
                raise non_retryable_error(exc, where) from exc
            raise
        wait = retry_after_s(exc)
        if not patient(exc):
            raise ServiceUnavailable(
                f"{where} asked to retry after {wait:.0f}s (> {policy.max_retry_after_s:.0f}s); "
                f"last error {_reason(exc)}") from exc
        attempts = retrying.statistics.get("attempt_number", policy.max_retries + 1)
        raise ServiceUnavailable(
            f"{where} failed after {attempts} attempt(s); last error {_reason(exc)}. "
            "The service may be down or rate-limiting; retry later or raise "
            "providers.max_retries.") from exc


def _reason(exc: BaseException | None) -> str:
    status = status_of(exc) if exc is not None else None
    return f"HTTP {status}: {error_body(exc)}" if status else f"{type(exc).__name__}: {exc}"
