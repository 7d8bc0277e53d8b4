"""One search facade over an ordered chain of sources.

Sources are tried in order and later ones only fill what earlier ones could not (a
fallback chain, not a fan-out: the offline library answers first and the web APIs are
asked only when configured and needed). Every source fails soft: the error is logged,
kept in `last_errors`, and the next source is asked.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from typing import Any, Awaitable, TypeVar

from nanoresearch.errors import NanoResearchError, UserError
from nanoresearch.literature.http_base import drop_unreachable
from nanoresearch.literature.http_sources import ArxivSource, OpenAlexSource, SemanticScholarSource
from nanoresearch.literature.local import LocalLibrary
from nanoresearch.literature.userlib import UserLibrary
from nanoresearch.literature.text import normalize_title
from nanoresearch.progress import ProgressChannel, report
from nanoresearch.types import LiteratureRecord, LiteratureSearched

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_sync(coro: Awaitable[T]) -> T:
    """Run a coroutine from sync code, also when called inside a running event loop
    (Ray async actors, FastAPI), where asyncio.run would refuse."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class LiteratureSearch:
    def __init__(self, sources: list[Any], stop_when_full: bool = True):
        if not sources:
            raise UserError("no literature source configured; set literature.sources "
                            "(e.g. ['local']) and literature.library_path")
        self.sources = sources
        self.stop_when_full = stop_when_full
        self.seen: dict[str, LiteratureRecord] = {}  # every record returned, for get()
        self.last_errors: dict[str, str] = {}
        # where each source's answer is reported (records scanned / kept) while a step
        # searches: the project's progress channel (nanoresearch/progress.py), or None
        self.progress: ProgressChannel | None = None

    async def _one(self, src: Any, query: str, k: int) -> list[LiteratureRecord]:
        if hasattr(src, "asearch"):
            return await src.asearch(query, k)
        return src.search(query, k)

    async def asearch(self, query: str, k: int = 10) -> list[LiteratureRecord]:
        if not query.strip():
            return []
        out: list[LiteratureRecord] = []
        ids: set[str] = set()
        titles: set[str] = set()
        self.last_errors = {}
        for src in self.sources:
            t0, before = time.monotonic(), len(out)
            try:
                hits = await self._one(src, query, k)
            except (NanoResearchError, OSError, ValueError) as e:
                self.last_errors[src.name] = str(e)
                log.warning("literature source %s failed for %r: %s; trying the next source",
                            src.name, query, e)
                report(self.progress, LiteratureSearched(source=src.name, query=query[:200], error=str(e)[:300],
                                                         duration_s=round(time.monotonic() - t0, 3)))
                continue
            for r in hits:
                key = normalize_title(r.title)
                if r.id in ids or key in titles:
                    continue
                ids.add(r.id)
                titles.add(key)
                out.append(r)
                self.seen[r.id] = r
            report(self.progress, LiteratureSearched(source=src.name, query=query[:200], scanned=len(hits),
                                                     kept=len(out) - before,
                                                     duration_s=round(time.monotonic() - t0, 3)))
            if self.stop_when_full and len(out) >= k:
                break
        if not out and self.last_errors:
            log.error("every literature source failed for %r: %s", query, self.last_errors)
        return out[:k]

    def search(self, query: str, k: int = 10) -> list[LiteratureRecord]:
        return run_sync(self.asearch(query, k))

    def get(self, paper_id: str) -> LiteratureRecord | None:
        if paper_id in self.seen:
            return self.seen[paper_id]
        for src in self.sources:
            if hasattr(src, "get") and (r := src.get(paper_id)) is not None:
                return r
        return None


def make_literature(settings: Any, embedder: Any = None, *, cache_dir: Any = None,
                    base_urls: dict[str, str] | None = None) -> LiteratureSearch:
    """Sources from settings.literature: the user's library first (their own papers
    rank before the corpus), then the configured chain. `base_urls` (source name -> URL)
    points the web clients at mirrors or test servers; `cache_dir` defaults to
    settings.cache_dir."""
    lit = settings.literature
    cache = cache_dir or settings.cache_dir
    timeout = settings.providers.timeout_s
    urls = base_urls or {}
    sources: list[Any] = []
    if lit.user_library:
        sources.append(UserLibrary.from_file(lit.user_library, embedder))
    for name in lit.sources:
        try:
            if name == "local":
                sources.append(LocalLibrary(lit.library_path, cache, embedder))
            elif name == "openalex":
                sources.append(OpenAlexSource(urls.get(name), mailto=lit.mailto, cache_dir=cache,
                                              timeout_s=timeout))
            elif name == "arxiv":
                sources.append(ArxivSource(urls.get(name), cache_dir=cache, timeout_s=timeout))
            elif name == "semantic_scholar":
                sources.append(SemanticScholarSource(urls.get(name),
                                                     api_key=lit.semantic_scholar_api_key,
                                                     cache_dir=cache, timeout_s=timeout))
        except UserError as e:
            log.warning("literature source %s unavailable: %s", name, e)
    return LiteratureSearch(drop_unreachable(sources))
