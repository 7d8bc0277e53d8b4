"""What every literature web API client shares: a polite rate limit, retries with
exponential backoff on 429/5xx/timeouts (tenacity, honouring Retry-After), a short
connect timeout, a circuit breaker and an on-disk response cache.

The breaker counts failed *attempts* (not failed searches), so a 5xx storm opens it within
one search and the next searches fail fast instead of each paying the full retry budget.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

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
                 timeout_s: float = 20.0, connect_timeout_s: float = 3.0, max_retries: int = 3, backoff_s: float = 1.0,
                 min_interval_s: float = 1.0, breaker: CircuitBreaker | None = None,
                 headers: dict[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.cache = ResponseCache(Path(cache_dir) / "http" / self.name if cache_dir else None)
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        # offline or firewalled, a connect fails in this bound, not in the read timeout
        self.connect_timeout_s = connect_timeout_s
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

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff, at least the server's Retry-After; none once the breaker
        opened (the next attempt then fails fast with the breaker's message)."""
        if not self.breaker.allow():
            return 0.0
        exc = state.outcome.exception() if state.outcome else None
        after = exc.retry_after_s if isinstance(exc, _Transient) else 0.0
        return min(max(self.backoff_s * 2 ** (state.attempt_number - 1), after), 30.0)

    async def _attempt(self, client: httpx.AsyncClient, url: str, params: dict[str, Any]) -> str:
        if not self.breaker.allow():
            raise ServiceUnavailable(
                f"{self.name} circuit breaker is open after {self.breaker.failures} consecutive "
                f"failures; retrying after {self.breaker.cooldown_s:g}s cooldown")
        await self._polite_wait()
        self.requests_sent += 1
        try:
            resp = await client.get(url, params=params)
        except (httpx.TimeoutException, httpx.TransportError) as e:
            raise self._failed(f"{type(e).__name__}: {e}", 0.0) from e
        if resp.status_code == 200:
            self.breaker.success()
            return resp.text
        if resp.status_code not in RETRY_STATUS:
            raise RunFailure(f"{self.name} request failed with HTTP {resp.status_code}: "
                             f"{resp.text[:200]!r}; check the query and base URL")
        raise self._failed(f"HTTP {resp.status_code}", _retry_after(resp))

    def _failed(self, reason: str, retry_after_s: float) -> "_Transient":
        self.breaker.failure()  # attempts, not searches, count towards opening it
        log.warning("%s attempt failed (%s)", self.name, reason)
        return _Transient(reason, retry_after_s)

    async def _fetch(self, url: str, params: dict[str, Any]) -> str:
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.connect_timeout_s, self.timeout_s))
        retrying = AsyncRetrying(stop=stop_after_attempt(self.max_retries + 1), wait=self._wait,
                                 retry=retry_if_exception_type(_Transient), sleep=asyncio.sleep,
                                 reraise=True)
        async with httpx.AsyncClient(timeout=timeout, headers=self.headers,
                                     transport=self.transport) as client:
            try:
                async for attempt in retrying:
                    with attempt:
                        body = await self._attempt(client, url, params)
            except _Transient as e:
                raise ServiceUnavailable(f"{self.name} failed after {self.max_retries + 1} attempts "
                                         f"(last: {e}); the search falls back to the next source") from None
        return body


class _Transient(Exception):
    """A retryable failure (timeout, connection, 429/5xx) with the server's wait hint."""

    def __init__(self, reason: str, retry_after_s: float):
        super().__init__(reason)
        self.retry_after_s = retry_after_s


def _retry_after(resp: httpx.Response) -> float:
    try:
        return float(resp.headers.get("Retry-After", 0))
    except ValueError:
        return 0.0


_PROBES: dict[str, tuple[float, str | None]] = {}  # host -> (when, reason or None if live)


def probe(base_url: str, timeout_s: float = 1.5, ttl_s: float = 300.0) -> str | None:
    """None when a TCP connection to the API's host opens within `timeout_s`, else why
    not (DNS, refused, timeout). Remembered per host for `ttl_s`, so an offline machine
    pays the probe once per process, not once per search."""
    u = httpx.URL(base_url)
    host, port = u.host, u.port or (443 if u.scheme == "https" else 80)
    cached = _PROBES.get(host)
    if cached and time.monotonic() - cached[0] < ttl_s:
        return cached[1]
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
        reason = None
    except OSError as e:
        reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    _PROBES[host] = (time.monotonic(), reason)
    return reason


def drop_unreachable(sources: list[Any], timeout_s: float = 1.5) -> list[Any]:
    """Keep the web sources whose public API answers a TCP connect (probed in parallel);
    say in ONE line which were dropped, so an offline run falls to the local library at
    once instead of paying retries on every search. Sources pointed at a configured
    mirror or test server are kept: their failures belong to whoever configured them."""
    web = [s for s in sources if isinstance(s, HttpSource) and s.base_url == s.default_base_url.rstrip("/")]
    if not web:
        return sources
    with ThreadPoolExecutor(max_workers=len(web)) as pool:
        reasons = dict(zip([s.name for s in web], pool.map(lambda s: probe(s.base_url, timeout_s), web)))
    down = {n: r for n, r in reasons.items() if r}
    if down:
        rest = [s.name for s in sources if s.name not in down]
        log.warning("literature: online sources unreachable (%s); searching %s",
                    "; ".join(f"{n}: {r}" for n, r in down.items()),
                    ", ".join(rest) if rest else "nothing else")
    return [s for s in sources if s.name not in down]
