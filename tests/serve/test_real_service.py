"""The HTTP API and the web page against the REAL service (nanoresearch_app/service.py).

One project runs end to end in-process (no Ray): scripted models ('{}' for every call,
so the agents' recorded rule fallbacks carry the cycle), the real sandbox running the
experiment, the real analysis figures, LaTeX and reviewer. Then every panel's route is
read over HTTP and checked against the workspace through nanoresearch/artifacts.py, and
headless Chromium checks that the finished project shows its hypothesis, results table,
a figure, the PDF and the reviews, with a screenshot of each stage saved under the
test's tmp dir (or NR_WEB_SCREENSHOT_DIR).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nanoresearch import artifacts as A
from nanoresearch.config import load_settings
from nanoresearch.types import MemoryEntry, SkillEntry, SkillStage
from tests.helpers import small_library
from tests.serve.browser import CHROMIUM, Browser, _check_png, serve_app
from tests.serve.real_checks import (
    check_competent_page, check_competent_research, check_paper_pages, check_progress_events,
    check_reviews_route, check_served_inert, check_status, check_view, wait_done,
)

ADMIN = "admin-token-for-real-service-tests-0123"
TOPIC = {"problem_statement": "Does feature standardisation change which classifier is best "
                              "for breast-cancer diagnosis?", "domain": "tabular",
         "datasets": ["breast_cancer"]}
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def real_settings(tmp: Path, models: dict, **more):
    return load_settings(overrides={
        "data_dir": str(tmp / "home"), "storage": {"embedder": "hash"},
        "literature": {"library_path": str(small_library(tmp))}, "models": models,
        # feedback from the page trains the planner: one short SDPO step keeps that quick
        "training": {"profile": "cpu", "steps": 1, "max_prompt_tokens": 256, "max_completion_tokens": 64},
        **more})


def competent_settings(tmp: Path, url: str, **more):
    """Every agent (and the planner) on the competent stand-in at `url`; seeded coding (the
    model picks the method family), so the experiment runs the scaffold it configured."""
    return real_settings(tmp, {"default": "openai:competent", "per_agent": {"planner": "openai:competent"}},
                         providers={"openai_base_url": url}, coding={"mode": "seeded"}, **more)


def _first_user(client, service):
    r = client.post("/api/v1/users", json={"user_id": "ana", "name": "Ana"},
                    headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="module")
def competent(tmp_path_factory):
    """(client, service, headers, project id, app, model server) of a project the competent
    stand-in model ran on the real service, in-process."""
    from fastapi.testclient import TestClient

    from nanoresearch_app.service import SystemProjectService
    from serve.api import create_app
    from serve.auth import ApiOptions
    from tests.serve.competent_model import competent as model_server

    tmp = tmp_path_factory.mktemp("competent")
    model = model_server()
    service = SystemProjectService(competent_settings(tmp, model.url), use_ray=False)
    app = create_app(service, service.auth, ApiOptions(admin_token=ADMIN))
    try:
        with TestClient(app) as client:
            headers = _first_user(client, service)
            pid = client.post("/api/v1/projects", json=TOPIC, headers=headers).json()["project_id"]
            _wait_done(client, pid, headers)
            yield client, service, headers, pid, app, model
    finally:
        model.close()


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """(client, service, headers, project id) of one finished project on the real service."""
    from fastapi.testclient import TestClient

    from nanoresearch_app.service import SystemProjectService
    from serve.api import create_app
    from serve.auth import ApiOptions

    tmp = tmp_path_factory.mktemp("real")
    script = tmp / "responses.json"
    script.write_text(json.dumps(["{}"]))
    settings = real_settings(tmp, {"default": f"scripted:{script}", "per_agent": {"planner": f"scripted:{script}"}})
    service = SystemProjectService(settings, use_ray=False)
    app = create_app(service, service.auth, ApiOptions(admin_token=ADMIN))
    with TestClient(app) as client:
        headers = _first_user(client, service)
        pid = client.post("/api/v1/projects", json=TOPIC, headers=headers).json()["project_id"]
        seen = _wait_done(client, pid, headers)
        yield client, service, headers, pid, seen, app


def _wait_done(client, pid, headers, timeout=1500) -> set[str]:
    return wait_done(client, pid, headers, timeout)


def test_status_is_typed_from_the_one_store(real):
    client, service, headers, pid, seen, _ = real
    st = check_status(client, headers, pid, TOPIC)
    assert [e["kind"] for e in st["events"]][-1] in ("project_finished", "token_rate")
    listed = client.get("/api/v1/projects", headers=headers).json()
    assert [(p["project_id"], p["status"]) for p in listed] == [(pid, "done")]
    # the registry and the API read the same file the orchestrator wrote
    state = A.read(service.settings.projects_dir / pid, A.PROJECT)
    assert state.status.value == "done" and service.registry.get(pid).status == state.status
    assert not (service.settings.projects_dir / "index").exists()


def test_every_artifact_of_a_finished_project_reads_through_the_registry(real):
    """Walk the workspace (tests/artifact_walk.py): each file a spec names validates
    against the spec's model, kind and schema_version; no artifact JSON is left unnamed."""
    from tests.artifact_walk import unnamed_json, walk

    _, service, _, pid, _, _ = real
    root = service.settings.projects_dir / pid
    found = walk(root)
    assert unnamed_json(root, found) == []
    checked = set(found)
    must = {A.PROJECT.path, A.IDEATION.path, A.PLANNING.path, A.CODE.path, A.RUNS.path,
            A.ANALYSIS.path, A.WRITING.path, A.REVISION_HISTORY.path, "writing/reviews/round_1.json",
            "ideation/manifest.json", "experiment/trajectory.json"}
    assert must <= set(checked), must - set(checked)


