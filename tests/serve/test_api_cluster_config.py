"""cluster.yaml: valid YAML, valid against Ray's own launcher schema, and consistent with
the project (torch pinned before the project install, settings env vars that exist)."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

CLUSTER = Path(__file__).resolve().parents[2] / "cluster.yaml"


@pytest.fixture(scope="module")
def cfg() -> dict:
    return yaml.safe_load(CLUSTER.read_text())


def test_required_keys_and_node_types(cfg):
    for key in ("cluster_name", "provider", "available_node_types", "head_node_type",
                "setup_commands", "file_mounts", "head_start_ray_commands", "worker_start_ray_commands"):
        assert key in cfg, key
    nodes = cfg["available_node_types"]
    assert cfg["head_node_type"] in nodes
    gpu = {n for n, t in nodes.items() if t["resources"].get("GPU", 0) > 0}
    assert {"gpu_planner", "gpu_trainer"} <= gpu
    assert nodes["gpu_planner"]["resources"]["planner"] == 1
    assert nodes["gpu_trainer"]["resources"]["trainer"] == 1
    assert any(t["resources"].get("GPU", 0) == 0 for n, t in nodes.items() if n != cfg["head_node_type"])
    assert sum(t.get("max_workers", 0) for t in nodes.values()) <= cfg["max_workers"]
    assert cfg["file_mounts"]["~/nanoresearch"] == "."


def test_valid_against_ray_schema(cfg):
    jsonschema = pytest.importorskip("jsonschema")
    import ray.autoscaler
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(cfg, schema)


def test_torch_pinned_before_project_install(cfg):
    cmds = cfg["setup_commands"]
    torch_i = next(i for i, c in enumerate(cmds) if "pip install torch==2.13.0" in c)
    proj_i = next(i for i, c in enumerate(cmds) if "pip install -e" in c and "nanoresearch" in c)
    assert torch_i < proj_i


def test_env_vars_are_real_settings(cfg, monkeypatch):
    env_cmd = next(c for c in cfg["setup_commands"] if "NANORESEARCH_STORAGE__QDRANT_URL" in c)
    pairs = dict(re.findall(r"export (NANORESEARCH_[A-Z_]+)=(\S+?)'", env_cmd))
    assert pairs["NANORESEARCH_STORAGE__BACKEND"] == "server"
    for k, v in pairs.items():
        monkeypatch.setenv(k, v.replace("<QDRANT_HOST>", "qdrant.internal"))
    from nanoresearch.config import load_settings
    s = load_settings()
    assert s.storage.backend == "server" and s.storage.qdrant_url == "http://qdrant.internal:6333"
    assert s.execution.backend == "ray" and str(s.data_dir) == "/mnt/nanoresearch"


def test_shell_commands_parse(cfg):
    cmds = (cfg["setup_commands"] + cfg["head_setup_commands"] + cfg["head_start_ray_commands"]
            + cfg["worker_start_ray_commands"])
    for c in cmds:
        r = subprocess.run(["bash", "-n", "-c", c], capture_output=True, text=True)
        assert r.returncode == 0, (c, r.stderr)


def test_images_are_placeholders(cfg):
    # every ImageId is a placeholder, never a real AMI id someone might launch by accident
    images = [t["node_config"]["ImageId"] for t in cfg["available_node_types"].values()]
    assert all(i.startswith("<") and i.endswith(">") for i in images)


def test_env_file_sources_cleanly(cfg, tmp_path):
    """Ray runs `source ~/.bashrc && ...` before every command: the env file must exit 0
    (also without the optional secrets file) or nothing after it runs."""
    env_cmd = next(c for c in cfg["setup_commands"] if "NANORESEARCH_STORAGE__QDRANT_URL" in c)
    (tmp_path / ".bashrc").write_text("")
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for _ in range(2):  # idempotent: a second `ray up` must not append twice
        subprocess.run(["bash", "-c", env_cmd], env=env, check=True)
    assert (tmp_path / ".bashrc").read_text().count("nanoresearch.env") == 1
    r = subprocess.run(["bash", "-c", "source ~/.bashrc && echo $NANORESEARCH_STORAGE__BACKEND"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "server"
    (tmp_path / ".nanoresearch-secrets.env").write_text("NANORESEARCH_ADMIN_TOKEN=abc\n")
    r = subprocess.run(["bash", "-c", "source ~/.bashrc && echo $NANORESEARCH_ADMIN_TOKEN"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "abc"
