"""What every literature web API client shares: a polite rate limit, retries with
exponential backoff on 429/5xx/timeouts, a circuit breaker and an on-disk response cache.

The breaker counts failed *attempts* (not failed searches), so a 5xx storm opens it within
one search and the next searches fail fast instead of each paying the full retry budget.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import httpx

from nanoresearch.errors import RunFailure, ServiceUnavailable
from nanoresearch.types import LiteratureRecord

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_STATUS = {429, 500, 502, 503, 504}


class MalformedResponse(RunFailure):
    """The service answered 200 but the body is not the documented shape."""


class CircuitBreaker:
    """closed -> open after `threshold` consecutive failures -> half-open after
    `cooldown_s` (one trial call) -> closed on success, open again on failure."""

    def __init__(self, threshold: int = 5, cooldown_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.threshold, self.cooldown_s, self.clock = threshold, cooldown_s, clock
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.threshold:
            self.opened_at = self.clock()


class ResponseCache:
    """One file per (url, params): the raw body, written only after it parsed."""

    def __init__(self, folder: Path | None, ttl_s: float = 7 * 86400):
        self.folder, self.ttl_s = folder, ttl_s

    def _path(self, url: str, params: dict[str, Any]) -> Path:
        key = json.dumps([url, sorted((k, str(v)) for k, v in params.items())])
        return self.folder / (hashlib.sha1(key.encode()).hexdigest() + ".txt")

    def get(self, url: str, params: dict[str, Any]) -> str | None:
        if self.folder is None:
            return None
        p = self._path(url, params)
        if p.exists() and time.time() - p.stat().st_mtime < self.ttl_s:
            return p.read_text(encoding="utf-8")
        return None

    def put(self, url: str, params: dict[str, Any], body: str) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        p = self._path(url, params)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(p)


class HttpSource:
    """Base of the API clients; subclasses implement `request(query, k)` -> (path, params)
    and `parse(body, k)` -> records."""

    name = "http"
    default_base_url = ""

    def __init__(self, base_url: str | None = None, *, cache_dir: str | Path | None = None,
                 timeout_s: float = 20.0, max_retries: int = 3, backoff_s: float = 1.0,
                 min_interval_s: float = 1.0, breaker: CircuitBreaker | None = None,
                 headers: dict[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.cache = ResponseCache(Path(cache_dir) / "http" / self.name if cache_dir else None)
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        self.min_interval_s = min_interval_s
        self.breaker = breaker or CircuitBreaker()
        self.headers = {"User-Agent": "nanoresearch/0.1 (research automation)", **(headers or {})}
        self.transport = transport
        self.requests_sent = 0
        self._next_slot = 0.0

    # -------------------------------------------------------------- subclass hooks
    def request(self, query: str, k: int) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def parse(self, body: str, k: int) -> list[LiteratureRecord]:
        raise NotImplementedError

    # -------------------------------------------------------------- public
    async def asearch(self, query: str, k: int = 10) -> list[LiteratureRecord]:
        path, params = self.request(query, k)
        url = f"{self.base_url}{path}"
        cached = self.cache.get(url, params)
        if cached is not None:
            log.debug("%s cache hit for %r", self.name, query)
            return self._parse(cached, k)
        body = await self._fetch(url, params)
        records = self._parse(body, k)
        self.cache.put(url, params, body)
        return records

    def _parse(self, body: str, k: int) -> list[LiteratureRecord]:
        try:
            return self.parse(body, k)
        except MalformedResponse:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise MalformedResponse(f"{self.name} returned a malformed response "
                                    f"({type(e).__name__}: {e}); body starts {body[:120]!r}") from None

    async def _polite_wait(self) -> None:
        # reserve the next free slot before awaiting (no await in between, so concurrent
        # searches on one loop queue up); no asyncio.Lock, which would bind to one loop
        # while the sync facade runs a fresh loop per call
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self.min_interval_s
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _fetch(self, url: str, params: dict[str, Any]) -> str:
        last = ""
        async with httpx.AsyncClient(timeout=self.timeout_s, headers=self.headers,
                                     transport=self.transport) as client:
            for attempt in range(self.max_retries + 1):
                if not self.breaker.allow():
                    raise ServiceUnavailable(
                        f"{self.name} circuit breaker is open after {self.breaker.failures} "
                        f"consecutive failures (last: {last or 'n/a'}); retrying after "
                        f"{self.breaker.cooldown_s:g}s cooldown")
                await self._polite_wait()
                delay = self.backoff_s * 2 ** attempt
                try:
                    self.requests_sent += 1
                    resp = await client.get(url, params=params)
                except (httpx.TimeoutException, httpx.TransportError) as e:
                    last = f"{type(e).__name__}: {e}"
                else:
                    if resp.status_code == 200:
                        self.breaker.success()
                        return resp.text
                    last = f"HTTP {resp.status_code}"
                    if resp.status_code not in RETRY_STATUS:
                        raise RunFailure(f"{self.name} request failed with {last}: "
                                         f"{resp.text[:200]!r}; check the query and base URL")
                    delay = max(delay, _retry_after(resp))
                self.breaker.failure()
                log.warning("%s attempt %d failed (%s)", self.name, attempt + 1, last)
                if attempt < self.max_retries and self.breaker.allow():
                    await asyncio.sleep(min(delay, 30.0))
        raise ServiceUnavailable(f"{self.name} failed after {self.max_retries + 1} attempts "
                                 f"(last: {last}); the search falls back to the next source")


def _retry_after(resp: httpx.Response) -> float:
    try:
        return float(resp.headers.get("Retry-After", 0))
    except ValueError:
        return 0.0
