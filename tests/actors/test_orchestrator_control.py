"""Cancel and the cross-process run lock (issue 15: H4 cancel, M3). Before: cancel only
rewrote project.json and the orchestrator overwrote it; two processes could drive the
same project at once; a dead server left projects "running" forever."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from actors.feedback import CallbackFeedback
from actors.orchestrator import Orchestrator
from nanoresearch.config import Budgets
from nanoresearch.types import Phase, ProjectState, ProjectStatus, StepStatus
from nanoresearch.workspace import RUN_LOCK, ProjectBusy, recover_stale
from tests.actors import fakes
from tests.actors.test_orchestrator import make_team, ws  # noqa: F401 - fixture


def test_cancel_stops_before_the_next_step_and_resume_continues(ws):  # noqa: F811
    def cancel_after_ideation(phase, summary):
        if phase == Phase.IDEATION:
            ws.request_cancel()  # what the API's cancel does while the project runs
        return None

    st = Orchestrator(make_team(feedback=CallbackFeedback(cancel_after_ideation)), ws, Budgets()).run()
    assert st.status == ProjectStatus.CANCELLED
    assert ws.read_model("project.json", ProjectState).status == ProjectStatus.CANCELLED
    assert ws.manifest(Phase.IDEATION).status == StepStatus.DONE
    assert fakes.CALLS.get("coding", 0) == 0  # the experiment never started
    final = Orchestrator(make_team(), ws, Budgets()).run()  # resume clears the request
    assert final.status == ProjectStatus.DONE and fakes.CALLS["ideation"] == 1


@pytest.fixture()
def other_process(ws):  # noqa: F811
    """Another process holding the project's run lock (an orchestrator elsewhere)."""
    code = ("import fcntl, sys, time; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(ws.root / RUN_LOCK)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    proc.kill()
    proc.wait()


def test_second_orchestrator_is_refused_and_stale_projects_recovered(ws, other_process):  # noqa: F811
    ws.update_state(status=ProjectStatus.RUNNING)
    with pytest.raises(ProjectBusy, match="already running"):
        Orchestrator(make_team(), ws, Budgets()).run()
    assert ws.is_running() and fakes.CALLS.get("ideation", 0) == 0
    assert recover_stale(ws.root.parent) == []  # a live run is left alone
    other_process.kill()
    other_process.wait()
    time.sleep(0.1)
    assert not ws.is_running()
    assert recover_stale(ws.root.parent) == [ws.project_id]  # its process died
    st = ws.read_model("project.json", ProjectState)
    assert st.status == ProjectStatus.FAILED and "resume" in st.error


class _CancelledMidRun(fakes.FakeExperiment):
    """Two debug attempts; the user cancels while the first one runs."""

    def __init__(self, ws):
        super().__init__()
        self.ws, self.attempts = ws, 0

    def run(self, code, code_dir, on_event=None, skills=()):
        for attempt in (1, 2):
            self.attempts = attempt
            self.ws.request_cancel()
            on_event("run", {"attempt": attempt, "status": "failed"})
        return super().run(code, code_dir, on_event, skills)


def test_cancel_stops_the_debug_loop_after_the_run_in_flight(ws):  # noqa: F811
    exp = _CancelledMidRun(ws)
    st = Orchestrator(make_team(experiment=exp), ws, Budgets()).run()
    assert st.status == ProjectStatus.CANCELLED and exp.attempts == 1
    assert not ws.step_done(Phase.EXPERIMENT, "run")  # resume reruns it
