"""A multi-node Ray cluster on this machine (ray.cluster_utils.Cluster): CPU nodes marked
with the `agent` resource, a `planner` node and a `trainer` node, as cluster.yaml
declares them. The agents land on CPU nodes, the planner replica's request on the planner
node, the SDPO Train workers on the trainer node, and killing the node of a running
orchestrator loses no finished step. Nodes are small and the agents cheap (2 shared
cores): placement is what is tested, not the models."""
from __future__ import annotations

import functools
import json

import pytest

ray = pytest.importorskip("ray")

from actors import ray_orchestrator as ro  # noqa: E402
from actors.ray_app import agent_nodes, start_agents, stop_agents  # noqa: E402
from nanoresearch.config import Settings  # noqa: E402
from nanoresearch.types import Feedback, Phase, ProjectState, ResearchTopic, StepStatus  # noqa: E402
from nanoresearch.workspace import Workspace  # noqa: E402
from tests.cluster.cycles import Echo, scripted_cycle  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, connect=True, head_node_args={"num_cpus": 0})
    nodes = {"cpu": c.add_node(num_cpus=3, resources={"agent": 1}),
             "planner": c.add_node(num_cpus=1, resources={"planner": 1}),
             "trainer": c.add_node(num_cpus=1, resources={"trainer": 1})}
    c.wait_for_nodes()
    yield c, nodes
    ray.shutdown()
    c.shutdown()


def test_agents_run_on_cpu_nodes_with_their_declared_resources(cluster):
    from nanoresearch_app.compose import agent_resources

    c, nodes = cluster
    res = agent_resources(Settings(cluster={"agent_node_resource": "agent"}))
    builders = {n: functools.partial(Echo, n) for n in ("ideation", "coding", "reflection")}
    agents = start_agents(builders, namespace="t-place", resources=res)
    try:
        assert set(agent_nodes(agents).values()) == {nodes["cpu"].node_id}
        assert agents["coding"].where() == nodes["cpu"].node_id
        assert agents["coding"].calls == 1  # a data attribute, learnt from the object
        assert res["coding"] == {"CPU": 1.0, "agent": 0.01}
    finally:
        stop_agents(agents)


def test_planner_replica_asks_for_the_planner_node(cluster):
    from serve.ray_planner import planner_deployment

    c, nodes = cluster
    opts = planner_deployment(Settings()).ray_actor_options  # decided by the cluster's offer
    assert opts["resources"] == {"planner": 1.0} and opts["num_gpus"] == 0
    probe = ray.remote(Echo).options(**opts).remote("planner")
    assert ray.get(probe.where.remote()) == nodes["planner"].node_id
    ray.kill(probe)


def _where(config: dict) -> None:
    from pathlib import Path
    Path(config["out"]).write_text(ray.get_runtime_context().get_node_id())


def test_sdpo_train_workers_run_on_the_trainer_node(cluster, tmp_path):
    from ray.train import RunConfig
    from ray.train.torch import TorchTrainer

    from training.ray_job import sdpo_scaling

    c, nodes = cluster
    scaling, torch_config = sdpo_scaling(Settings())
    assert scaling.resources_per_worker == {"CPU": 1.0, "trainer": 1.0} and not scaling.use_gpu
    out = tmp_path / "node.txt"
    TorchTrainer(_where, train_loop_config={"out": str(out)}, scaling_config=scaling,
                 torch_config=torch_config,
                 run_config=RunConfig(name="placement", storage_path=str(tmp_path / "results"))).fit()
    assert out.read_text() == nodes["trainer"].node_id


def test_killing_the_orchestrators_node_loses_no_finished_step(cluster, tmp_path):
    c, _ = cluster
    homes = [c.add_node(num_cpus=1, resources={"orch": 1}) for _ in range(2)]
    c.wait_for_nodes()
    state = ProjectState(project_id="p-kill", user_id="u1",
                         topic=ResearchTopic(problem_statement="does scaling help?", domain="tabular"))
    root, gate = tmp_path / "projects", tmp_path / "gate"
    cycle = functools.partial(scripted_cycle, str(root), state.model_dump_json(), str(gate))
    handle = ro.launch(state.project_id, root / "p-kill" / "events.jsonl", cycle, relay=True,
                       resources={"CPU": 0.5, "orch": 0.01})
    seen, killed = [], []

    def on_event(kind: str, data: dict) -> None:
        seen.append((kind, data.get("step") or data.get("phase")))
        if kind == "step_start" and data.get("step") == "run" and not killed:
            node_id = ray.get(handle.ping.remote())["node"]
            killed.append(next(n for n in homes if n.node_id == node_id))
            c.remove_node(killed[0])  # mid-step: ideation and coding are finished
            gate.touch()

    def answer(data: dict) -> Feedback:
        return Feedback(user_id="u1", project_id="p-kill", phase=Phase(data["phase"]),
                        text=f"note on {data['phase']}", source="cli")

    result, error = ro.follow(handle, on_event, answer=answer)
    assert error is None and killed
    assert json.loads(result)["status"] == "done"
    after = seen[seen.index(("orchestrator_restarted", None)):]
    assert ("phase_skipped", "ideation") in after and ("step_skipped", "coding") in after
    assert ("step_done", "run") in after
    ws = Workspace(root / "p-kill")
    assert all(ws.manifest(ph).status == StepStatus.DONE for ph in Phase)
    fb = json.loads((root / "p-kill" / "writing" / "feedback.json").read_text())
    assert fb["feedback"]["text"] == "note on writing"  # relayed from this driver after the restart
    survivor = next(n for n in homes if n is not killed[0])
    assert ray.get(handle.ping.remote())["node"] == survivor.node_id
