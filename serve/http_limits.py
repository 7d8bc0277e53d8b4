"""Request limits and security headers for both HTTP apps (API and planner), as one
pure ASGI middleware.

Before a route runs, the body is read (up to `max_body_bytes`, else 413 without reading
the rest) and a JSON body is checked once: nesting deeper than `max_depth` and strings
holding lone surrogates ("\\ud800", valid JSON but not encodable as UTF-8) are refused
with 400. Without this a deeply nested body raised RecursionError and a lone surrogate
failed later, when the topic was written to disk: both answered 500. Every response gets
headers that stop MIME sniffing, framing and referrer leaks (set only when the route has
not set them itself, so the web page may send its own CSP).
"""
from __future__ import annotations

import json
from typing import Any, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 2_000_000
MAX_JSON_DEPTH = 64
SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
}
# (status, code, detail) -> JSON-serialisable body in the app's own error shape
ErrorBodyFn = Callable[[int, str, str], dict]


def json_problem(data: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a parsed JSON value is refused (too deep, lone surrogate), or None."""
    stack = [(data, 1)]
    while stack:
        obj, depth = stack.pop()
        if depth > max_depth:
            return f"JSON nested deeper than {max_depth} levels"
        if isinstance(obj, dict):
            stack.extend((k, depth) for k in obj)
            stack.extend((v, depth + 1) for v in obj.values())
        elif isinstance(obj, list):
            stack.extend((v, depth + 1) for v in obj)
        elif isinstance(obj, str):
            try:
                obj.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds a lone UTF-16 surrogate (e.g. \\ud800): send valid Unicode"
    return None


def body_problem(body: bytes, content_type: str, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Check a body that is (or looks like) JSON; malformed JSON is left to the route."""
    if "json" not in content_type and body.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        data = json.loads(body)
    except RecursionError:
        return f"JSON nested deeper than {max_depth} levels"
    except ValueError:
        return None
    return json_problem(data, max_depth)


def _default_error(status: int, code: str, detail: str) -> dict:
    return {"error": code, "detail": detail, "errors": []}


class LimitsMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES,
                 max_depth: int = MAX_JSON_DEPTH, error_body: ErrorBodyFn = _default_error):
        self.app, self.max_body, self.max_depth = app, max_body_bytes, max_depth
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._reply(send, 413, "too_large", self._too_large())
            return
        body, more = b"", True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                return  # client went away
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > self.max_body:
                await self._reply(send, 413, "too_large", self._too_large())
                return
        problem = body_problem(body, headers.get("content-type", ""), self.max_depth) if body else None
        if problem:
            await self._reply(send, 400, "bad_request", problem)
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> str:
        return f"request body over {self.max_body} bytes"

    def _with_headers(self, send: Send) -> Send:
        async def wrapped(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                present = {k.lower() for k, _ in msg.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS.items() if k not in present]
                msg = {**msg, "headers": list(msg.get("headers", [])) + extra}
            await send(msg)
        return wrapped

    async def _reply(self, send: Send, status: int, code: str, detail: str) -> None:
        data = json.dumps(self.error_body(status, code, detail)).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as Starlette does
    return replay


def install_limits(app, max_body_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH,
                   error_body: ErrorBodyFn = _default_error) -> None:
    app.add_middleware(LimitsMiddleware, max_body_bytes=max_body_bytes, max_depth=max_depth,
                       error_body=error_body)
