"""A real HTTP server on 127.0.0.1 that replays scripted responses, and the shared
offline library (index built once per machine in a temp cache, not per test)."""
from __future__ import annotations

import tempfile
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from nanoresearch.config import _default_library


class FakeApi:
    """Per-path queues of (status, body, headers); the last item of a queue repeats."""

    def __init__(self):
        self.routes: dict[str, deque] = defaultdict(deque)
        self.hits: list[tuple[str, dict]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, path: str, *responses: tuple) -> None:
        self.routes[path].extend(responses)

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.hits if p == path)

    def _handler(self):
        api = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                u = urlparse(self.path)
                api.hits.append((u.path, parse_qs(u.query)))
                q = api.routes.get(u.path)
                status, body, headers = (q.popleft() if len(q) > 1 else q[0]) if q else (404, "no route", {})
                data = body.encode()
                self.send_response(status)
                for k, v in {"Content-Length": str(len(data)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass
        return H


@pytest.fixture()
def fake_api():
    api = FakeApi()
    api.thread.start()
    yield api
    api.server.shutdown()
    api.server.server_close()


@pytest.fixture(scope="session")
def library_path() -> str:
    path = _default_library()
    if not path:
        pytest.skip("shared/literature/arxiv_ml.jsonl.gz not found")
    return path


@pytest.fixture(scope="session")
def lit_cache() -> Path:
    # fixed path: the 100k-record index (~15 s to build) is reused across test sessions
    p = Path(tempfile.gettempdir()) / "nanoresearch-test-literature-cache"
    p.mkdir(exist_ok=True)
    return p


@pytest.fixture(scope="session")
def local_library(library_path, lit_cache):
    from nanoresearch.literature.local import LocalLibrary
    lib = LocalLibrary(library_path, lit_cache)
    yield lib
    lib.close()
