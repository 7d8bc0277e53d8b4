"""Every planner call, logged as a PlannerCall so later feedback can train on it.

One JSONL file per user under `<data_dir>/planner_log/<user_id>/calls.jsonl`; the
format and reader live in training/history.py (the training job and the orchestrator
read the same files). A logging failure is reported, never raised into the request:
serving must not fail because a disk is full.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from nanoresearch.types import ChatMessage, Feedback, PlannerCall, new_id
from training.history import PlannerHistory

log = logging.getLogger(__name__)


class PlannerLog:
    def __init__(self, data_dir: str | Path):
        self.history = PlannerHistory(data_dir)

    def log_call(self, *, user_id: str, messages: Sequence[dict | ChatMessage], output: str,
                 adapter_version: str | None, project_id: str = "", stage: str = "",
                 call_id: str | None = None) -> PlannerCall | None:
        try:
            call = PlannerCall(
                call_id=call_id or new_id("pc-"), user_id=user_id, project_id=project_id, stage=stage,
                messages=[m if isinstance(m, ChatMessage) else ChatMessage(**m) for m in messages],
                output=output, adapter_version=adapter_version)
            self.history.append_call(call)
            return call
        except Exception as e:  # noqa: BLE001 - see module docstring
            log.error("could not log planner call for user %s: %s", user_id, e)
            return None

    def log_feedback(self, feedback: Feedback) -> None:
        self.history.append_feedback(feedback)

    def calls(self, user_id: str) -> list[PlannerCall]:
        return self.history.calls(user_id)
