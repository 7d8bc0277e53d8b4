"""The planner's OpenAI-compatible app: in-process (TestClient, no Ray) and, marked
`ray`, behind Ray Serve with the stock `openai` client and a hot swap under load."""
from __future__ import annotations

import threading
import time

import pytest

from serve.planner_engine import PlannerEngine
from serve.planner_log import PlannerLog
from serve.planner_openai import create_planner_api
from storage.adapters import AdapterRegistry
from tests.serve.planner_fixtures import publish_random, random_adapter
from tests.training.tiny import make_tiny_model_dir

MSGS = [{"role": "user", "content": "Task: classify digits"}]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny-openai"))


@pytest.fixture()
def engine(model_dir, tmp_path):
    return PlannerEngine(model_dir, AdapterRegistry(tmp_path / "adapters"), PlannerLog(tmp_path / "data"))


ADMIN = "planner-admin-token-0123456789"
SERVICE = "nrs_service-token-for-tests-0123456789"


@pytest.fixture()
def tokens(tmp_path):
    from serve.auth import TokenAuth
    return TokenAuth(tmp_path / "api_tokens.json")


@pytest.fixture()
def client(engine, tokens):
    from fastapi.testclient import TestClient

    from serve.planner_openai import PlannerAuth
    auth = PlannerAuth.create(tokens, SERVICE, ADMIN)
    with TestClient(create_planner_api(engine, prefix="/v1", auth=auth)) as c:
        yield c


SVC = {"Authorization": f"Bearer {SERVICE}"}
ADM = {"Authorization": f"Bearer {ADMIN}"}


def _chat(client, model="planner", headers=None, **kw):
    return client.post("/v1/chat/completions", json={"model": model, "messages": MSGS, "max_tokens": 4},
                       headers={**SVC, **(headers or {})}, **kw)


def test_chat_models_and_user_selection(client, engine, model_dir, tmp_path):
    publish_random(engine.adapters, model_dir, tmp_path, "alice", seed=1)
    base = _chat(client).json()
    assert base["object"] == "chat.completion" and base["system_fingerprint"] == "base"
    assert base["usage"]["completion_tokens"] <= 4
    by_model = _chat(client, "planner:alice").json()
    by_header = _chat(client, headers={"X-User-Id": "alice", "X-Project-Id": "p1"}).json()
    by_mux = _chat(client, headers={"serve_multiplexed_model_id": "alice@v1"}).json()
    assert by_model["system_fingerprint"] == by_header["system_fingerprint"] == by_mux["system_fingerprint"] == "v1"
    assert by_model["choices"][0]["message"]["content"] == by_header["choices"][0]["message"]["content"]
    calls = engine.planner_log.calls("alice")
    assert len(calls) == 3 and calls[1].project_id == "p1"
    assert client.get("/v1/models").json()["data"][0]["id"] == "planner"
    bad = _chat(client, "gpt-4")
    assert bad.status_code == 400 and "unknown model" in bad.json()["error"]["message"]


def _staged(engine, model_dir, name: str, seed: int):
    return random_adapter(model_dir, engine.adapters.staging_dir() / name, seed=seed)


def test_admin_routes(client, engine, model_dir, tmp_path):
    _staged(engine, model_dir, "a4", seed=4)
    assert client.post("/v1/admin/adapters/alice/publish", json={"staged": "a4"}).status_code == 401
    bad = client.post("/v1/admin/adapters/alice/publish", json={"staged": "a4"}, headers=SVC)
    assert bad.status_code == 401  # the service token plans; it does not administer
    r = client.post("/v1/admin/adapters/alice/publish", json={"staged": "a4"}, headers=ADM).json()
    assert r["current"] == 1 and r["loaded"] == 1
    client.post("/v1/admin/adapters/alice/publish", json={"staged": "a4", "parent_version": 1}, headers=ADM)
    assert client.post("/v1/admin/adapters/alice/load", json={"version": 1}, headers=ADM).json()["loaded"] == 1
    assert _chat(client, "planner:alice").json()["system_fingerprint"] == "v1"
    assert client.post("/v1/admin/adapters/alice/unload", headers=ADM).json()["loaded"] is None
    st = client.post("/v1/admin/adapters/alice/rollback", json={}, headers=ADM).json()
    assert st["current"] is None and st["loaded"] is None
    assert client.post("/v1/admin/adapters/alice/load", json={"version": 7}, headers=ADM).status_code == 400


@pytest.mark.ray
@pytest.mark.timeout(300)
def test_serve_route_with_openai_client_and_hot_swap(model_dir, tmp_path, settings):
    import ray
    from openai import OpenAI
    from ray import serve

    from serve.ray_planner import deploy_planner

    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings.model_copy(update={"serve": settings.serve.model_copy(update={"port": port})})
    started_ray = not ray.is_initialized()
    try:
        deploy_planner(settings, model_dir=str(model_dir), route_prefix="/v1")
        reg = AdapterRegistry(settings.adapters_dir)
        publish_random(reg, model_dir, tmp_path, "alice", seed=1)
        from serve.auth import service_token
        oa = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=service_token(settings.data_dir),
                    max_retries=0)
        anon = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="nr_not-a-real-token-0000", max_retries=0)
        with pytest.raises(Exception, match="401|unknown or revoked"):
            anon.chat.completions.create(model="planner:alice", messages=MSGS, max_tokens=2)
        first = oa.chat.completions.create(model="planner:alice", messages=MSGS, max_tokens=4)
        assert first.system_fingerprint == "v1" and first.choices[0].message.content is not None
        base = oa.chat.completions.create(model="planner", messages=MSGS, max_tokens=4,
                                          extra_headers={"X-User-Id": "bob"})
        assert base.system_fingerprint == "base"
        assert [m.id for m in oa.models.list().data] == ["planner"]

        seen, errors, stop = [], [], threading.Event()

        def hammer():
            while not stop.is_set():
                try:
                    seen.append(oa.chat.completions.create(model="planner:alice", messages=MSGS,
                                                           max_tokens=3).system_fingerprint)
                except Exception as e:  # noqa: BLE001
                    errors.append(e)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        [t.start() for t in threads]
        time.sleep(1.0)
        publish_random(reg, model_dir, tmp_path, "alice", seed=2)
        nxt = oa.chat.completions.create(model="planner:alice", messages=MSGS, max_tokens=2)
        time.sleep(1.0)
        stop.set()
        [t.join() for t in threads]
        assert not errors, errors[:3]
        assert nxt.system_fingerprint == "v2"
        assert "v1" in seen and "v2" in seen and seen[-1] == "v2"
    finally:
        serve.delete("planner")
        if started_ray:
            serve.shutdown()
            ray.shutdown()


def test_engine_choice_without_vllm(settings):
    import importlib.util

    from nanoresearch.errors import UserError
    from serve.ray_planner import choose_engine

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    assert choose_engine(settings) == "transformers"
    s = settings.model_copy(update={"serve": settings.serve.model_copy(update={"planner_engine": "vllm"})})
    with pytest.raises(UserError, match="vllm is not installed"):
        choose_engine(s)
