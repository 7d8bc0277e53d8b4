"""The API deployed on Ray Serve (late-bound FastAPI ingress) answers over real HTTP."""
from __future__ import annotations

import functools
import socket
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.ray

ADMIN = "ray-admin-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def ray_local():
    ray = pytest.importorskip("ray")
    # address="local": always a private cluster, never someone else's running one
    ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=2,
             log_to_driver=False)
    yield ray
    from ray import serve
    serve.shutdown()
    ray.shutdown()


def test_api_on_ray_serve(ray_local, settings, service, tmp_path):
    import ray.cloudpickle
    from ray import serve

    from serve.auth import ApiOptions
    from serve.ray_api import build_api_app

    # the fake lives in a test conftest that replicas cannot import: ship it by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[type(service).__module__])
    factory = functools.partial(type(service), tmp_path / "projects")
    port = _free_port()
    settings.serve.port = port
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_api_app(factory, settings, ApiOptions(admin_token=ADMIN)),
              name="api-test", route_prefix="/")
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=30) as c:
        assert "nanoresearch" in c.get("/").text
        assert "/api/v1/projects" in c.get("/openapi.json").json()["paths"]
        r = c.post("/api/v1/users", json={"user_id": "alice"}, headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 201, r.text
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        assert (settings.data_dir / "api_tokens.json").exists()  # the replica wrote the driver's data dir
        pid = c.post("/api/v1/projects", json={"problem_statement": "Does X help Y?"}, headers=h).json()["project_id"]
        end = time.time() + 30
        while c.get(f"/api/v1/projects/{pid}", headers=h).json()["waiting_feedback_for"] != "ideation":
            assert time.time() < end, "project never reached the ideation feedback point"
            time.sleep(0.2)
        r = c.post(f"/api/v1/projects/{pid}/feedback", json={"phase": "ideation", "text": "ok"}, headers=h)
        assert r.status_code == 201
        assert c.get(f"/api/v1/projects/{pid}").status_code == 401
