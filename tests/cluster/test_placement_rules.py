"""Placement is decided by what the cluster offers and by settings, never by the driver's
CUDA; workers get no credentials; `submit` ships a portable entrypoint and no secrets."""
from __future__ import annotations

import json

from nanoresearch.ray_runtime import actor_options, planner_resources, trainer_resources, worker_env

HEAD_ONLY = {"CPU": 4.0, "memory": 1e10}
CLUSTER = {"CPU": 76.0, "GPU": 5.0, "planner": 1.0, "trainer": 1.0}  # cluster.yaml, all up


def test_planner_goes_to_the_planner_node_when_the_cluster_has_one():
    assert planner_resources(None, CLUSTER) == {"CPU": 1.0, "planner": 1.0, "GPU": 1.0}
    assert planner_resources(None, HEAD_ONLY) == {"CPU": 1.0}  # a CPU head: a CPU replica
    assert planner_resources(None, {"CPU": 8, "GPU": 1}) == {"CPU": 1.0, "GPU": 1.0}


def test_configured_resources_win_over_the_cluster():
    assert planner_resources({"CPU": 2, "planner": 1}, CLUSTER) == {"CPU": 2, "planner": 1}
    res, n = trainer_resources({"CPU": 4, "GPU": 1}, 2, CLUSTER)
    assert res == {"CPU": 4, "GPU": 1} and n == 2


def test_trainer_workers_fill_the_trainer_node_gpus():
    offers = {"CPU": 48.0, "GPU": 4.0, "trainer": 1.0}
    res, n = trainer_resources(None, None, offers)
    assert n == 4 and res["GPU"] == 1.0 and res["trainer"] * n == 1.0
    assert trainer_resources(None, None, HEAD_ONLY) == ({"CPU": 1.0}, 1)
    # a fake trainer node without GPUs (the local test cluster): one CPU worker on it
    assert trainer_resources(None, None, {"CPU": 3.0, "trainer": 1.0}) == ({"CPU": 1.0, "trainer": 1.0}, 1)


def test_actor_options_split_ray_names():
    assert actor_options({"CPU": 1, "GPU": 1, "planner": 1}) == {
        "num_cpus": 1.0, "num_gpus": 1.0, "resources": {"planner": 1.0}}
    assert actor_options({}) == {"num_cpus": 0.0, "num_gpus": 0.0}


def test_workers_get_no_credentials():
    env = worker_env({"NANORESEARCH_HOME": "/d", "NANORESEARCH_PROVIDERS__OPENAI_API_KEY": "sk-x",
                      "NANORESEARCH_ADMIN_TOKEN": "t", "HF_HUB_OFFLINE": "1", "HF_TOKEN": "hf_x",
                      "OPENAI_API_KEY": "sk-y", "OMP_NUM_THREADS": "1"})
    assert env == {"NANORESEARCH_HOME": "/d", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def test_submit_is_portable_and_ships_no_environment(monkeypatch):
    from nanoresearch_cli.admin import submit_request

    monkeypatch.setenv("NANORESEARCH_PROVIDERS__OPENAI_API_KEY", "sk-secret")
    cmd = submit_request(["run", "--topic", "x y z w"], "http://head:8265", wait=False)
    entry = cmd[cmd.index("--") + 1:]
    assert entry[:3] == ["python", "-m", "nanoresearch_cli"] and entry[3:] == ["run", "--topic", "x y z w"]
    env = json.loads(cmd[cmd.index("--runtime-env-json") + 1])
    assert env["working_dir"] and "env_vars" not in env
    assert "sk-secret" not in " ".join(cmd) and "--no-wait" in cmd
