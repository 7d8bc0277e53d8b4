"""HTTP API over the fake service: the project flow, auth isolation, bad input."""
from __future__ import annotations

import json

import pytest

from nanoresearch.types import Phase

TOPIC = {"problem_statement": "Does label smoothing help small CNNs on Fashion-MNIST?",
         "domain": "cv", "datasets": ["fashion_mnist"], "baselines": ["plain CE"]}


def _create(client, headers, topic=TOPIC) -> str:
    r = client.post("/api/v1/projects", json=topic, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["status_url"].endswith(f"/api/v1/projects/{r.json()['project_id']}")
    return r.json()["project_id"]


def _waiting(service, pid, phase):
    return service.wait_for(pid, lambda s: s.waiting_feedback_for is not None
                            and s.waiting_feedback_for.value == phase)


def test_project_flow_feedback_moves_stages(client, service, make_user):
    alice = make_user("alice")
    pid = _create(client, alice)
    for phase in ("ideation", "experiment", "writing"):
        _waiting(service, pid, phase)
        st = client.get(f"/api/v1/projects/{pid}", headers=alice).json()
        assert st["status"] == "waiting_feedback" and st["waiting_feedback_for"] == phase
        assert all(s["status"] == "done" for s in st["manifests"][phase])
        assert st["phase_status"][phase] == "done"
        r = client.post(f"/api/v1/projects/{pid}/feedback", headers=alice,
                        json={"phase": phase, "text": f"more ablations in {phase}"})
        assert r.status_code == 201, r.text
        assert r.json()["phase"] == phase
    st = service.wait_for(pid, lambda s: s.status.value == "done")
    assert [f.phase.value for f in service.feedback] == ["ideation", "experiment", "writing"]
    assert all(f.user_id == "alice" and f.source == "http" for f in service.feedback)
    body = client.get(f"/api/v1/projects/{pid}", headers=alice).json()
    assert body["status"] == "done" and body["has_pdf"] is True
    assert body["topic"]["problem_statement"] == TOPIC["problem_statement"]
    listed = client.get("/api/v1/projects", headers=alice).json()
    assert [p["project_id"] for p in listed] == [pid] and listed[0]["status"] == "done"


def test_artifacts_pdf_and_reviews(client, service, make_user):
    alice = make_user("alice")
    pid = _create(client, alice)
    service.wait_for(pid, lambda s: s.waiting_feedback_for is not None)
    for phase in ("ideation", "experiment"):
        client.post(f"/api/v1/projects/{pid}/feedback", headers=alice, json={"phase": phase, "text": "ok"})
    _waiting(service, pid, "writing")
    arts = client.get(f"/api/v1/projects/{pid}/artifacts", headers=alice).json()["artifacts"]
    assert "writing/paper.pdf" in arts and "experiment/figures/accuracy.png" in arts
    pdf = client.get(f"/api/v1/projects/{pid}/paper", headers=alice)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    png = client.get(f"/api/v1/projects/{pid}/artifacts/experiment/figures/accuracy.png", headers=alice)
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    reviews = client.get(f"/api/v1/projects/{pid}/reviews", headers=alice).json()
    assert [r["reviewer_id"] for r in reviews] == ["r1", "r2"] and reviews[0]["overall"] == 6


def test_paper_and_reviews_404_before_writing(client, service, make_user):
    alice = make_user("alice")
    pid = _create(client, alice)
    _waiting(service, pid, "ideation")
    r = client.get(f"/api/v1/projects/{pid}/paper", headers=alice)
    assert r.status_code == 404 and "no PDF yet" in r.json()["detail"]
    assert client.get(f"/api/v1/projects/{pid}/reviews", headers=alice).status_code == 404


def test_isolation_between_users(client, service, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    pid = _create(client, alice)
    _waiting(service, pid, "ideation")
    missing = client.get("/api/v1/projects/p-doesnotexist", headers=bob)
    assert missing.status_code == 404
    urls = [("get", f"/api/v1/projects/{pid}"), ("get", f"/api/v1/projects/{pid}/artifacts"),
            ("get", f"/api/v1/projects/{pid}/artifacts/ideation/plan.json"),
            ("get", f"/api/v1/projects/{pid}/paper"), ("get", f"/api/v1/projects/{pid}/reviews"),
            ("post", f"/api/v1/projects/{pid}/cancel"), ("post", f"/api/v1/projects/{pid}/resume")]
    for method, url in urls:
        r = getattr(client, method)(url, headers=bob)
        assert r.status_code == 404, url
        # same body as a missing project, up to the id: existence does not leak
        assert r.json()["detail"] == missing.json()["detail"].replace("p-doesnotexist", pid)
    r = client.post(f"/api/v1/projects/{pid}/feedback", headers=bob,
                    json={"phase": "ideation", "text": "take over"})
    assert r.status_code == 404 and service.feedback == []
    assert client.get("/api/v1/projects", headers=bob).json() == []
    assert service.project_status(pid).status.value == "waiting_feedback"  # bob's cancel did nothing
    mems = client.get("/api/v1/memories", headers=bob).json()
    assert mems and all(m["user_id"] == "bob" for m in mems)
    skills = client.get("/api/v1/skills", headers=bob).json()
    assert {s["scope"] for s in skills} == {"global", "bob"}
    adapters = client.get("/api/v1/adapters", headers=bob).json()
    assert [a["user_id"] for a in adapters] == ["bob"]


def test_foreign_records_from_a_buggy_service_are_dropped(client, service, make_user):
    make_user("alice")
    bob = make_user("bob")
    service.search_memories = lambda user, q, k: list(service.memories)  # ignores the user
    service.search_skills = lambda user, q, k: list(service.skills)
    assert {m["user_id"] for m in client.get("/api/v1/memories", headers=bob).json()} == {"bob"}
    assert "alice" not in {s["scope"] for s in client.get("/api/v1/skills", headers=bob).json()}


def test_search_query_and_k(client, make_user):
    bob = make_user("bob")
    assert client.get("/api/v1/skills", params={"q": "scale"}, headers=bob).json()[0]["name"] == \
        "scale features before LR"
    assert client.get("/api/v1/skills", params={"q": "zzz"}, headers=bob).json() == []
    r = client.get("/api/v1/memories", params={"k": 0}, headers=bob)
    assert r.status_code == 422 and "k" in r.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope-not-a-token-123"},
                                     {"Authorization": "Basic abc"}])
