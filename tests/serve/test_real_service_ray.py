"""The HTTP API and the web page against the REAL service deployed on Ray Serve (issue 20).

One module-scoped deployment on a private local Ray: the API replica (serve/ray_api.py)
builds `SystemProjectService` with Ray on, so the project it starts runs in its detached
orchestrator actor, with every agent a Ray actor and the store its own actor; the model
is the competent stand-in (an OpenAI-compatible server in this process). The same checks
as the in-process run (tests/serve/real_checks.py) then read every panel over the Serve
proxy's real HTTP, and headless Chromium reads the page from it. Progress from inside the
steps (literature, model calls, the run and its output, LaTeX passes) must reach the page
from the agents' processes too.
"""
from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

import pytest

from tests.serve.browser import CHROMIUM
from tests.serve.real_checks import (
    check_competent_page, check_competent_research, check_paper_pages, check_progress_events,
    check_reviews_route, check_served_inert, check_status, check_view, wait_done,
)
from tests.serve.test_real_service import ADMIN, TOPIC, competent_settings

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(1800)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def on_serve(tmp_path_factory):
    """(httpx client on the Serve proxy, base url, headers, project id, workspace, model)."""
    ray = pytest.importorskip("ray")
    httpx = pytest.importorskip("httpx")
    from ray import serve

    from nanoresearch.ray_runtime import NAMESPACE
    from nanoresearch_app.service import SystemProjectService
    from serve.auth import ApiOptions
    from serve.ray_api import build_api_app
    from tests.serve.competent_model import competent as model_server

    tmp = tmp_path_factory.mktemp("serve")
    model = model_server()
    port = _free_port()
    settings = competent_settings(tmp, model.url, serve={"host": "127.0.0.1", "port": port})
    # a private cluster (never someone else's); logical CPUs for the project's actors
    ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=16,
             namespace=NAMESPACE, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        factory = functools.partial(SystemProjectService, settings)  # Ray on: the replica launches actors
        serve.run(build_api_app(factory, settings, ApiOptions(admin_token=ADMIN)), name="api-real",
                  route_prefix="/")
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as client:
            r = client.post("/api/v1/users", json={"user_id": "ana", "name": "Ana"},
                            headers={"Authorization": f"Bearer {ADMIN}"})
            assert r.status_code == 201, r.text
            headers = {"Authorization": f"Bearer {r.json()['token']}"}
            pid = client.post("/api/v1/projects", json=TOPIC, headers=headers).json()["project_id"]
            wait_done(client, pid, headers)
            yield client, base, headers, pid, settings.projects_dir / pid, model
    finally:
        serve.shutdown()
        ray.shutdown()
        model.close()


def test_api_on_serve_reads_the_real_project(on_serve):
    client, _, headers, pid, root, _ = on_serve
    check_status(client, headers, pid, TOPIC)
    check_view(client, headers, pid, root)
    check_paper_pages(client, headers, pid)
    check_reviews_route(client, headers, pid, root)
    check_served_inert(client, headers, pid, root)
    assert client.get(f"/api/v1/projects/{pid}").status_code == 401


def test_the_model_wrote_the_research_run_by_actors(on_serve):
    client, _, headers, pid, root, model = on_serve
    check_competent_research(client, headers, pid, root, model)
    # the cycle ran in the orchestrator actor: its {kind, time, data} envelopes are in the file
    assert '"run": ' in (root / "events.jsonl").read_text().splitlines()[0]


def test_progress_from_the_agents_processes_reaches_the_page(on_serve):
    """The agents are Ray actors in other processes: their literature searches, model calls,
    the run and its output and the LaTeX passes still reach events.jsonl and the status."""
    client, _, headers, pid, root, _ = on_serve
    check_progress_events(root)
    kinds = {e["kind"] for e in client.get(f"/api/v1/projects/{pid}", headers=headers).json()["events"]}
    assert kinds & {"llm_call", "latex_pass", "token_rate"}, kinds


def test_knowledge_lists_what_reflection_distilled_and_deletes(on_serve):
    client, _, headers, _, _, _ = on_serve
    k = client.get("/api/v1/knowledge", headers=headers).json()
    mine = [s for s in k["skills"] if s["name"] == "Scale before distance-based models"]
    assert mine, [s["name"] for s in k["skills"]]  # the competent reflection's skill, the user's own
    assert any("RBF-SVM on standardised features" in m["content"] for m in k["memories"]), k["memories"]
    assert client.delete(f"/api/v1/skills/{mine[0]['id']}", headers=headers).status_code == 204
    after = client.get("/api/v1/knowledge", headers=headers).json()
    assert mine[0]["id"] not in [s["id"] for s in after["skills"]]


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed (scripts/install_system.sh)")
def test_page_from_serve_shows_the_research(on_serve, tmp_path):
    _, base, headers, pid, root, _ = on_serve
    shots = Path(os.environ.get("NR_WEB_SCREENSHOT_DIR", tmp_path))
    check_competent_page(base, headers["Authorization"].split()[1], pid, root, shots,
                         tmp_path / "chromium-profile", prefix="serve")
