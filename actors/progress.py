"""Progress inside long steps, as typed events, in the orchestrator's process.

Agents run in their own processes (Ray actors) and cannot call the orchestrator's
`on_event`. Two files of the workspace carry what they do instead:
- `ledger.jsonl`: the shared Ledger appends each model call; it becomes an `LlmCall`
  event (agent, tokens, seconds, tokens/s);
- `progress.jsonl`: typed events written through nanoresearch/progress.py's channel
  (literature sources, experiment runs and their output tail, LaTeX passes, SDPO steps).
`LedgerTail` follows both in a thread and emits each as `on_event(kind, fields)`, so the
CLI and the web page (through `events.jsonl`) see a long step make progress.
"""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Callable, Iterable

from nanoresearch.progress import PROGRESS_FILE, event_fields, parse_event
from nanoresearch.types import LlmCall

log = logging.getLogger(__name__)


def llm_event(entry: dict) -> LlmCall:
    secs = float(entry.get("latency_s") or 0.0)
    out_tokens = int(entry.get("completion_tokens") or 0)
    return LlmCall(agent=entry.get("agent", ""), model=f"{entry.get('provider', '')}:{entry.get('model', '')}",
                   prompt_tokens=int(entry.get("prompt_tokens") or 0), completion_tokens=out_tokens,
                   duration_s=round(secs, 3),
                   tokens_per_s=round(out_tokens / secs, 1) if secs > 0 else None)


def _ledger_events(line: str) -> Iterable:
    yield llm_event(json.loads(line))


def _progress_events(line: str) -> Iterable:
    raw = json.loads(line)
    event = parse_event(raw.get("kind", ""), raw)
    if event is not None:
        yield event


class _Follow:
    """The lines appended to one file since it was opened (a line still being written waits)."""

    def __init__(self, path: Path, parse: Callable[[str], Iterable]):
        self.path, self.parse = path, parse
        self.pos = path.stat().st_size if path.exists() else 0

    def drain(self) -> list:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self.pos)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.pos += len(complete)
        out = []
        for line in complete.decode("utf-8", "replace").splitlines():
            try:
                out.extend(self.parse(line))
            except ValueError:
                log.debug("skipping a malformed line of %s", self.path.name)
        return out


class LedgerTail:
    """Emits the typed events of the model calls (`ledger.jsonl`) and of the progress
    channel (`progress.jsonl`, beside it) written after `start()`."""

    def __init__(self, path: Path, emit: Callable[[str, dict], None] | None, poll_s: float = 0.5):
        path = Path(path)
        self.emit, self.poll_s = emit or (lambda kind, data: None), poll_s
        self.files = [_Follow(path, _ledger_events), _Follow(path.parent / PROGRESS_FILE, _progress_events)]
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the tail thread and `ordered` callers drain alike
        self._thread = threading.Thread(target=self._run, name="progress-tail", daemon=True)

    def start(self) -> "LedgerTail":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._drain()  # the last events before the end

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._drain()

    def ordered(self, emit: Callable[[str, dict], None] | None) -> Callable[[str, dict], None]:
        """`emit` for the orchestrator's own events: what the files hold already is handed on
        first, so a step's progress comes before its `step_finished`."""
        def in_order(kind: str, data: dict) -> None:
            self._drain()
            (emit or self.emit)(kind, data)
        return in_order

    def _drain(self) -> None:
        with self._lock:
            for f in self.files:
                for event in f.drain():
                    try:
                        self.emit(*event_fields(event))
                    except Exception:  # noqa: BLE001 - a failing listener must not stop the tail
                        log.exception("progress listener failed on %s", event.kind)