def test_missing_or_bad_token_is_401(client, headers):
    r = client.get("/api/v1/projects", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized" and "Bearer" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"


def test_user_creation_needs_admin(client, make_user, admin_headers):
    r = client.post("/api/v1/users", json={"user_id": "eve"})
    assert r.status_code == 403 and "NANORESEARCH_ADMIN_TOKEN" in r.json()["detail"]
    alice = make_user("alice")
    assert client.post("/api/v1/users", json={"user_id": "eve"}, headers=alice).status_code == 403
    admin = admin_headers
    dup = client.post("/api/v1/users", json={"user_id": "alice"}, headers=admin)
    assert dup.status_code == 409 and "already exists" in dup.json()["detail"]
    bad = client.post("/api/v1/users", json={"user_id": "../root"}, headers=admin)
    assert bad.status_code == 400 and "user id" in bad.json()["detail"]
    assert client.get("/api/v1/me", headers=alice).json() == {"user_id": "alice", "has_profile": False}


def test_open_registration(service, tmp_path):
    from fastapi.testclient import TestClient

    from serve.api import create_app
    from serve.auth import ApiOptions, TokenAuth
    app = create_app(service, TokenAuth(tmp_path / "t.json"), ApiOptions(open_registration=True))
    with TestClient(app) as c:
        r = c.post("/api/v1/users", json={"user_id": "carol"})
        assert r.status_code == 201
        me = c.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert me.json()["user_id"] == "carol"


def test_bad_phase_and_blank_feedback(client, service, make_user):
    alice = make_user("alice")
    pid = _create(client, alice)
    r = client.post(f"/api/v1/projects/{pid}/feedback", headers=alice,
                    json={"phase": "coding", "text": "hi"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    assert "body.phase" in r.json()["detail"] and "ideation" in r.json()["detail"]
    r = client.post(f"/api/v1/projects/{pid}/feedback", headers=alice, json={"phase": "ideation", "text": "  "})
    assert r.status_code == 422 and "blank" in r.json()["detail"]
    assert service.feedback == []


@pytest.mark.parametrize("body,needle", [
    ({"domain": "cv"}, "problem_statement"),
    ({"problem_statement": "   "}, "problem_statement is empty"),
    ({"problem_statement": "x", "datasets": "mnist"}, "datasets"),
])
def test_bad_topic_is_422(client, make_user, body, needle):
    r = client.post("/api/v1/projects", json=body, headers=make_user("alice"))
    assert r.status_code == 422 and needle in r.json()["detail"], r.text


def test_malformed_json_body_is_422(client, make_user):
    h = {**make_user("alice"), "Content-Type": "application/json"}
    r = client.post("/api/v1/projects", content=b"{not json", headers=h)
    assert r.status_code == 422 and "JSON" in r.json()["detail"]


def test_upload_task_file_json_and_yaml(client, service, make_user):
    alice = make_user("alice")
    task = {**TOPIC, "question_id": "cv-01", "user_requirements": ["3 seeds"]}
    r = client.post("/api/v1/projects/upload", content=json.dumps(task).encode(),
                    headers={**alice, "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert service.projects[r.json()["project_id"]].topic.question_id == "cv-01"
    yml = b"question_id: ts-02\ndomain: timeseries\nproblem_statement: Does differencing help?\n"
    r = client.post("/api/v1/projects/upload", content=yml,
                    headers={**alice, "Content-Type": "application/x-yaml"})
    assert r.status_code == 201 and service.projects[r.json()["project_id"]].topic.domain == "timeseries"


@pytest.mark.parametrize("raw,code,needle", [
    (b"", 400, "empty"), (b"[1, 2]", 422, "ONE task"), (b"a: [b", 400, "neither JSON nor YAML"),
    (b'{"domain": "cv"}', 422, "problem_statement"),
])
def test_upload_bad_task_file(client, make_user, raw, code, needle):
    r = client.post("/api/v1/projects/upload", content=raw, headers=make_user("alice"))
    assert r.status_code == code and needle in r.json()["detail"], r.text


# httpx normalises a literal "../" before sending, so the raw forms reach the server encoded
@pytest.mark.parametrize("rel,code", [
    ("%2e%2e/%2e%2e/etc/passwd", 400), ("..%2F..%2Fetc%2Fpasswd", 400), ("%2Fetc%2Fpasswd", 400),
    ("ideation%5C..%5C..%5Cproject.json", 400), ("ideation/%2e%2e/project.json", 400),
    ("../project.json", 404), ("ideation/plan.json%00.pdf", 400),
])
def test_path_traversal_refused(client, service, make_user, rel, code):
    alice = make_user("alice")
    pid = _create(client, alice)
    _waiting(service, pid, "ideation")
    r = client.get(f"/api/v1/projects/{pid}/artifacts/{rel}", headers=alice)
    assert r.status_code == code, (rel, r.text)
    assert b"user_id" not in r.content and b"root:" not in r.content
    if code == 400:
        assert "not allowed" in r.json()["detail"]


def test_unlisted_file_in_workspace_not_served(client, service, make_user):
    alice = make_user("alice")
    pid = _create(client, alice)
    _waiting(service, pid, "ideation")
    r = client.get(f"/api/v1/projects/{pid}/artifacts/project.json", headers=alice)
    assert r.status_code == 404 and "no artifact" in r.json()["detail"]


def test_cancel_and_resume_keep_finished_steps(client, service, make_user):
    alice = make_user("alice")
    pid = _create(client, alice)
    _waiting(service, pid, "ideation")
    before = {s.name: s.started_at for s in service.projects[pid].ws.manifest(Phase.IDEATION).steps}
    r = client.post(f"/api/v1/projects/{pid}/cancel", headers=alice)
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    r = client.post(f"/api/v1/projects/{pid}/resume", headers=alice)
    assert r.status_code == 202
    st = _waiting(service, pid, "ideation")
    assert {s.name: s.started_at for s in st.manifests[Phase.IDEATION]} == before


def test_profile_questionnaire(client, make_user):
    alice = make_user("alice")
    assert client.get("/api/v1/profile", headers=alice).status_code == 404
    qs = client.get("/api/v1/profile/questions", headers=alice).json()
    assert {"research_field", "gpus"} <= {q["id"] for q in qs}
    r = client.put("/api/v1/profile", headers=alice, json={"answers": {"favourite_colour": "red"}})
    assert r.status_code == 422 and "favourite_colour" in r.json()["detail"]
    r = client.put("/api/v1/profile", headers=alice,
                   json={"answers": {"research_field": "vision", "gpus": 1, "paper_format": "journal",
                                     "methodological_preferences": "ablations, 5 seeds"}})
    assert r.status_code == 200, r.text
    prof = client.get("/api/v1/profile", headers=alice).json()
    assert prof["research_field"] == "vision" and prof["resources"]["gpus"] == 1
    assert prof["methodological_preferences"] == ["ablations", "5 seeds"]
    assert client.get("/api/v1/me", headers=alice).json()["has_profile"] is True


def test_openapi_spec_lists_routes(client):
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "nanoresearch API" and spec["info"]["description"]
    paths = spec["paths"]
    for p in ["/api/v1/users", "/api/v1/profile", "/api/v1/profile/questions", "/api/v1/projects",
              "/api/v1/projects/upload", "/api/v1/projects/{project_id}",
              "/api/v1/projects/{project_id}/artifacts", "/api/v1/projects/{project_id}/artifacts/{rel}",
              "/api/v1/projects/{project_id}/paper", "/api/v1/projects/{project_id}/reviews",
              "/api/v1/projects/{project_id}/feedback", "/api/v1/projects/{project_id}/cancel",
              "/api/v1/projects/{project_id}/resume", "/api/v1/skills", "/api/v1/memories",
              "/api/v1/adapters", "/api/v1/health"]:
        assert p in paths, p
    assert "bearer" in json.dumps(spec["components"]["securitySchemes"]).lower()
    assert "ResearchTopic" in spec["components"]["schemas"]
    fb = paths["/api/v1/projects/{project_id}/feedback"]["post"]
    assert fb["summary"] and "requestBody" in fb


def test_unknown_route_has_error_body(client):
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
