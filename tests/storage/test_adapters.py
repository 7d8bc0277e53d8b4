from __future__ import annotations

import json
from pathlib import Path
import threading

import pytest

from nanoresearch.errors import UserError
from storage.adapters import AdapterIntegrityError, AdapterRegistry, checksum_dir


def _adapter(tmp_path, name: str, payload: bytes = b"weights") -> str:
    d = tmp_path / name
    d.mkdir()
    (d / "adapter_config.json").write_text(json.dumps({"r": 8}))
    (d / "adapter_model.safetensors").write_bytes(payload)
    return str(d)


def test_publish_versions_current_and_checksum(tmp_path):
    reg = AdapterRegistry(tmp_path / "reg")
    assert reg.current("alice") is None and reg.list("alice") == []
    v1 = reg.publish("alice", _adapter(tmp_path, "a1", b"one"), base_model="smollm2", metrics={"loss": 1.5})
    v2 = reg.publish("alice", _adapter(tmp_path, "a2", b"two"), parent_version=1)
    assert (v1.version, v2.version, v2.parent_version) == (1, 2, 1)
    assert reg.current_version("alice") == 2 and reg.current("alice").status == "published"
    assert reg.get("alice", 1).metrics == {"loss": 1.5}
    path = reg.resolve("alice", 2)
    assert (path / "adapter_model.safetensors").read_bytes() == b"two"
    assert checksum_dir(path) == v2.checksum
    assert not [p for p in reg.user_dir("alice").iterdir() if p.name.startswith(".publish-")]


def test_checksum_mismatch_is_refused(tmp_path):
    reg = AdapterRegistry(tmp_path / "reg")
    reg.publish("alice", _adapter(tmp_path, "a1"))
    (reg.version_dir("alice", 1) / "adapter_model.safetensors").write_bytes(b"tampered")
    with pytest.raises(AdapterIntegrityError, match="checksum"):
        reg.resolve("alice", 1)


def test_rollback_to_parent_and_to_base(tmp_path):
    reg = AdapterRegistry(tmp_path / "reg")
    reg.publish("alice", _adapter(tmp_path, "a1"))
    reg.publish("alice", _adapter(tmp_path, "a2"), parent_version=1)
    back = reg.rollback("alice")
    assert back.version == 1 and reg.current_version("alice") == 1
    assert reg.get("alice", 2).status == "retired"
    assert reg.rollback("alice") is None and reg.current_version("alice") is None
    reg.publish("alice", _adapter(tmp_path, "a3"))
    assert reg.rollback("alice", to_version=2).version == 2
    with pytest.raises(UserError, match="no adapter version 9"):
        reg.rollback("alice", to_version=9)


def test_users_are_isolated(tmp_path):
    reg = AdapterRegistry(tmp_path / "reg")
    reg.publish("alice", _adapter(tmp_path, "a1"))
    assert reg.current("bob") is None
    with pytest.raises(UserError):
        reg.resolve("bob", 1)
    # a record copied into another user's folder is refused: it names its real owner
    import shutil
    reg.user_dir("bob").mkdir()
    shutil.copytree(reg.version_dir("alice", 1), reg.version_dir("bob", 1))
    with pytest.raises(AdapterIntegrityError, match="recorded for user 'alice'"):
        reg.resolve("bob", 1)
    for bad in ("../alice", "a/b", "", ".."):
        with pytest.raises(UserError, match="user id .* is invalid"):
            reg.user_dir(bad)


def test_concurrent_publishes_get_distinct_versions(tmp_path):
    reg = AdapterRegistry(tmp_path / "reg")
    srcs = [_adapter(tmp_path, f"s{i}", bytes([i])) for i in range(6)]
    threads = [threading.Thread(target=reg.publish, args=("alice", s)) for s in srcs]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(v.version for v in reg.list("alice")) == [1, 2, 3, 4, 5, 6]


def test_publish_rejects_non_adapter(tmp_path):
    reg = AdapterRegistry(tmp_path / "reg")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="adapter_config.json"):
        reg.publish("alice", tmp_path / "empty")


def test_publish_refuses_symlinks_and_staged_names_are_single_components(tmp_path):
    """Issue 15, C2: copying followed symlinks, so a staged adapter could publish any
    file the server can read (another user's adapter, a secret) as someone's weights."""
    import os

    reg = AdapterRegistry(tmp_path / "reg")
    secret = tmp_path / "secret.txt"
    secret.write_text("server secret")
    src = Path(_adapter(tmp_path, "linked"))
    os.symlink(secret, src / "extra.bin")
    with pytest.raises(UserError, match="symlink"):
        reg.publish("alice", src)
    assert reg.list("alice") == []
    good = Path(_adapter(reg.staging_dir(), "good"))
    assert reg.staged("good") == good
    for name in ("../good", "good/..", "/etc", "", ".x"):
        with pytest.raises(UserError, match="invalid|no staged"):
            reg.staged(name)
    os.symlink(good, reg.staging_dir() / "alias")
    with pytest.raises(UserError, match="symlink"):
        reg.staged("alias")
