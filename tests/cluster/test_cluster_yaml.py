"""cluster.yaml passes Ray's own autoscaler config validation, and its node types offer
the resources the code asks for (planner, trainer, agent)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ray = pytest.importorskip("ray")
REPO = Path(__file__).resolve().parents[2]


def test_cluster_yaml_is_valid_for_ray_up():
    from ray.autoscaler._private.util import validate_config

    cfg = yaml.safe_load((REPO / "cluster.yaml").read_text())
    validate_config(cfg)  # raises on a schema error (the same check `ray up` runs)
    types = cfg["available_node_types"]
    assert types["gpu_planner"]["resources"]["planner"] >= 1
    assert types["gpu_trainer"]["resources"]["trainer"] >= 1
    assert types["cpu_worker"]["resources"]["agent"] >= 1
    assert any("AGENT_NODE_RESOURCE=agent" in c for c in cfg["setup_commands"])


def test_a_broken_cluster_yaml_is_caught():
    from ray.autoscaler._private.util import validate_config

    cfg = yaml.safe_load((REPO / "cluster.yaml").read_text())
    cfg["available_node_types"]["head"]["resources"] = "lots"
    with pytest.raises(Exception):
        validate_config(cfg)


def test_the_node_env_file_pins_the_planner_and_trainer_to_their_nodes(tmp_path):
    """The env file cluster.yaml writes on every node parses into settings that ask for the
    `planner` / `trainer` resources (so a Train job's demand scales gpu_trainer up from
    zero), and the head offers no CPU, so nothing that asks for one lands there."""
    import json
    import os
    import subprocess
    import sys

    from nanoresearch.ray_runtime import planner_resources, trainer_resources

    cfg = yaml.safe_load((REPO / "cluster.yaml").read_text())
    assert cfg["available_node_types"]["head"]["resources"]["CPU"] == 0
    write = next(c for c in cfg["setup_commands"] if "nanoresearch.env" in c)
    probe = ("from nanoresearch.config import load_settings; import json; s = load_settings(); "
             "print(json.dumps([s.serve.planner_resources, s.training.resources, s.training.num_workers]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANORESEARCH_")}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(REPO))
    out = subprocess.run(["bash", "-c", f"{write} && . ~/.nanoresearch.env && {sys.executable} -c '{probe}'"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    planner, trainer, workers = json.loads(out.stdout.strip().splitlines()[-1])
    gpu_trainer = cfg["available_node_types"]["gpu_trainer"]["resources"]
    assert planner_resources(planner, {})["planner"] == 1
    res, n = trainer_resources(trainer, workers, {})  # what the Train job asks, no node up yet
    assert n == gpu_trainer["GPU"] and res["GPU"] == 1 and res["trainer"] * n == gpu_trainer["trainer"]
