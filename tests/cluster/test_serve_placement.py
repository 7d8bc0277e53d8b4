"""The real planner deployment (serve/ray_planner.py) on a multi-node Ray cluster on this
machine: with `serve.planner_resources` asking for the `planner` resource, Serve places
its replica on the planner node, not on the CPU node with more free CPUs nor on the
trainer node, and the OpenAI-compatible route answers from there. The replica loads a
tiny random-initialised Llama with SmolLM2's tokenizer (tests/training/tiny.py), so no
real model is loaded: the deployment class, its resource request, Serve's placement, the
engine and the HTTP route are the real ones."""
from __future__ import annotations

import json
import socket
import urllib.request

import pytest

ray = pytest.importorskip("ray")

from nanoresearch.config import Settings  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.timeout(900)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, connect=True, head_node_args={"num_cpus": 0})
    nodes = {"cpu": c.add_node(num_cpus=2, resources={"agent": 1}),
             "planner": c.add_node(num_cpus=1, resources={"planner": 1}),
             "trainer": c.add_node(num_cpus=1, resources={"trainer": 1})}
    c.wait_for_nodes()
    yield c, nodes
    from ray import serve
    serve.shutdown()
    ray.shutdown()
    c.shutdown()


def test_the_planner_replica_lands_on_the_planner_node_and_answers(cluster, tmp_path):
    from serve.auth import service_token
    from serve.ray_planner import deploy_planner, planner_running
    from tests.training.tiny import make_tiny_model_dir

    c, nodes = cluster
    s = Settings(data_dir=str(tmp_path / "data"),
                 serve={"port": _free_port(), "planner_engine": "transformers",
                        "planner_resources": {"CPU": 1, "planner": 1}})
    tiny = make_tiny_model_dir(tmp_path / "tiny")
    handle = deploy_planner(s, model_dir=str(tiny))
    where = handle.placement.remote().result(timeout_s=120)
    assert where["node_id"] == nodes["planner"].node_id
    assert where["resources"].get("planner") == 1.0 and where["resources"].get("CPU") == 1.0
    assert where["engine"] == "PlannerEngine" and where["model"] == tiny.name
    assert planner_running()
    # the route on this node's Serve proxy reaches that replica; the tiny model generates
    body = json.dumps({"model": "planner:alice", "max_tokens": 4,
                       "messages": [{"role": "user", "content": "Plan a study."}]}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{s.serve.port}/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {service_token(s.data_dir)}"})
    with urllib.request.urlopen(req, timeout=120) as r:
        out = json.loads(r.read())
    assert out["usage"]["completion_tokens"] >= 1 and out["system_fingerprint"] == "base"
