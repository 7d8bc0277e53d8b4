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
import time
from pathlib import Path

import pytest

from nanoresearch import artifacts as A
from nanoresearch.config import load_settings
from nanoresearch.types import MemoryEntry, SkillEntry, SkillStage
from tests.helpers import small_library
from tests.serve.browser import CHROMIUM, Browser, _check_png, serve_app

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
    """Poll the status route like the page does; returns the statuses seen on the way."""
    seen, end = set(), time.time() + timeout
    while time.time() < end:
        st = client.get(f"/api/v1/projects/{pid}", headers=headers).json()
        seen.add(st["status"])
        if st["status"] not in ("created", "running", "waiting_feedback"):
            assert st["status"] == "done", st
            return seen
        time.sleep(1.0)
    raise AssertionError(f"project {pid} did not finish; last status {st}")


def test_status_is_typed_from_the_one_store(real):
    client, service, headers, pid, seen, _ = real
    st = client.get(f"/api/v1/projects/{pid}", headers=headers).json()
    assert st["kind"] == "project_status_report" and st["user_id"] == "ana"
    assert set(st["phase_status"].values()) == {"done"} and len(st["manifests"]) == 3
    assert st["has_pdf"] is True and st["topic"]["problem_statement"] == TOPIC["problem_statement"]
    kinds = [e["kind"] for e in st["events"]]
    assert "step_started" in kinds and "step_finished" in kinds and kinds[-1] in ("project_finished", "token_rate")
    listed = client.get("/api/v1/projects", headers=headers).json()
    assert [(p["project_id"], p["status"]) for p in listed] == [(pid, "done")]
    # the registry and the API read the same file the orchestrator wrote
    state = A.read(service.settings.projects_dir / pid, A.PROJECT)
    assert state.status.value == "done" and service.registry.get(pid).status == state.status
    assert not (service.settings.projects_dir / "index").exists()


def test_every_artifact_of_a_finished_project_reads_through_the_registry(real):
    """Walk the workspace: each file a spec names validates against the spec's model."""
    _, service, _, pid, _, _ = real
    root = service.settings.projects_dir / pid
    checked = []
    for spec in A.ALL:
        for rel in A.matches(root, spec):
            assert A.read_path(root / rel, spec) is not None, f"{rel} does not read as {spec.model}"
            checked.append(rel)
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
    root = service.settings.projects_dir / pid
    v = client.get(f"/api/v1/projects/{pid}/view", headers=headers).json()
    ide = A.read(root, A.IDEATION)
    assert v["ideation"]["selected_hypothesis_id"] == ide.selected_hypothesis_id
    assert [h["statement"] for h in v["ideation"]["hypotheses"]] == [h.statement for h in ide.hypotheses]
    assert v["ideation"]["papers"] and v["planning"]["blueprint"]["datasets"]
    assert v["planning"]["blueprint"]["seeds"] and v["planning"]["critiques"]
    assert v["code"]["files"] and any(r["status"] == "succeeded" for r in v["runs"])
    assert all(r["duration_s"] > 0 for r in v["runs"])
    assert v["analysis"]["comparisons"] and v["analysis"]["summary"]
    assert v["figures"] and all((root / f["path"]).is_file() and f["path"].endswith(".png") for f in v["figures"])
    assert v["pdf"] == A.PAPER_PDF.path and v["writing"]["draft"]["title"]
    rounds = A.review_rounds(root)
    assert rounds and sorted(map(int, v["review_rounds"])) == sorted(rounds)
    assert v["revision_history"]["rounds"][0]["round"] == 1


def test_paper_pages_render_as_images(real):
    client, _, headers, pid, _, _ = real
    n = client.get(f"/api/v1/projects/{pid}/paper/pages", headers=headers).json()["pages"]
    assert n >= 1
    img = client.get(f"/api/v1/projects/{pid}/paper/pages/1", headers=headers)
    assert img.status_code == 200 and img.content[:4] == b"\x89PNG"
    assert client.get(f"/api/v1/projects/{pid}/paper/pages/{n + 1}", headers=headers).status_code == 404


def test_reviews_route_reads_what_the_writer_wrote(real):
    client, service, headers, pid, _, _ = real
    got = client.get(f"/api/v1/projects/{pid}/reviews", headers=headers).json()
    rounds = A.review_rounds(service.settings.projects_dir / pid)
    assert [(r["round"], r["reviewer_id"]) for r in got] == \
        [(n, r.reviewer_id) for n in sorted(rounds) for r in rounds[n]]
    assert any(r["is_meta"] for r in got)


