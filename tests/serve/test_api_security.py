"""HTTP attacks on the real API app (issue 15: H2 takeover, L4 user admin, H4 quotas and
body limits, L1 bad input). The service is the threaded fake of conftest.py; quotas
read real files (ledgers, planner log) under tmp_path."""
from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from nanoresearch.config import QuotaSettings
from nanoresearch.types import (AdapterVersion, Feedback, LedgerEntry, MemoryEntry, Phase,
                                UserProfile)
from serve.api import create_app
from serve.auth import ApiOptions, TokenAuth
from tests.serve.conftest import ADMIN

TOPIC = {"problem_statement": "Does label smoothing help small CNNs?", "domain": "cv"}
ADM = {"Authorization": f"Bearer {ADMIN}"}


def _app(service, tmp_path, **quota):
    opts = ApiOptions(admin_token=ADMIN, open_registration=True,
                      quotas=QuotaSettings(**quota), projects_dir=str(service.root),
                      data_dir=str(tmp_path / "data"))
    return create_app(service, TokenAuth(tmp_path / "api_tokens.json"), opts)


@pytest.fixture()
def open_client(service, tmp_path):
    with TestClient(_app(service, tmp_path)) as c:
        yield c


def _register(c, uid, headers=None):
    return c.post("/api/v1/users", json={"user_id": uid}, headers=headers or {})


def _bearer(r) -> dict:
    return {"Authorization": f"Bearer {r.json()['token']}"}


# ---------------------------------------------------------------- H2: takeover
@pytest.mark.parametrize("kind", ["profile", "memory", "adapter", "project"])
def test_registration_cannot_claim_an_id_with_data(open_client, service, kind):
    uid = "default"  # created from the CLI: data, no token
    if kind == "profile":
        service.profiles[uid] = UserProfile(user_id=uid)
    elif kind == "memory":
        service.memories.append(MemoryEntry(user_id=uid, content="cli memory", category="fact"))
    elif kind == "adapter":
        service.adapters.append(AdapterVersion(user_id=uid, version=1, path="/a", checksum="0" * 8))
    else:
        other = _bearer(_register(open_client, "owner"))
        pid = open_client.post("/api/v1/projects", json=TOPIC, headers=other).json()["project_id"]
        service.projects[pid].user = uid
    r = _register(open_client, uid)
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    assert _register(open_client, uid, ADM).status_code == 201  # the operator may adopt it


def test_concurrent_registration_gives_one_owner(open_client):
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(_register(open_client, "race").status_code))
               for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(codes) == [201] + [409] * 5


# ---------------------------------------------------------------- L4: user admin
def test_admin_lists_issues_revokes_and_removes(open_client):
    alice = _bearer(_register(open_client, "alice"))
    assert open_client.get("/api/v1/admin/users", headers=alice).status_code == 401
    users = open_client.get("/api/v1/admin/users", headers=ADM).json()
    assert [u["user_id"] for u in users] == ["alice"] and len(users[0]["tokens"]) == 1
    second = open_client.post("/api/v1/admin/users/alice/tokens", headers=ADM)
    assert second.status_code == 201
    tid = open_client.get("/api/v1/admin/users", headers=ADM).json()[0]["tokens"][1]["token_id"]
    assert "nr_" not in json.dumps(users) and len(tid) == 12
    assert open_client.delete(f"/api/v1/admin/users/alice/tokens/{tid}", headers=ADM).status_code == 200
    assert open_client.get("/api/v1/me", headers=_bearer(second)).status_code == 401
    assert open_client.get("/api/v1/me", headers=alice).status_code == 200
    assert open_client.delete("/api/v1/admin/users/alice", headers=ADM).json()["revoked"] == 1
    assert open_client.get("/api/v1/me", headers=alice).status_code == 401
    assert open_client.post("/api/v1/admin/users/nobody/tokens", headers=ADM).status_code == 404
    # the removed id keeps its data, so self-registration cannot take it over
    assert _register(open_client, "alice").status_code == 409


def test_user_revokes_own_token(open_client):
    alice = _bearer(_register(open_client, "alice"))
    assert open_client.delete("/api/v1/me/token", headers=alice).status_code == 204
    assert open_client.get("/api/v1/me", headers=alice).status_code == 401


def test_admin_routes_refused_when_no_admin_token(service, tmp_path):
    app = create_app(service, TokenAuth(tmp_path / "t.json"), ApiOptions(open_registration=True))
    with TestClient(app) as c:
        for tok in ("", "x" * 20):
            r = c.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {tok}"} if tok else {})
            assert r.status_code == 403 and "NANORESEARCH_ADMIN_TOKEN" in r.json()["detail"]


# ---------------------------------------------------------------- H4: quotas
def test_active_project_quota(service, tmp_path):
    with TestClient(_app(service, tmp_path, max_active_projects=1)) as c:
        h = _bearer(_register(c, "alice"))
        first = c.post("/api/v1/projects", json=TOPIC, headers=h).json()["project_id"]
        r = c.post("/api/v1/projects", json=TOPIC, headers=h)
        assert r.status_code == 429 and r.json()["error"] == "quota_exceeded" and first in r.json()["detail"]
        other = _bearer(_register(c, "bob"))  # per user: bob is not blocked by alice
        assert c.post("/api/v1/projects", json=TOPIC, headers=other).status_code == 201
        c.post(f"/api/v1/projects/{first}/cancel", headers=h)
        assert c.post("/api/v1/projects", json=TOPIC, headers=h).status_code == 201
        assert c.post(f"/api/v1/projects/{first}/resume", headers=h).status_code == 429