def test_a_model_that_answers_nothing_usable_is_credited_with_nothing(real):
    """Every call got '{}': what the paper and the code say about their source must be the
    rules and the scaffold, never the model (the fallbacks say so in the artifacts)."""
    _, service, _, pid, _, _ = real
    root = service.settings.projects_dir / pid
    prov = [json.loads(p.read_text()) for p in root.glob("writing/**/provenance.json")]
    assert prov and prov[0]["sections"], "writing/provenance.json is missing"
    assert not any(src.startswith("model") for src in prov[0]["sections"].values()), prov[0]["sections"]
    notes = json.loads((root / "experiment" / "code" / "coding_notes.json").read_text())
    assert notes["mode"] == "seeded" and not notes["method_source"].startswith("llm"), notes


def test_view_shows_each_stage_as_the_workspace_holds_it(real):
    client, service, headers, pid, _, _ = real
    check_view(client, headers, pid, service.settings.projects_dir / pid)


def test_paper_pages_render_as_images(real):
    client, _, headers, pid, _, _ = real
    check_paper_pages(client, headers, pid)


def test_reviews_route_reads_what_the_writer_wrote(real):
    client, service, headers, pid, _, _ = real
    check_reviews_route(client, headers, pid, service.settings.projects_dir / pid)


def test_artifacts_are_served_inert(real):
    client, service, headers, pid, _, _ = real
    check_served_inert(client, headers, pid, service.settings.projects_dir / pid)


