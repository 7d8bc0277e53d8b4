"""What the HTTP service shows of a project while it runs, and of what a user taught it.

`EventLog` turns the orchestrator's `on_event(kind, data)` callbacks into the typed
progress events of nanoresearch/types.py and appends them to the workspace's
events.jsonl (one JSON line each), so any replica can read the progress of a project
another replica runs. The tokens/s of the latest generation come from the cost ledger.
`knowledge_view` groups a user's memories into the requirements they stated and what
the system learned, beside the skills they can use.
"""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from nanoresearch.progress import parse_event
from nanoresearch.types import KnowledgeView, LedgerEntry, ProjectFinished, ProjectStatus, TokenRate

log = logging.getLogger(__name__)
TAIL_BYTES = 256_000  # the newest events are at the end; older ones stay in the file
TAIL_EVENTS = 40
# events that come by the dozen inside one step: only the newest few reach the page, so a
# long run's output or a chatty model never pushes the step and phase events out
CHATTY = {"llm_call": 4, "run_output": 1, "literature_searched": 6, "latex_pass": 4,
          "training_step": 2}


class EventLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, event: BaseModel) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(event.model_dump_json() + "\n")

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        """The orchestrator's callback: a legacy (kind, dict) or a typed event's fields."""
        event = to_event(kind, data)
        if event is not None:
            self.append(event)

    def finished(self, status: ProjectStatus, error: str | None = None) -> None:
        self.append(ProjectFinished(status=status, error=error))

    def tail(self, n: int = TAIL_EVENTS) -> list:
        if not self.path.is_file():
            return []
        with self.path.open("rb") as f:
            f.seek(max(0, self.path.stat().st_size - TAIL_BYTES))
            lines = f.read().decode("utf-8", "replace").splitlines()
        out: list = []
        chatty: dict[str, int] = {}
        for line in reversed(lines):  # newest first, to keep the newest of the chatty kinds
            try:
                raw = json.loads(line)
            except ValueError:
                continue  # the first line of the window may be cut
            # a typed event, or the orchestrator actor's envelope {kind, time, data}
            event = to_event(raw.get("kind", ""), {**raw.get("data", {}), "at": raw["time"]}) \
                if isinstance(raw.get("data"), dict) and "time" in raw else to_event(raw.get("kind", ""), raw)
            if event is None:
                continue
            if event.kind in CHATTY:  # run output: the newest of each stream
                key = f"{event.kind}:{getattr(event, 'stream', '')}"
                chatty[key] = chatty.get(key, 0) + 1
                if chatty[key] > CHATTY[event.kind]:
                    continue
            out.append(event)
            if len(out) >= n:
                break
        return out[::-1]


def to_event(kind: str, data: dict[str, Any]) -> BaseModel | None:
    """A typed progress event from a callback's (kind, data); None for kinds the page
    does not show (they stay in the file)."""
    return parse_event(kind, data)


def latest_token_rate(ledger: Path) -> TokenRate | None:
    """Tokens/s of the newest model call that produced tokens, from ledger.jsonl."""
    if not Path(ledger).is_file():
        return None
    with Path(ledger).open("rb") as f:
        f.seek(max(0, Path(ledger).stat().st_size - 16_000))
        lines = f.read().decode("utf-8", "replace").splitlines()
    for line in reversed(lines):
        try:
            e = LedgerEntry.model_validate_json(line)
        except (ValidationError, ValueError):
            continue
        if e.completion_tokens and e.latency_s > 0:
            return TokenRate(at=e.created_at, agent=e.agent, model=e.model,
                             completion_tokens=e.completion_tokens,
                             tokens_per_s=round(e.completion_tokens / e.latency_s, 1))
    return None


REQUIREMENT_KINDS = ("requirement", "preference", "resource_limit")


def knowledge_view(store: Any, user_id: str, limit: int = 200) -> KnowledgeView:
    mems = sorted(store.list_memories(user_id), key=lambda m: -m.updated_at)
    skills = sorted(store.list_skills(user_id), key=lambda s: (-s.usage_count, -s.updated_at))
    return KnowledgeView(
        requirements=[m for m in mems if m.category in REQUIREMENT_KINDS][:limit],
        memories=[m for m in mems if m.category not in REQUIREMENT_KINDS][:limit],
        skills=[s for s in skills if s.scope == user_id][:limit],
        shared_skills=[s for s in skills if s.scope != user_id][:limit])
