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