def test_knowledge_lists_and_deletes(real):
    client, service, headers, pid, _, _ = real
    store = service.store
    store.add_memories([MemoryEntry(user_id="ana", category="preference", content="Ana wants 5 seeds"),
                        MemoryEntry(user_id="bob", category="fact", content="Bob's secret")])
    store.add_skills([SkillEntry(stage=SkillStage.CODING, name="Ana's own skill", scope="ana")])
    k = client.get("/api/v1/knowledge", headers=headers).json()
    assert "Ana wants 5 seeds" in [m["content"] for m in k["requirements"]]
    assert "Bob's secret" not in json.dumps(k)
    assert [s["name"] for s in k["skills"]] == ["Ana's own skill"]
    mem = next(m for m in k["requirements"] if m["content"] == "Ana wants 5 seeds")
    assert client.delete(f"/api/v1/memories/{mem['id']}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/memories/{mem['id']}", headers=headers).status_code == 404
    skill = k["skills"][0]["id"]
    assert client.delete(f"/api/v1/skills/{skill}", headers=headers).status_code == 204
    shared = [s["id"] for s in k["shared_skills"]]
    if shared:  # a shared skill is not one user's to delete
        assert client.delete(f"/api/v1/skills/{shared[0]}", headers=headers).status_code == 404
    k2 = client.get("/api/v1/knowledge", headers=headers).json()
    assert "Ana wants 5 seeds" not in json.dumps(k2) and not k2["skills"]


