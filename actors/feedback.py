"""Where a stage's free-form user feedback comes from.

The orchestrator asks a `FeedbackSource` after every phase. Sources: skip (no feedback),
interactive (the CLI asks on the terminal), queued (HTTP/web/`nanoresearch feedback`: the
stage gate waits up to `feedback_wait_s` for it), and simulated (benchmarks: a persona
answers; passed in from benchmarks/, which stands above this floor).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Protocol

from nanoresearch import artifacts as A
from nanoresearch.types import Feedback, Phase

log = logging.getLogger(__name__)


class FeedbackSource(Protocol):
    def ask(self, user_id: str, project_id: str, phase: Phase, summary: str) -> Feedback | None:
        """Return the user's feedback on the finished phase, or None for no feedback."""


class SkipFeedback:
    def ask(self, user_id: str, project_id: str, phase: Phase, summary: str) -> Feedback | None:
        return None


class InteractiveFeedback:
    """Asks on the terminal; an empty answer means no feedback."""

    def __init__(self, ask_fn: Callable[[str], str] = input):
        self.ask_fn = ask_fn

    def ask(self, user_id: str, project_id: str, phase: Phase, summary: str) -> Feedback | None:
        text = self.ask_fn(f"\n{summary}\nYour feedback on the {phase.value} stage "
                           "(Enter to skip): ").strip()
        if not text:
            return None
        return Feedback(user_id=user_id, project_id=project_id, phase=phase, text=text, source="cli")


class QueuedFeedback:
    """Feedback posted over HTTP (or with `nanoresearch feedback`). The stage gate waits up
    to `wait_s` for it (the orchestrator shows the deadline in project.json as status
    waiting_feedback); `wait_s=0` takes only what is already there. Two ways in: `submit`
    (the HTTP service in this process) and, with `inbox` (the projects directory), the
    `<project>/<phase>/feedback_*.json` files the service and the CLI write, so a run in
    another process sees them too. Several posts for one stage are joined in order."""

    def __init__(self, wait_s: float = 0.0, inbox: str | Path | None = None, poll_s: float = 1.0):
        if wait_s < 0:
            raise ValueError(f"wait_s={wait_s}: give a wait of 0 s or more")
        self.wait_s = wait_s
        self.inbox = Path(inbox) if inbox is not None else None
        self.poll_s = poll_s
        self._q: dict[tuple[str, str], "queue.Queue[Feedback]"] = {}
        self._lock = threading.Lock()

    def __reduce__(self):
        """Sent to a project's orchestrator actor as its policy (wait, inbox): the copy
        starts with an empty queue; posts reach it by `submit` there or through the inbox."""
        return (QueuedFeedback, (self.wait_s, self.inbox, self.poll_s))

    def _queue(self, project_id: str, phase: Phase) -> "queue.Queue[Feedback]":
        with self._lock:
            return self._q.setdefault((project_id, phase.value), queue.Queue())

    def submit(self, fb: Feedback) -> None:
        self._queue(fb.project_id, fb.phase).put(fb)

    def _inbox(self, user_id: str, project_id: str, phase: Phase) -> list[Feedback]:
        if self.inbox is None:
            return []
        out = []
        for f in sorted((self.inbox / project_id / phase.value).glob(A.FEEDBACK.name_glob)):
            try:
                fb = Feedback.model_validate_json(f.read_text())
            except (OSError, ValueError) as e:
                log.warning("unreadable feedback file %s skipped: %s", f, e)
                continue
            if fb.user_id == user_id and fb.phase == phase:
                out.append(fb)
        return sorted(out, key=lambda fb: fb.created_at)

    def _take(self, user_id: str, project_id: str, phase: Phase) -> list[Feedback]:
        q, got = self._queue(project_id, phase), []
        while True:
            try:
                got.append(q.get_nowait())
            except queue.Empty:
                break
        seen = {fb.feedback_id for fb in got}
        return got + [fb for fb in self._inbox(user_id, project_id, phase) if fb.feedback_id not in seen]

    def ask(self, user_id: str, project_id: str, phase: Phase, summary: str) -> Feedback | None:
        deadline = time.monotonic() + self.wait_s
        while True:
            got = self._take(user_id, project_id, phase)
            if got:
                return got[0] if len(got) == 1 else got[-1].model_copy(
                    update={"text": "\n".join(fb.text for fb in got)})
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:  # wake at once on submit, else poll the inbox
                fb = self._queue(project_id, phase).get(timeout=min(self.poll_s, left))
                self._queue(project_id, phase).put(fb)
            except queue.Empty:
                pass


class CallbackFeedback:
    """Any function (e.g. a simulated researcher) that returns the feedback text."""

    def __init__(self, fn: Callable[[Phase, str], str | None], source: str = "simulated"):
        self.fn = fn
        self.source = source

    def ask(self, user_id: str, project_id: str, phase: Phase, summary: str) -> Feedback | None:
        text = self.fn(phase, summary)
        if not text:
            return None
        return Feedback(user_id=user_id, project_id=project_id, phase=phase, text=text,
                        source=self.source)  # type: ignore[arg-type]
