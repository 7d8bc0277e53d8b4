"""Progress from inside a long step, as typed events, across processes.

The agents run in their own processes (Ray actors) and cannot call the orchestrator's
`on_event`. What they do inside a step (a literature source answered, an experiment
run started, printed output, finished; a LaTeX pass; an SDPO step) is appended as one
typed event per line to the project's `progress.jsonl` (artifacts.PROGRESS) through a
`ProgressChannel`; `actors/progress.py` follows that file in the orchestrator's process
and hands each event to `on_event`, so the CLI and the web page see it like any other.

An emitter that holds a path inside the workspace (the experiment's work dir, the paper
dir) finds the channel with `channel_near(path)` (the directory holding project.json);
one that holds none is given a channel (or None: nothing is reported). Reporting never
fails the work it reports on.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from nanoresearch import artifacts as A
from nanoresearch.types import LEGACY_EVENT_KINDS, ProgressEvent

log = logging.getLogger(__name__)
PROGRESS_FILE = A.PROGRESS.path
PROJECT_FILE = A.PROJECT.path
_EVENT = TypeAdapter(ProgressEvent)
_LOCK = threading.Lock()


class ProgressChannel:
    """Appends typed events to one workspace's progress.jsonl (one write per line, opened
    with O_APPEND, so lines from several processes never interleave)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def report(self, event: BaseModel) -> None:
        line = (event.model_dump_json() + "\n").encode()
        try:
            with _LOCK:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
        except OSError as e:  # progress is a courtesy: the step goes on
            log.debug("progress event not written to %s: %s", self.path, e)

    def __reduce__(self):  # picklable into Ray actors and tasks
        return (ProgressChannel, (str(self.path),))


def workspace_root(path: Path | str, levels: int = 6) -> Path | None:
    """The project workspace (the directory holding project.json) at or above `path`."""
    p = Path(path).resolve()
    for d in [p, *p.parents][:levels]:
        if (d / PROJECT_FILE).is_file():
            return d
    return None


def channel_near(path: Path | str | None) -> ProgressChannel | None:
    """The progress channel of the workspace that holds `path`; None outside any project
    (a test's scratch dir, a benchmark's own dir)."""
    if path is None:
        return None
    root = workspace_root(path)
    return ProgressChannel(root / PROGRESS_FILE) if root else None


def report(channel: ProgressChannel | None, event: BaseModel) -> None:
    if channel is not None:
        channel.report(event)


def parse_event(kind: str, data: dict[str, Any]) -> BaseModel | None:
    """A typed progress event from an `on_event(kind, data)` callback (a typed event's
    fields, or one of the orchestrator's legacy names); None for kinds that have no model
    (`skills_seeded`, `ray_overhead`, ...)."""
    fields = {**data, "kind": LEGACY_EVENT_KINDS.get(kind, kind)}
    if "seconds" in fields and "duration_s" not in fields:
        fields["duration_s"] = fields.pop("seconds")
    if fields["kind"] == "feedback_waiting" and "wait_s" in fields and "deadline" not in fields:
        wait = float(fields.pop("wait_s") or 0)
        fields["deadline"] = (float(fields["at"]) if "at" in fields else _now()) + wait if wait else None
    try:
        return _EVENT.validate_python(fields)
    except ValidationError as e:
        log.debug("progress event %s has no typed form: %s", kind, e.errors()[:1])
        return None


def event_fields(event: BaseModel) -> tuple[str, dict[str, Any]]:
    """(kind, data) of a typed event, as `on_event` callbacks take it."""
    data = event.model_dump(mode="json")
    return data.pop("kind"), data


def _now() -> float:
    import time
    return time.time()