def test_adapter_versions_are_listed_and_rolled_back(real, tmp_path):
    """The knowledge panel shows the planner adapter's versions and which one is served;
    the user can serve an earlier one (or the base model), never another user's."""
    from storage.adapters import AdapterRegistry

    client, service, headers, _, _, _ = real
    reg = AdapterRegistry(service.settings.adapters_dir)
    for i, user in enumerate(("ana", "ana", "bob")):
        src = tmp_path / f"a{i}"
        src.mkdir()
        (src / "adapter_config.json").write_text(json.dumps({"r": 8}))
        (src / "adapter_model.safetensors").write_bytes(b"w%d" % i)
        reg.publish(user, src, parent_version=1 if i == 1 else None)
    k = client.get("/api/v1/knowledge", headers=headers).json()
    assert [a["version"] for a in k["adapters"]] == [1, 2] and k["current_adapter"] == 2
    assert {a["user_id"] for a in k["adapters"]} == {"ana"}
    r = client.post("/api/v1/adapters/rollback", json={}, headers=headers)  # to v2's parent
    assert r.status_code == 200 and r.json() == {"current_version": 1}
    assert reg.current_version("ana") == 1 and reg.get("ana", 2).status == "retired"
    assert reg.current_version("bob") == 1  # untouched
    r = client.post("/api/v1/adapters/rollback", json={"to_version": 2}, headers=headers)
    assert r.json() == {"current_version": 2}
    r = client.post("/api/v1/adapters/rollback", json={"to_version": 7}, headers=headers)
    assert r.status_code == 400 and "no adapter version 7" in r.json()["detail"]
    assert client.get("/api/v1/knowledge", headers=headers).json()["current_adapter"] == 2


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed (scripts/install_system.sh)")
def test_page_shows_the_research_of_a_finished_project(real, tmp_path):
    client, service, headers, pid, _, app = real
    token = headers["Authorization"].split()[1]
    shots = Path(os.environ.get("NR_WEB_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    ide = A.read(service.settings.projects_dir / pid, A.IDEATION)
    with serve_app(app) as url:
        b = Browser(tmp_path / "chromium-profile")
        try:
            b.cmd("Page.navigate", url=f"{url}/#token={token}&project={pid}")
            b.wait_js("!!document.getElementById('reviews') && !!document.getElementById('out-results')", timeout=60)
            text = b.js("document.body.innerText")
            assert ide.selected().statement[:60] in text and "chosen" in text
            assert "Blueprint" in text.title() or "BLUEPRINT" in text
            assert b.js("document.querySelectorAll('#out-results tbody tr').length") > 0
            b.wait_js("[...document.querySelectorAll('#out-figures img')].some(i => i.complete && i.naturalWidth > 100)", timeout=30)
            b.wait_js("(document.getElementById('pdf-viewer') || {}).src?.startsWith('blob:')", timeout=30)
            b.wait_js("[...document.querySelectorAll('#paper-pages img')].some(i => i.complete && i.naturalWidth > 300)", timeout=60)
            assert b.js("document.querySelectorAll('#reviews .review').length") > 0
            assert "No reviews yet" not in text
            # raw files stay one click away, folded
            assert b.js("[...document.querySelectorAll('details.all-files')].every(d => !d.open)")
            _check_png(b.screenshot(shots / "real_project.png"))
            for phase in ("ideation", "experiment", "writing"):
                shot = b.screenshot_element(f"#stage-{phase}", shots / f"real_stage_{phase}.png")
                assert shot.stat().st_size > 10_000, shot
        finally:
            b.close()


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed (scripts/install_system.sh)")
def test_page_waits_at_a_stage_gate_and_its_feedback_box_moves_the_project_on(real, tmp_path):
    """The service waits for HTTP feedback at the ideation gate: the page shows the waiting
    state with the box in place, and the text typed there reaches the orchestrator."""
    client, service, headers, _, _, app = real
    token = headers["Authorization"].split()[1]
    shots = Path(os.environ.get("NR_WEB_SCREENSHOT_DIR", tmp_path))
    service.feedback.wait_s = 600  # the gate holds until the page answers
    try:
        pid = client.post("/api/v1/projects", json={**TOPIC, "problem_statement": "Does k-NN need "
                          "scaled features on breast-cancer diagnosis?"}, headers=headers).json()["project_id"]
        with serve_app(app) as url:
            b = Browser(tmp_path / "chromium-profile")
            try:
                b.cmd("Page.navigate", url=f"{url}/#token={token}&project={pid}")
                b.wait_js("!!document.getElementById('waiting-banner')", timeout=600)
                assert "the ideation stage is finished" in b.js("document.getElementById('waiting-banner').innerText")
                assert b.js("!!document.querySelector('form.feedback.waiting[data-phase=ideation] textarea')")
                assert "step finished" in b.js("document.getElementById('live').innerText")
                assert b.js("!!document.getElementById('out-hypotheses')")  # Stage I shown while waiting
                _check_png(b.screenshot(shots / "real_waiting_for_feedback.png"))
                service.feedback.wait_s = 0  # the later gates pass by themselves
                b.js("""(() => { const t = document.getElementById('feedback-ideation');
                    t.value = 'Add a k-NN baseline without scaling.'; t.dispatchEvent(new Event('input'));
                    document.querySelector('form.feedback[data-phase=ideation] button[type=submit]').click(); })()""")
                b.wait_js("!document.getElementById('waiting-banner')", timeout=120)
            finally:
                b.close()
        _wait_done(client, pid, headers)
    finally:
        service.feedback.wait_s = 0
    record = json.loads((service.settings.projects_dir / pid / "ideation" / "feedback.json").read_text())
    assert record["feedback"]["text"] == "Add a k-NN baseline without scaling." and record["feedback"]["source"] == "web"
    given = client.get(f"/api/v1/projects/{pid}/view", headers=headers).json()["feedback"]["ideation"]
    assert [f["text"] for f in given] == ["Add a k-NN baseline without scaling."]  # shown on the stage card


# ---------------------------------------------------------------------- a competent model
def test_the_competent_model_wrote_the_research_and_is_credited_for_it(competent):
    client, service, headers, pid, _, model = competent
    root = service.settings.projects_dir / pid
    check_status(client, headers, pid, TOPIC)
    check_view(client, headers, pid, root)
    check_reviews_route(client, headers, pid, root)
    check_competent_research(client, headers, pid, root, model)


def test_progress_inside_steps_reaches_the_events_of_the_project(competent):
    _, service, _, pid, _, _ = competent
    evs = check_progress_events(service.settings.projects_dir / pid)
    assert evs[-1].kind == "project_finished"  # the service's own line once the cycle ended


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed (scripts/install_system.sh)")
def test_page_shows_what_the_competent_model_wrote(competent, tmp_path):
    client, service, headers, pid, app, _ = competent
    shots = Path(os.environ.get("NR_WEB_SCREENSHOT_DIR", tmp_path))
    with serve_app(app) as url:
        check_competent_page(url, headers["Authorization"].split()[1], pid, service.settings.projects_dir / pid,
                             shots, tmp_path / "chromium-profile")
