"""Status normalisation (the shapes a service may return) and the real task files."""
from __future__ import annotations

from pathlib import Path

import pytest

from nanoresearch.types import Phase, ProjectStatus, StageManifest, StepRecord, StepStatus
from serve.api_deps import ApiError
from serve.api_projects import parse_task_file
from serve.api_status import normalize_status, pick_pdf

TASKS = Path(__file__).resolve().parents[2] / "benchmarks" / "tasks"


def test_manifest_objects_dicts_and_step_lists_all_normalise():
    m = StageManifest(project_id="p", phase=Phase.IDEATION, status=StepStatus.DONE,
                      steps=[StepRecord(name="search", status=StepStatus.DONE)])
    raw = {"status": ProjectStatus.RUNNING, "phase": Phase.EXPERIMENT,
           "manifests": {Phase.IDEATION: m,
                         "experiment": {"steps": [{"name": "code", "status": "running"}], "status": "running"},
                         "writing": [StepRecord(name="draft")]},
           "waiting_feedback_for": None}
    out = normalize_status("p", raw, has_pdf=False)
    assert out.manifests[Phase.IDEATION][0].name == "search"
    assert out.manifests[Phase.EXPERIMENT][0].status == StepStatus.RUNNING
    assert out.manifests[Phase.WRITING][0].status == StepStatus.PENDING
    assert out.phase_status == {Phase.IDEATION: StepStatus.DONE, Phase.EXPERIMENT: StepStatus.RUNNING}
    assert out.status == ProjectStatus.RUNNING and out.phase == Phase.EXPERIMENT


def test_malformed_status_is_a_clear_500():
    with pytest.raises(ApiError) as e:
        normalize_status("p", {"status": "exploded"}, has_pdf=False)
    assert e.value.status == 500 and "malformed status" in e.value.detail


def test_malformed_status_over_http(client, service, make_user):
    alice = make_user("alice")
    pid = client.post("/api/v1/projects", json={"problem_statement": "q"}, headers=alice).json()["project_id"]
    service.project_status = lambda _pid: {"status": "exploded"}
    r = client.get(f"/api/v1/projects/{pid}", headers=alice)
    assert r.status_code == 500 and r.json()["error"] == "run_failure"


def test_pick_pdf_prefers_the_paper():
    assert pick_pdf(["a.pdf", "writing/x.pdf", "writing/paper.pdf"]) == "writing/paper.pdf"
    assert pick_pdf(["experiment/fig.pdf", "writing/draft.pdf"]) == "writing/draft.pdf"
    assert pick_pdf(["experiment/fig.pdf"]) == "experiment/fig.pdf"
    assert pick_pdf(["writing/paper.tex"]) is None


@pytest.mark.skipif(not TASKS.exists(), reason="benchmarks/tasks not present")
def test_every_benchmark_task_file_uploads():
    files = sorted(TASKS.glob("*.json"))
    assert files, "no task files"
    for f in files:
        topic = parse_task_file(f.read_bytes())
        assert topic.question_id == f.stem and topic.problem_statement


def test_incomplete_service_is_refused_at_build_time(tmp_path):
    from serve.api import create_app
    from serve.auth import TokenAuth

    class Half:
        def create_user(self, user_id, name=""):
            return "x" * 20

    with pytest.raises(TypeError, match="missing .*list_adapters"):
        create_app(Half(), TokenAuth(tmp_path / "t.json"))