def test_daily_project_quota(service, tmp_path):
    with TestClient(_app(service, tmp_path, max_projects_per_day=2, max_active_projects=0)) as c:
        h = _bearer(_register(c, "alice"))
        for _ in range(2):
            assert c.post("/api/v1/projects", json=TOPIC, headers=h).status_code == 201
        r = c.post("/api/v1/projects", json=TOPIC, headers=h)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_spend_quota_reads_the_ledgers(service, tmp_path):
    with TestClient(_app(service, tmp_path, max_spend_usd=1.0, max_active_projects=0)) as c:
        h = _bearer(_register(c, "alice"))
        pid = c.post("/api/v1/projects", json=TOPIC, headers=h).json()["project_id"]
        entry = LedgerEntry(agent="writing", provider="openai", model="gpt", prompt_tokens=1,
                            completion_tokens=1, cost_usd=1.5)
        (service.root / pid / "ledger.jsonl").write_text(entry.model_dump_json() + "\n")
        r = c.post("/api/v1/projects", json=TOPIC, headers=h)
        assert r.status_code == 429 and "$1.50" in r.json()["detail"]


def test_training_quota_counts_logged_feedback(service, tmp_path):
    from training.history import PlannerHistory

    with TestClient(_app(service, tmp_path, max_trainings_per_day=2)) as c:
        h = _bearer(_register(c, "alice"))
        pid = c.post("/api/v1/projects", json=TOPIC, headers=h).json()["project_id"]
        hist = PlannerHistory(tmp_path / "data")
        for _ in range(2):  # what the real service logs for every stage feedback
            hist.append_feedback(Feedback(user_id="alice", project_id=pid, phase=Phase.IDEATION,
                                          text="simpler baselines"))
        r = c.post(f"/api/v1/projects/{pid}/feedback", json={"phase": "ideation", "text": "more"},
                   headers=h)
        assert r.status_code == 429 and "Retry-After" in r.headers
        old = Feedback(user_id="bob", project_id=pid, phase=Phase.IDEATION, text="x",
                       created_at=time.time() - 2 * 86_400)
        hist.append_feedback(old)  # older than a day: does not count


# ---------------------------------------------------------------- L1 / size limits
def test_body_limits_and_bad_json(open_client):
    h = _bearer(_register(open_client, "alice"))
    json_h = {**h, "Content-Type": "application/json"}
    big = open_client.post("/api/v1/projects", content=b"{" + b" " * 2_100_000 + b"}", headers=json_h)
    assert big.status_code == 413 and big.json()["error"] == "too_large"
    deep = b'{"problem_statement": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    for url in ("/api/v1/projects", "/api/v1/projects/upload"):
        r = open_client.post(url, content=deep, headers=json_h)
        assert r.status_code == 400 and "nested" in r.json()["detail"], (url, r.text)
    deep_yaml = b"problem_statement: x\nbackground: " + b"[" * 20_000 + b"]" * 20_000 + b"\n"
    r = open_client.post("/api/v1/projects/upload", content=deep_yaml,
                         headers={**h, "Content-Type": "application/x-yaml"})
    assert r.status_code in (400, 422), r.text
    lone = b'{"problem_statement": "a question \\ud800 here", "domain": "cv"}'
    r = open_client.post("/api/v1/projects", content=lone, headers=json_h)
    assert r.status_code == 400 and "surrogate" in r.json()["detail"]
    yaml_lone = b'problem_statement: "a question \\ud800 here"\n'
    r = open_client.post("/api/v1/projects/upload", content=yaml_lone, headers=h)
    assert r.status_code in (400, 422) and r.status_code != 500, r.text
    r = open_client.post("/api/v1/projects/upload", content=b"problem_statement: caf\xe9 \xff\xfe",
                         headers=h)
    assert r.status_code in (400, 422), r.text


def test_topic_length_limit(open_client):
    h = _bearer(_register(open_client, "alice"))
    r = open_client.post("/api/v1/projects", json={**TOPIC, "problem_statement": "x" * 1_000_000},
                         headers=h)
    assert r.status_code == 422 and "limit is 4000" in r.json()["detail"]


def test_security_headers(open_client):
    r = open_client.get("/api/v1/health")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"


def test_resume_refused_while_another_process_runs_it(service, tmp_path):
    from nanoresearch.workspace import Workspace

    with TestClient(_app(service, tmp_path, max_active_projects=0)) as c:
        h = _bearer(_register(c, "alice"))
        pid = c.post("/api/v1/projects", json=TOPIC, headers=h).json()["project_id"]
        c.post(f"/api/v1/projects/{pid}/cancel", headers=h)
        with Workspace(service.root / pid).run_lock():  # e.g. `nanoresearch resume` in a shell
            r = c.post(f"/api/v1/projects/{pid}/resume", headers=h)
            assert r.status_code == 409 and "already running" in r.json()["detail"]
        assert c.post(f"/api/v1/projects/{pid}/resume", headers=h).status_code == 202
