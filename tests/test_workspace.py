"""Workspace durability and shared state (issue 15: M3, L1, L5)."""
from __future__ import annotations

import threading

from nanoresearch import workspace as wsmod
from nanoresearch.types import Phase, ProjectState, ProjectStatus, ResearchTopic, StepStatus
from nanoresearch.workspace import Workspace, atomic_write_text, read_project_states


def _state(pid: str, user: str = "alice") -> ProjectState:
    return ProjectState(project_id=pid, user_id=user, topic=ResearchTopic(problem_statement="q?"))


def test_atomic_write_fsyncs_the_directory(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(wsmod, "fsync_dir", lambda p: synced.append(p))
    atomic_write_text(tmp_path / "a" / "f.json", "{}")
    assert synced == [tmp_path / "a"] and (tmp_path / "a" / "f.json").read_text() == "{}"


def test_corrupt_project_file_is_skipped(tmp_path):
    for pid in ("p-1", "p-2"):
        Workspace(tmp_path / pid).write_json("project.json", _state(pid))
    (tmp_path / "p-3").mkdir()
    (tmp_path / "p-3" / "project.json").write_bytes(b"\xff{ torn")
    assert sorted(s.project_id for s in read_project_states(tmp_path)) == ["p-1", "p-2"]


def test_project_listing_filters_by_user_newest_first(tmp_path):
    for i, (pid, user) in enumerate([("p-a", "alice"), ("p-b", "bob"), ("p-c", "alice")]):
        Workspace(tmp_path / pid).write_json("project.json", _state(pid, user).model_copy(
            update={"created_at": 100.0 + i}))
    assert [s.project_id for s in read_project_states(tmp_path, "alice")] == ["p-c", "p-a"]
    assert [s.project_id for s in read_project_states(tmp_path)] == ["p-c", "p-b", "p-a"]


def test_concurrent_state_updates_lose_nothing(tmp_path):
    """Two writers (orchestrator phase changes, an API cancel) each change one field of
    project.json; with read-modify-write under the lock neither change is lost."""
    ws = Workspace(tmp_path / "p-1")
    ws.write_json("project.json", _state("p-1"))
    other = Workspace(tmp_path / "p-1")  # a second handle, as another thread/process has

    def phases():
        for _ in range(30):
            ws.update_state(phase=Phase.EXPERIMENT)

    def errors():
        for i in range(30):
            other.update_state(error=f"e{i}")

    threads = [threading.Thread(target=phases), threading.Thread(target=errors)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    st = ws.read_model("project.json", ProjectState)
    assert st.phase == Phase.EXPERIMENT and st.error == "e29"


def test_manifest_marks_from_two_handles_are_all_kept(tmp_path):
    a, b = Workspace(tmp_path / "p"), Workspace(tmp_path / "p")
    threads = [threading.Thread(target=lambda w=w, n=n: [w.mark_step(Phase.IDEATION, f"{n}{i}", StepStatus.DONE)
                                                         for i in range(20)])
               for w, n in ((a, "a"), (b, "b"))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(a.manifest(Phase.IDEATION).steps) == 40


def test_cancel_request_roundtrip(tmp_path):
    ws = Workspace(tmp_path / "p")
    assert not ws.cancel_requested()
    ws.request_cancel()
    assert ws.cancel_requested() and not ws.is_running()
    ws.clear_cancel()
    assert not ws.cancel_requested()
    ws.write_json("project.json", _state("p").model_copy(update={"status": ProjectStatus.RUNNING}))
    assert ws.read_model("project.json", ProjectState).status == ProjectStatus.RUNNING
