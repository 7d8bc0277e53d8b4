"""Every planner call, logged as a PlannerCall so later feedback can train on it.

One JSONL file per user under `<data_dir>/planner_log/<user_id>/calls.jsonl`; the
format and reader live in training/history.py (the training job and the orchestrator
read the same files). A call that cannot be logged (full disk, permissions) raises
`PlannerLogError`: the plan is training data for this user's SDPO run, and answering
without recording it would silently lose what the user's feedback is meant to train on.
The failure is also counted (`failures`, `last_error`) for the operator.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from nanoresearch.errors import RunFailure
from nanoresearch.types import ChatMessage, Feedback, PlannerCall, new_id
from training.history import PlannerHistory

log = logging.getLogger(__name__)


class PlannerLogError(RunFailure):
    """A planner call or feedback could not be written to the user's training log."""


class PlannerLog:
    def __init__(self, data_dir: str | Path):
        self.history = PlannerHistory(data_dir)
        self.failures = 0
        self.last_error: str | None = None

    def log_call(self, *, user_id: str, messages: Sequence[dict | ChatMessage], output: str,
                 adapter_version: str | None, project_id: str = "", stage: str = "",
                 call_id: str | None = None) -> PlannerCall:
        call = PlannerCall(
            call_id=call_id or new_id("pc-"), user_id=user_id, project_id=project_id, stage=stage,
            messages=[m if isinstance(m, ChatMessage) else ChatMessage(**m) for m in messages],
            output=output, adapter_version=adapter_version)
        self._write(self.history.append_call, call, user_id, "planner call")
        return call

    def log_feedback(self, feedback: Feedback) -> None:
        self._write(self.history.append_feedback, feedback, feedback.user_id, "feedback")

    def _write(self, append, rec, user_id: str, what: str) -> None:
        try:
            append(rec)
        except OSError as e:
            self.failures += 1
            self.last_error = f"{type(e).__name__}: {e}"
            log.error("could not log %s for user %s: %s", what, user_id, e)
            raise PlannerLogError(f"could not record the {what} in {self.history.root} for "
                                  f"SDPO ({e}); free disk space or fix permissions, then retry") from e

    def calls(self, user_id: str) -> list[PlannerCall]:
        return self.history.calls(user_id)
