"""Cancel kills the experiment in flight (issue 16). Before: without Ray nothing killed the
sandboxed run, so a cancel took effect only after it ended (up to execution.timeout_s).
Now the watch loop polls the project's cancel marker and kills the run's process tree."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from actors.debugging import debug_loop
from actors.orchestrator import Orchestrator
from nanoresearch.config import Budgets
from nanoresearch.execution import Limits, LocalExecutor, SandboxExecutor
from nanoresearch.execution.sandbox import sandbox_problem
from nanoresearch.types import CodeArtifact, Phase, ProjectStatus, RunStatus
from nanoresearch.workspace import CANCEL_FILE
from tests.actors import fakes
from tests.actors.test_orchestrator import make_team, ws  # noqa: F401 - fixture

needs_bwrap = pytest.mark.skipif(sandbox_problem() is not None, reason=str(sandbox_problem()))
# a run that would outlive the test by far: only a kill ends it early
SLOW = ("import time, pathlib\npathlib.Path('started').write_text('1')\ntime.sleep(300)\n"
        "pathlib.Path('finished').write_text('1')\n")
LIMITS = Limits(timeout_s=600, memory_mb=1024, disk_mb=50)


def cancel_when_started(work_dir: Path, marker: Path) -> threading.Thread:
    def go() -> None:
        while not (work_dir / "started").exists():
            threading.Event().wait(0.1)
        marker.touch()
    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def executors() -> list:
    return [pytest.param(lambda: SandboxExecutor(LIMITS), id="sandbox", marks=needs_bwrap),
            pytest.param(lambda: LocalExecutor(LIMITS), id="local")]


@pytest.mark.parametrize("make", executors())
def test_the_cancel_marker_kills_the_run_in_flight(tmp_path, make):
    work, marker = tmp_path / "work", tmp_path / CANCEL_FILE
    work.mkdir()
    (work / "run.py").write_text(SLOW)
    ex = make()
    ex.cancel_file = str(marker)
    cancel_when_started(work, marker)
    res = ex.run(work, "run.py")
    assert res.status == RunStatus.KILLED and "cancelled" in res.failure.message
    assert (work / "started").exists() and not (work / "finished").exists()


@pytest.mark.parametrize("make", executors())
def test_without_a_marker_the_run_is_not_killed(tmp_path, make):
    work = tmp_path / "work"
    work.mkdir()
    (work / "run.py").write_text("import json; json.dump([dict(method='m', dataset='d', "
                                 "metric='acc', value=1.0)], open('metrics.json', 'w'))\n")
    ex = make()
    ex.cancel_file = str(tmp_path / CANCEL_FILE)  # watched, never written
    assert ex.run(work, "run.py").status == RunStatus.SUCCEEDED


class _SlowExperiment(fakes.FakeExperiment):
    """A real debug loop on the sandbox: the first run sleeps; the debugger would try again."""

    def __init__(self, executor):
        super().__init__()
        self.executor, self.runs = executor, []

    def write_code(self, bp, plan, skills, code_dir: Path):
        return CodeArtifact(files={"run.py": SLOW})

    def run(self, code, code_dir, on_event=None, skills=()):
        cancel_when_started(Path(code_dir), self.marker)

        class Debugger:
            history: list = []

            def fix(self, code, result, skills):
                return CodeArtifact(files={"run.py": code.files["run.py"] + "\n# retry\n"})

        def on_run(kind: str, data: dict) -> None:
            self.runs.append((kind, data.get("status")))
            on_event(kind, data)
        return debug_loop(code, Path(code_dir), self.executor, Debugger(), 3, on_event=on_run)


@needs_bwrap
def test_a_cancelled_project_stops_inside_the_run_and_resume_reruns_it(ws):  # noqa: F811
    from nanoresearch_app.compose import assemble_team

    # the composition root hands the executor the project's marker
    agents = {"coding": None, "debugging": None, "analysis": None, "ideation": None,
              "planning": None, "writing": None, "review": None, "reflection": None}
    team = assemble_team(agents, fakes.FakeStore(), fakes.FakePlanner(),
                         _settings(ws.root.parent), _Ledger(), None, None,
                         cancel_file=ws.path(CANCEL_FILE))
    executor = team.experiment.executor
    assert executor.cancel_file == str(ws.path(CANCEL_FILE))
    exp = _SlowExperiment(executor)
    exp.marker = ws.path(CANCEL_FILE)
    st = Orchestrator(make_team(experiment=exp), ws, Budgets()).run()
    assert st.status == ProjectStatus.CANCELLED
    assert exp.runs[0] == ("run", "killed") and len([r for r in exp.runs if r[0] == "run"]) == 1
    assert not ws.step_done(Phase.EXPERIMENT, "run")  # resume reruns it


def _settings(root: Path):
    from nanoresearch.config import Settings
    return Settings(data_dir=str(root / "data"), execution={"backend": "sandbox"})


class _Ledger:
    def summary(self) -> dict:
        return {}
