"""A competent stand-in model behind a real OpenAI-compatible HTTP server (127.0.0.1).

The real-service tests run a whole project with it: every agent's model is
`openai:competent` pointed at this server, in-process and from Ray actors alike. Each
request is routed by what its prompt asks for (`route`), and answered the way a capable
model would: a real hypothesis, a blueprint for the task, prose paragraphs for each
section, real reviews. Requests and the route that answered them are recorded, so a
test can tell which parts of the project the model wrote.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

Answer = Callable[[list[dict], dict | None], str]


@dataclass
class Call:
    route: str
    messages: list[dict]
    schema: dict | None
    answer: str


@dataclass
class CompetentServer:
    answers: list[tuple[str, Callable[[str], bool], Answer]]
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server naming
                n = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                msgs = body.get("messages", [])
                fmt = body.get("response_format") or {}
                schema = (fmt.get("json_schema") or {}).get("schema")
                route, text = server.respond(msgs, schema)
                out = json.dumps({
                    "id": "chatcmpl-competent", "object": "chat.completion", "created": 1,
                    "model": body.get("model", "competent"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": sum(len(str(m.get("content", "")).split()) for m in msgs),
                              "completion_tokens": max(1, len(text.split())),
                              "total_tokens": 0}}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def respond(self, msgs: list[dict], schema: dict | None) -> tuple[str, str]:
        text = "\n".join(str(m.get("content", "")) for m in msgs)
        for name, match, answer in self.answers:
            if match(text):
                out = answer(msgs, schema)
                break
        else:
            name, out = "unrouted", "{}"
        with self._lock:
            self.calls.append(Call(name, msgs, schema, out))
        return name, out

    def routes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.calls:
            out[c.route] = out.get(c.route, 0) + 1
        return out

    def close(self) -> None:
        self.httpd.shutdown()


def recorder() -> CompetentServer:
    return CompetentServer(answers=[])


def competent() -> CompetentServer:
    """The server answering every agent of a tabular project like a capable model."""
    from tests.serve import competent_answers as C
    return CompetentServer(answers=C.ROUTES)


def dump(server: CompetentServer, path: str) -> None:
    with open(path, "w") as f:
        for c in server.calls:
            f.write(json.dumps({"route": c.route, "messages": c.messages, "schema": c.schema}) + "\n")

