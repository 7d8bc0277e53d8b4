"""Profiles (questionnaire as data, versioned files) and the project registry."""
from __future__ import annotations

import threading

import pytest

from nanoresearch.errors import UserError
from nanoresearch.types import ProjectStatus
from storage.profiles import QUESTIONS, ProfileStore, profile_from_answers
from storage.projects import NotProjectOwner, ProjectNotFound, ProjectRegistry


def test_questions_are_plain_data_with_defaults():
    fields = [q["field"] for q in QUESTIONS]
    assert len(fields) == len(set(fields)) and "research_field" in fields
    for q in QUESTIONS:
        assert set(q) >= {"field", "prompt", "type", "default"}
        if q["type"] == "choice":
            assert q["default"] in q["choices"]
    p = profile_from_answers("ana", {})
    assert p.paper_format == "conference" and p.resources.cpus == 2


def test_answers_are_typed_and_validated():
    p = profile_from_answers("ana", {"gpus": "2", "hours": "3.5", "paper_format": "Journal",
                                     "methodological_preferences": "ablations, simple baselines"})
    assert p.resources.gpus == 2 and p.resources.hours == 3.5 and p.paper_format == "journal"
    assert p.methodological_preferences == ["ablations", "simple baselines"]
    with pytest.raises(UserError, match="'gpus'"):
        profile_from_answers("ana", {"gpus": "two"})
    with pytest.raises(UserError, match="paper_format.*conference, journal"):
        profile_from_answers("ana", {"paper_format": "blog"})
    with pytest.raises(UserError, match="hours"):
        profile_from_answers("ana", {"hours": "-1"})
    with pytest.raises(UserError, match="unknown profile question"):
        profile_from_answers("ana", {"gpu": 1})
    with pytest.raises(UserError, match="user id"):
        profile_from_answers("../etc", {})


def test_profiles_are_versioned(tmp_path):
    store = ProfileStore(tmp_path)
    assert store.get("ana") is None
    v1 = store.save(profile_from_answers("ana", {"target_venue": "ICML"}))
    v2 = store.save(v1.model_copy(update={"target_venue": "NeurIPS"}))
    assert (v1.version, v2.version) == (1, 2)
    assert store.get("ana").target_venue == "NeurIPS"
    assert store.get("ana", version=1).target_venue == "ICML"
    assert store.versions("ana") == [1, 2] and store.users() == ["ana"]
    with pytest.raises(UserError, match="no profile version 7"):
        store.get("ana", version=7)


def test_concurrent_saves_get_distinct_versions(tmp_path):
    store = ProfileStore(tmp_path)
    p = profile_from_answers("ana", {})
    threads = [threading.Thread(target=store.save, args=(p,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.versions("ana") == list(range(1, 9))


def test_project_registry_ownership_and_listing(tmp_path):
    reg = ProjectRegistry(tmp_path)
    a = reg.create("ana", "GNN robustness")
    reg.create("ana", "Tabular imputation", project_id="p-tab")
    reg.create("bob", "Speech", project_id="p-bob")
    assert {r.project_id for r in reg.list("ana")} == {"p-tab", a.project_id}
    assert {r.user_id for r in reg.list()} == {"ana", "bob"}
    assert reg.check_owner("p-bob", "bob").title == "Speech"
    with pytest.raises(NotProjectOwner):
        reg.check_owner("p-bob", "ana")
    with pytest.raises(ProjectNotFound):
        reg.get("p-none")
    with pytest.raises(UserError, match="already exists"):
        reg.create("ana", "again", project_id="p-tab")
    with pytest.raises(UserError, match="project id"):
        reg.get("../x")
    assert reg.set_status("p-tab", "running").status == ProjectStatus.RUNNING
    assert ProjectRegistry(tmp_path).get("p-tab").status == ProjectStatus.RUNNING  # durable
    assert not list((tmp_path / "projects" / "p-tab").glob(".*tmp"))


def test_project_registry_reads_project_json_and_allows_a_project_named_index(tmp_path):
    """One store of truth: the registry lists what the orchestrator writes (project.json),
    and `index` is an ordinary project id (the old registry folder collided with it)."""
    from nanoresearch.types import ProjectState, ResearchTopic
    from nanoresearch.workspace import Workspace
    ws = Workspace(tmp_path / "projects" / "index")
    ws.write_json("project.json", ProjectState(project_id="index", user_id="ana",
                                               topic=ResearchTopic(problem_statement="Q?")))
    reg = ProjectRegistry(tmp_path)
    assert [r.project_id for r in reg.list("ana")] == ["index"]
    reg.set_status("index", "cancelled")  # cancel writes the file the orchestrator reads
    assert ws.read_model("project.json", ProjectState).status == ProjectStatus.CANCELLED
    (tmp_path / "projects" / "broken").mkdir()
    (tmp_path / "projects" / "broken" / "project.json").write_text("{not json")
    assert [r.project_id for r in reg.list()] == ["index"]  # one corrupt file hides nothing
