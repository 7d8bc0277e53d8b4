"""A scripted research cycle for the cluster tests: the real Orchestrator (resumable
steps, workspace, feedback) over the in-memory team of tests/actors/fakes.py, with an
experiment that waits on a gate file so a test can kill a node while it runs."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from actors.orchestrator import Orchestrator, Team, new_project
from nanoresearch.config import Budgets
from nanoresearch.types import ProjectState
from tests.actors import fakes


class GatedExperiment(fakes.FakeExperiment):
    def __init__(self, gate: str):
        super().__init__()
        self.gate = Path(gate)

    def run(self, code, code_dir, on_event=None, skills=()):
        while not self.gate.exists():  # the test kills this node meanwhile
            time.sleep(0.1)
        return super().run(code, code_dir, on_event, skills)


def scripted_cycle(root: str, state_json: str, gate: str,
                   on_event: Callable[[str, dict], None], feedback: Any) -> str:
    state = ProjectState.model_validate_json(state_json)
    ws = new_project(Path(root), state)
    team = Team(ideation=fakes.FakeIdeation(), planning=fakes.FakePlanning(),
                experiment=GatedExperiment(gate), writing=fakes.FakeWriting(),
                store=fakes.FakeStore(), planner=fakes.FakePlanner(),
                reflector=fakes.FakeReflector(), feedback=feedback)
    return Orchestrator(team, ws, Budgets(), on_event).run().model_dump_json()


class Echo:
    """A cheap agent: answers with where it runs; `calls` is a data attribute."""

    def __init__(self, name: str):
        self.name = name
        self.calls = 0

    def where(self) -> str:
        import ray
        self.calls += 1
        return ray.get_runtime_context().get_node_id()