def test_artifacts_are_served_inert(real):
    client, service, headers, pid, _, _ = real
    base = f"/api/v1/projects/{pid}"
    pdf = client.get(f"{base}/paper", headers=headers)
    assert pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-security-policy"].startswith("sandbox")
    # a model-written HTML file in the workspace: listed, but served as an inert attachment
    evil = service.settings.projects_dir / pid / "experiment" / "code" / "report.html"
    evil.write_text("<script>fetch('/x?t='+localStorage.nr_token)</script>")
    r = client.get(f"{base}/artifacts/experiment/code/report.html", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.headers["content-disposition"].startswith("attachment")
    page = client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


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
    """The stand-in answered every agent like a capable model: the hypothesis, blueprint,
    method, analysis, every section and the reviews in the project are its words, and
    the paper's provenance says the model wrote the sections."""
    from tests.serve import competent_answers as C

    client, service, headers, pid, _, model = competent
    root = service.settings.projects_dir / pid
    routes = model.routes()
    assert routes.get("unrouted", 0) == 0, routes
    for r in ("hypotheses", "novelty", "blueprint", "method_config", "analysis", "outline", "abstract", "review"):
        assert routes.get(r), (r, routes)
    assert routes["section"] == 7
    v = client.get(f"/api/v1/projects/{pid}/view", headers=headers).json()
    ide = A.read(root, A.IDEATION)
    ideas = json.loads(C.ideas([], None))
    assert ide.selected().statement in [h["statement"] for h in ideas["hypotheses"]]
    assert v["planning"]["blueprint"]["title"] == C.TITLE
    assert v["planning"]["blueprint"]["proposed_method"]["name"] == C.METHOD
    notes = json.loads((root / "experiment" / "code" / "coding_notes.json").read_text())
    assert notes["method_source"] == "llm" and notes["method_family"] == "svm_rbf"
    said = [json.loads(c.answer)["summary"] for c in model.calls if c.route == "analysis"]
    assert v["analysis"]["summary"] == said[-1] and said[-1].startswith(f"On breast_cancer, {C.METHOD} reached")
    prov = v["extras"]["provenance"]["data"]["sections"]
    assert {k for k, src in prov.items() if src == "model"} >= {"introduction", "method", "conclusion", "abstract"}
    assert all("model" in src for src in prov.values()), prov
    tex = (root / "writing" / "paper.tex").read_text() + "".join(
        p.read_text() for p in (root / "writing" / "sections").glob("*.tex"))
    assert "scaling statistics estimated on the training split only" in " ".join(tex.split()).replace("\\", "")
    reviews = client.get(f"/api/v1/projects/{pid}/reviews", headers=headers).json()
    model_summaries = {json.loads(c.answer)["summary"] for c in model.calls if c.route == "review"}
    assert {r["summary"] for r in reviews if not r["is_meta"]} <= model_summaries


def test_progress_inside_steps_reaches_the_events_of_the_project(competent):
    """In-process: literature sources, each model call, the experiment run (started, its
    output, finished) and each LaTeX pass are in events.jsonl, typed."""
    _, service, _, pid, _, _ = competent
    from nanoresearch.progress import parse_event

    lines = (service.settings.projects_dir / pid / A.EVENTS.path).read_text().splitlines()
    evs = [parse_event(d["kind"], d) for d in map(json.loads, lines)]
    kinds = {e.kind for e in evs if e is not None}
    assert {"literature_searched", "llm_call", "run_started", "run_output", "run_finished", "latex_pass",
            "step_started", "step_finished", "project_finished"} <= kinds, kinds
    fin = [e for e in evs if e is not None and e.kind == "run_finished"]
    assert fin and fin[-1].status.value == "succeeded" and fin[-1].duration_s > 0
    calls = [e for e in evs if e is not None and e.kind == "llm_call"]
    assert {c.agent for c in calls} >= {"ideation", "planning", "writing", "review"}
    assert all(c.model == "openai:competent" for c in calls)


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed (scripts/install_system.sh)")
def test_page_shows_what_the_competent_model_wrote(competent, tmp_path):
    from tests.serve import competent_answers as C

    client, service, headers, pid, app, _ = competent
    token = headers["Authorization"].split()[1]
    shots = Path(os.environ.get("NR_WEB_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    root = service.settings.projects_dir / pid
    chosen = A.read(root, A.IDEATION).selected().statement
    rounds = sorted(A.review_rounds(root))
    with serve_app(app) as url:
        b = Browser(tmp_path / "chromium-profile")
        try:
            b.cmd("Page.navigate", url=f"{url}/#token={token}&project={pid}")
            b.wait_js("!!document.getElementById('reviews') && !!document.getElementById('out-provenance')", timeout=60)
            hyp = b.js("(document.querySelector('#out-hypotheses .hyp.chosen') || {}).innerText || ''")
            assert chosen in " ".join(hyp.split()) and "chosen" in hyp
            assert C.TITLE in b.js("document.getElementById('out-blueprint').innerText")
            results = b.js("document.getElementById('out-results').innerText")
            assert C.METHOD in results and b.js("document.querySelectorAll('#out-results tbody tr').length") > 0
            b.wait_js("[...document.querySelectorAll('#out-figures img')].some(i => i.complete && i.naturalWidth > 100)", timeout=30)
            b.wait_js("[...document.querySelectorAll('#paper-pages img')].some(i => i.complete && i.naturalWidth > 300)", timeout=60)
            # the reviews of every round, each with the model's review text
            folds = b.js("[...document.querySelectorAll('#reviews details.fold > summary')].map(s => s.innerText)")
            assert [f.split(" ·")[0] for f in folds] == [f"Round {n}" for n in rounds]
            b.js("document.querySelectorAll('#reviews details.fold').forEach(d => d.open = true)")
            text = b.js("document.getElementById('reviews').innerText")
            assert "controlled comparison with an ablation of the scaling step" in text
            assert b.js("document.querySelectorAll('#reviews .review:not(.meta)').length") >= 2 * len(rounds)
            # provenance: the sections are marked model-written on the page
            prov = b.js("[...document.querySelectorAll('#out-provenance tbody tr')].map(r => r.innerText.split('\\t').slice(0, 2).join('|'))")
            assert "introduction|model-written" in prov and "method|model-written" in prov, prov
            _check_png(b.screenshot(shots / "competent_project.png"))
            for phase in ("ideation", "experiment", "writing"):
                shot = b.screenshot_element(f"#stage-{phase}", shots / f"competent_stage_{phase}.png")
                assert shot.stat().st_size > 10_000, shot
        finally:
            b.close()
