"""The typed status contract (no shape repair) and the real task files."""
from __future__ import annotations

from pathlib import Path

import pytest

from types import SimpleNamespace

from nanoresearch.types import Phase, ProjectStatus, ProjectStatusReport, StepRecord, StepStatus
from serve.api_deps import ApiError
from serve.api_projects import parse_task_file
from serve.api_status import pick_pdf, typed_status

TASKS = Path(__file__).resolve().parents[2] / "benchmarks" / "tasks"


def test_typed_status_passes_the_services_model_through():
    rep = ProjectStatusReport(project_id="p", status=ProjectStatus.RUNNING, phase=Phase.EXPERIMENT,
                              manifests={Phase.IDEATION: [StepRecord(name="search", status=StepStatus.DONE)]},
                              phase_status={Phase.IDEATION: StepStatus.DONE})
    svc = SimpleNamespace(project_status=lambda pid: rep)
    assert typed_status(svc, "p") is rep


@pytest.mark.parametrize("got", [{"status": "running"}, None,
                                 ProjectStatusReport(project_id="other", status="running")])
def test_a_dict_or_a_foreign_status_is_a_clear_500(got):
    with pytest.raises(ApiError) as e:
        typed_status(SimpleNamespace(project_status=lambda pid: got), "p")
    assert e.value.status == 500 and "research service" in e.value.detail


def test_malformed_status_over_http(client, service, make_user):
    alice = make_user("alice")
    pid = client.post("/api/v1/projects", json={"problem_statement": "q"}, headers=alice).json()["project_id"]
    service.project_status = lambda _pid: {"status": "exploded"}
    r = client.get(f"/api/v1/projects/{pid}", headers=alice)
    assert r.status_code == 500 and r.json()["error"] == "run_failure"


def test_pick_pdf_prefers_the_paper():
    assert pick_pdf(["a.pdf", "writing/x.pdf", "writing/paper.pdf"]) == "writing/paper.pdf"
    assert pick_pdf(["experiment/fig.pdf", "writing/draft.pdf"]) == "writing/draft.pdf"
    assert pick_pdf(["experiment/figures/results_acc.pdf"]) is None  # a figure is not the paper
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

    with pytest.raises(TypeError, match="missing .*project_view.*list_adapters.*knowledge"):
        create_app(Half(), TokenAuth(tmp_path / "t.json"))
