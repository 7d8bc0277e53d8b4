"""Where a stage's free-form user feedback comes from.

The orchestrator asks a `FeedbackSource` after every phase. Sources: skip (no feedback),
interactive (the CLI asks on the terminal), queued (HTTP/web: feedback posted later is
picked up, the cycle does not wait unless told to), and simulated (benchmarks: a persona
answers; passed in from benchmarks/, which stands above this floor).
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, Protocol

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
    """Feedback posted over HTTP. `wait_s=0` returns whatever is already queued for the
    phase (the cycle goes on; later feedback still trains the planner when it arrives)."""

    def __init__(self, wait_s: float = 0.0):
        self.wait_s = wait_s
        self._q: dict[tuple[str, str], "queue.Queue[Feedback]"] = {}
        self._lock = threading.Lock()

    def _queue(self, project_id: str, phase: Phase) -> "queue.Queue[Feedback]":
        with self._lock:
            return self._q.setdefault((project_id, phase.value), queue.Queue())

    def submit(self, fb: Feedback) -> None:
        self._queue(fb.project_id, fb.phase).put(fb)

    def ask(self, user_id: str, project_id: str, phase: Phase, summary: str) -> Feedback | None:
        try:
            return self._queue(project_id, phase).get(timeout=self.wait_s) if self.wait_s > 0 \
                else self._queue(project_id, phase).get_nowait()
        except queue.Empty:
            return None


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
