"""The real ProjectService's cancel and project list (issue 15: H4 cancel, L1). Before:
cancel rewrote project.json, which the running orchestrator then overwrote; one corrupt
project.json made every user's list fail."""
from __future__ import annotations

from nanoresearch.types import ProjectState, ProjectStatus, ResearchTopic
from nanoresearch.workspace import Workspace
from nanoresearch_app.service import SystemProjectService


def _project(settings, pid: str, status=ProjectStatus.RUNNING) -> Workspace:
    ws = Workspace(settings.projects_dir / pid)
    ws.write_json("project.json", ProjectState(project_id=pid, user_id="alice", status=status,
                                               topic=ResearchTopic(problem_statement="q?")))
    return ws


def test_cancel_of_a_running_project_is_a_request(settings):
    svc = SystemProjectService(settings, store=object(), use_ray=False)
    ws = _project(settings, "p-run")
    with ws.run_lock():  # its orchestrator is running (this or another process)
        svc.cancel("p-run")
        assert ws.cancel_requested()  # the orchestrator stops before its next step
        assert ws.read_model("project.json", ProjectState).status == ProjectStatus.RUNNING
    idle = _project(settings, "p-idle", ProjectStatus.FAILED)
    svc.cancel("p-idle")  # nobody runs it: cancelled at once
    assert idle.read_model("project.json", ProjectState).status == ProjectStatus.CANCELLED


def test_one_corrupt_project_does_not_break_the_list(settings):
    svc = SystemProjectService(settings, store=object(), use_ray=False)
    _project(settings, "p-ok")
    (settings.projects_dir / "p-bad").mkdir()
    (settings.projects_dir / "p-bad" / "project.json").write_text('{"project_id": "p-bad", ')
    assert [p.project_id for p in svc.list_projects("alice")] == ["p-ok"]  # typed summaries


def test_a_failed_planner_update_is_recorded_in_the_project(tmp_path):
    """A failed SDPO round does not fail the finished project, but it is not only a log
    line: the project's planner_updates.json says what failed."""
    import json

    from nanoresearch_app.compose import _wait_rounds

    class _Failed:
        def wait(self):
            raise RuntimeError("trainer crashed")

    class _Ok:
        def wait(self):
            return type("Rec", (), {"version": 3, "user_id": "alice", "metrics": {"steps": 1.0}})()

    ws = Workspace(tmp_path / "p-1")
    _wait_rounds([_Ok(), _Failed()], ws)
    rows = json.loads(ws.path("planner_updates.json").read_text())
    first = {k: rows[0][k] for k in ("kind", "status", "user_id", "version", "trained_by", "error")}
    assert first == {"kind": "planner_update", "status": "published", "user_id": "alice",
                     "version": 3, "trained_by": "in_process", "error": None}
    assert rows[1]["status"] == "failed" and "trainer crashed" in rows[1]["error"]
