"""Attacks on the planner's OpenAI route and its admin routes (issue 15, C2), against
the real app with a tiny engine. Before: any caller could use `planner:<anyone>` and
write into that user's SDPO log; admin routes were open without a configured token;
publish copied any server path, following symlinks, and served it before loading it."""
from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from serve.auth import TokenAuth
from serve.planner_engine import PlannerEngine
from serve.planner_log import PlannerLog
from serve.planner_openai import MAX_PROMPT_CHARS, PlannerAuth, create_planner_api
from storage.adapters import AdapterRegistry
from tests.serve.planner_fixtures import random_adapter
from tests.training.tiny import make_tiny_model_dir

MSGS = [{"role": "user", "content": "Task: classify digits"}]
ADMIN, SERVICE = "planner-admin-token-0123456789", "nrs_service-token-for-tests-0123456789"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny-sec"))


@pytest.fixture()
def engine(model_dir, tmp_path):
    return PlannerEngine(model_dir, AdapterRegistry(tmp_path / "adapters"), PlannerLog(tmp_path / "data"))


@pytest.fixture()
def tokens(tmp_path):
    return TokenAuth(tmp_path / "api_tokens.json")


def _client(engine, tokens, admin: str | None = ADMIN) -> TestClient:
    return TestClient(create_planner_api(engine, prefix="/v1",
                                         auth=PlannerAuth.create(tokens, SERVICE, admin)))


def _chat(c, token, model="planner:alice", **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kw.pop("headers", {}))
    return c.post("/v1/chat/completions", headers=headers,
                  json={"model": model, "messages": kw.pop("messages", MSGS), "max_tokens": 2, **kw})


def test_chat_needs_a_token_bound_to_the_user(engine, tokens):
    alice, bob = tokens.issue("alice"), tokens.issue("bob")
    with _client(engine, tokens) as c:
        assert _chat(c, None).status_code == 401
        assert _chat(c, "nr_forged-token-0123456789abcdef").status_code == 401
        assert _chat(c, bob, headers={"X-Project-Id": "poison"}).status_code == 403
        assert _chat(c, bob, "planner", headers={"X-User-Id": "alice"}).status_code == 403
        assert _chat(c, bob, "planner", user="alice").status_code == 403
        assert _chat(c, bob, "planner", headers={"serve_multiplexed_model_id": "alice@v1"}).status_code == 403
        assert engine.planner_log.calls("alice") == []  # nothing poisoned alice's SDPO data
        assert _chat(c, alice).status_code == 200
        own = _chat(c, bob, "planner")  # no user named: the token's own
        assert own.status_code == 200 and len(engine.planner_log.calls("bob")) == 1
        assert _chat(c, SERVICE, "planner:bob").status_code == 200  # the system plans for anyone
        tokens.revoke_user("alice")
        assert _chat(c, alice).status_code == 401


def test_chat_size_limits(engine, tokens):
    tok = tokens.issue("alice")
    with _client(engine, tokens) as c:
        big = [{"role": "user", "content": "x" * (MAX_PROMPT_CHARS + 1)}]
        assert _chat(c, tok, messages=big).status_code == 413
        many = [{"role": "user", "content": "hi"}] * 65
        assert _chat(c, tok, messages=many).status_code == 422
        huge = c.post("/v1/chat/completions", content=b"{" + b" " * 3_000_000 + b"}",
                      headers={"Authorization": f"Bearer {tok}", "Content-Type": "application/json"})
        assert huge.status_code == 413
        deep = c.post("/v1/chat/completions", content=b"[" * 100_000 + b"]" * 100_000,
                      headers={"Authorization": f"Bearer {tok}", "Content-Type": "application/json"})
        assert deep.status_code == 400


ADMIN_CALLS = [("get", "/v1/admin/adapters/alice", None),
               ("post", "/v1/admin/adapters/alice/publish", {"staged": "a"}),
               ("post", "/v1/admin/adapters/alice/load", {"version": 1}),
               ("post", "/v1/admin/adapters/alice/unload", None),
               ("post", "/v1/admin/adapters/alice/rollback", {})]


def test_admin_routes_refused_without_a_configured_token(engine, tokens):
    user = tokens.issue("alice")
    with _client(engine, tokens, admin=None) as c:
        for method, url, body in ADMIN_CALLS:
            for tok in (None, "", user, SERVICE):
                h = {"Authorization": f"Bearer {tok}"} if tok else {}
                r = getattr(c, method)(url, headers=h, **({"json": body} if body is not None else {}))
                assert r.status_code == 403, (url, tok, r.text)
                assert "NANORESEARCH_ADMIN_TOKEN" in r.json()["error"]["message"]


def test_admin_routes_need_the_admin_token(engine, tokens):
    user = tokens.issue("alice")
    with _client(engine, tokens) as c:
        for method, url, body in ADMIN_CALLS:
            for tok in (None, user, SERVICE, ADMIN + "x", ADMIN[:-1]):
                h = {"Authorization": f"Bearer {tok}"} if tok else {}
                r = getattr(c, method)(url, headers=h, **({"json": body} if body is not None else {}))
                assert r.status_code == 401, (url, tok, r.text)


def test_publish_only_from_the_staging_area(engine, tokens, model_dir, tmp_path):
    outside = random_adapter(model_dir, tmp_path / "outside", seed=3)
    staging = engine.adapters.staging_dir()
    adm = {"Authorization": f"Bearer {ADMIN}"}
    with _client(engine, tokens) as c:
        def publish(body):
            return c.post("/v1/admin/adapters/alice/publish", json=body, headers=adm)
        assert publish({"path": str(outside)}).status_code == 422  # the old arbitrary-path field
        for name in (str(outside), "../outside", "a/b", "", ".staging", "missing"):
            assert publish({"staged": name}).status_code == 400, name
        os.symlink(outside, staging / "link")  # a symlinked directory
        assert publish({"staged": "link"}).status_code == 400
        inner = random_adapter(model_dir, staging / "inner", seed=4)
        (inner / "adapter_model.safetensors").unlink()
        os.symlink(outside / "adapter_model.safetensors", inner / "adapter_model.safetensors")
        r = publish({"staged": "inner"})  # a symlinked file inside
        assert r.status_code == 400 and "symlink" in r.json()["error"]["message"]
        assert engine.adapters.list("alice") == []


def test_publish_verifies_before_serving(engine, tokens, model_dir):
    adm = {"Authorization": f"Bearer {ADMIN}"}
    staging = engine.adapters.staging_dir()
    random_adapter(model_dir, staging / "good", seed=5)
    broken = random_adapter(model_dir, staging / "broken", seed=6)
    (broken / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    with _client(engine, tokens) as c:
        ok = c.post("/v1/admin/adapters/alice/publish", json={"staged": "good"}, headers=adm)
        assert ok.status_code == 200 and ok.json()["current"] == 1
        bad = c.post("/v1/admin/adapters/alice/publish", json={"staged": "broken"}, headers=adm)
        assert bad.status_code == 409 and "not made current" in bad.json()["error"]["message"]
        assert engine.adapters.current_version("alice") == 1  # the good one is still served
        assert engine.adapters.get("alice", 2).status == "failed"
        assert _chat(c, SERVICE).json()["system_fingerprint"] == "v1"
