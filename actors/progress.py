"""Progress inside long steps, as events: every LLM call of the project as it finishes.

Agents run in their own processes (Ray actors) and cannot call the orchestrator's
`on_event`, but each of their model calls is appended to the project's `ledger.jsonl`
by the shared Ledger. `LedgerTail` follows that file in a thread of the orchestrator's
process and emits one `llm_call` event per entry (agent, tokens, seconds, tokens/s), so
the CLI and the web page (through `events.jsonl`) see a long step make progress.
"""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)


def llm_event(entry: dict) -> dict:
    secs = float(entry.get("latency_s") or 0.0)
    out_tokens = int(entry.get("completion_tokens") or 0)
    return {"agent": entry.get("agent", ""), "model": f"{entry.get('provider', '')}:{entry.get('model', '')}",
            "prompt_tokens": int(entry.get("prompt_tokens") or 0), "completion_tokens": out_tokens,
            "seconds": round(secs, 3), "tokens_per_s": round(out_tokens / secs, 1) if secs > 0 else None}


class LedgerTail:
    """Emits `llm_call` for each ledger line written after `start()`."""

    def __init__(self, path: Path, emit: Callable[[str, dict], None], poll_s: float = 0.5):
        self.path, self.emit, self.poll_s = Path(path), emit, poll_s
        self._stop = threading.Event()
        self._pos = self.path.stat().st_size if self.path.exists() else 0
        self._thread = threading.Thread(target=self._run, name="ledger-tail", daemon=True)

    def start(self) -> "LedgerTail":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._drain()  # the last calls before the end

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._drain()

    def _drain(self) -> None:
        if not self.path.exists():
            return
        with self.path.open() as f:
            f.seek(self._pos)
            chunk = f.read()
        complete = chunk[: chunk.rfind("\n") + 1]  # a line still being written waits
        self._pos += len(complete.encode())
        for line in complete.splitlines():
            try:
                self.emit("llm_call", llm_event(json.loads(line)))
            except ValueError:
                log.debug("skipping a malformed ledger line")
