"""StoreService from settings: restart persistence, JSONL, concurrent callers through the
single owner (threads here; a Ray actor in the `ray` test), and real MiniLM (slow)."""
from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from nanoresearch.config import load_settings
from nanoresearch.embeddings import HashEmbedder, make_embedder
from nanoresearch.errors import UserError
from nanoresearch.types import MemoryEntry, SkillEntry
from storage.service import open_store


def make_settings(tmp_path, backend="edge", embedder="hash"):
    return load_settings(overrides={"data_dir": str(tmp_path / "data"),
                                    "storage": {"backend": backend, "embedder": embedder}})


def rule(i: int, **kw) -> SkillEntry:
    return SkillEntry(id=f"s{i}", stage="coding", name=f"rule number {i}",
                      instructions=[f"step {i} for topic {i * 7}"], **kw)


@pytest.mark.parametrize("backend", ["edge", "local"])
def test_open_store_persists_across_restart(tmp_path, backend):
    settings = make_settings(tmp_path, backend)
    svc = open_store(settings)
    svc.add_skills([rule(1), rule(2, scope="ana")])
    svc.add_memories([MemoryEntry(id="m1", user_id="ana", content="prefers pytorch", category="preference")])
    svc.record_skill_usage("s1", True)
    svc.close()
    svc = open_store(settings)
    try:
        assert svc.get_skill("s1").usage_count == 1
        assert [s.id for s in svc.list_skills(user_id="ana")] and len(svc.list_skills()) == 1
        assert svc.retrieve_memories("pytorch", "ana")[0].id == "m1"
        assert svc.get_memory("m1", "bob") is None and not svc.delete_memory("m1", "bob")
        with pytest.raises(UserError, match="another user"):
            svc.delete_skill("s2", user_id="bob")
        with pytest.raises(UserError, match="global curated"):  # M1: shared by every user
            svc.delete_skill("s1", user_id="bob")
        assert svc.get_skill("s1") is not None
    finally:
        svc.close()


def test_embedded_store_has_one_owner(tmp_path):
    settings = make_settings(tmp_path)
    svc = open_store(settings)
    try:
        code = ("from nanoresearch.config import load_settings; from storage.service import open_store;"
                f"open_store(load_settings(overrides={{'data_dir': {str(tmp_path / 'data')!r}, "
                "'storage': {'embedder': 'hash'}}))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        # the second process gets RunFailure naming the fix (the storage actor)
        assert out.returncode != 0 and "RunFailure" in out.stderr and "storage actor" in out.stderr
    finally:
        svc.close()


def test_export_import_through_the_service(tmp_path):
    svc = open_store(make_settings(tmp_path))
    svc.add_skills([rule(i) for i in range(5)])
    svc.add_memories([MemoryEntry(user_id="ana", content=f"fact {i} about xyz{i}") for i in range(3)])
    assert svc.export_jsonl(tmp_path / "dump") == {"skills": 5, "memories": 3}
    svc.close()
    other = open_store(make_settings(tmp_path / "fresh"))
    try:
        assert other.import_jsonl(tmp_path / "dump") == {"skills": 5, "memories": 3}
        assert other.stats()["skills"] == 5 and other.get_skill("s3").name == "rule number 3"
    finally:
        other.close()


def test_concurrent_threads_through_one_service(tmp_path):
    svc = open_store(make_settings(tmp_path))
    svc.add_skills([rule(0)])
    errors = []

    def worker(n: int):
        try:
            for j in range(10):
                svc.record_skill_usage("s0", success=j % 2 == 0)
                svc.add_memories([MemoryEntry(user_id=f"u{n}", content=f"thread {n} item {j} zq{n}x{j}")])
                got = svc.retrieve_memories(f"thread {n} item {j}", f"u{n}", k=3)
                assert got and all(m.user_id == f"u{n}" for m in got)
        except Exception as e:  # surfaced below; a thread's assert would be lost otherwise
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        s = svc.get_skill("s0")
        assert s.usage_count == 60 and s.success_count == 30 and s.failure_count == 30
        assert svc.stats()["memories"] == 60
    finally:
        svc.close()


def test_hash_embedder_is_deterministic_and_normalised():
    e = HashEmbedder(dim=64)
    a, b = e.embed(["add a StandardScaler", "add a StandardScaler"]), e.embed(["add a StandardScaler"])
    assert a.dtype == np.float32 and a.shape == (2, 64)
    assert np.allclose(a[0], b[0]) and np.isclose(np.linalg.norm(a[0]), 1.0)
    sims = e.embed(["scale the features", "scale features", "weather in paris"])
    assert sims[0] @ sims[1] > sims[0] @ sims[2]
    assert make_embedder("hash") is make_embedder("hash")
    with pytest.raises(UserError):
        make_embedder("word2vec")


@pytest.mark.ray
def test_ray_actor_serves_concurrent_callers(tmp_path):
    ray = pytest.importorskip("ray")
    from storage.ray_store import RemoteStore, connect_store

    settings = make_settings(tmp_path)
    ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=2,
             namespace="test-storage", ignore_reinit_error=True)
    try:
        store = connect_store(settings, name="store-under-test")
        assert isinstance(store, RemoteStore)
        store.add_skills([rule(0)])

        @ray.remote(num_cpus=0)
        def caller(s, n):
            for _ in range(5):
                s.record_skill_usage("s0", True)
            s.add_memories([MemoryEntry(user_id=f"u{n}", content=f"from task {n}")])
            return [m.user_id for m in s.retrieve_memories("from task", f"u{n}")]

        results = ray.get([caller.remote(store, n) for n in range(4)])
        assert results == [[f"u{n}"] for n in range(4)]
        assert store.get_skill("s0").usage_count == 20
        with pytest.raises(AttributeError):
            store._lock  # noqa: B018 - private members are not exported
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_minilm_ranks_paraphrases(tmp_path):
    svc = open_store(make_settings(tmp_path, embedder="minilm"))
    try:
        svc.add_skills([
            SkillEntry(id="conv", stage="debugging", name="convergence warning",
                       trigger="sklearn ConvergenceWarning on unscaled features",
                       instructions=["add StandardScaler before LogisticRegression"]),
            SkillEntry(id="oom", stage="debugging", name="cuda out of memory",
                       trigger="CUDA OOM during training", instructions=["halve the batch size"]),
        ])
        top = svc.retrieve_skills("logistic regression did not converge", stage="debugging", k=1)
        assert top[0].id == "conv"
        assert svc.retrieve_skills("GPU memory exhausted", k=1)[0].id == "oom"
    finally:
        svc.close()


def test_profile_show_lists_what_was_learned_with_ids(tmp_path):
    import io

    from rich.console import Console

    from nanoresearch.config import Settings
    from nanoresearch.types import MemoryEntry, UserProfile
    from nanoresearch_cli.admin import profile_command
    from storage.requirements import requirement_memories
    from storage.service import open_store

    s = Settings(data_dir=tmp_path)
    s.storage.embedder = "hash"
    svc = open_store(s)
    try:
        svc.save_profile(UserProfile(user_id="ana"))
        svc.add_memories([*requirement_memories("use logistic regression as a baseline", "ana", "p1"),
                          MemoryEntry(user_id="ana", category="failed_direction", content="refuted hypothesis: x")])
        got = svc.learned("ana")
        assert got["requirements"][0]["form"]["value"] == "logistic regression"
        assert got["memories_by_category"] == {"requirement": 1, "failed_direction": 1}
        assert svc.learned("bob")["requirements"] == []
    finally:
        svc.close()
    buf = io.StringIO()
    assert profile_command(s, "show", "ana", Console(file=buf, width=200)) == 0
    out = buf.getvalue()
    assert "logistic regression" in out and '"adapters": []' in out and "memories delete" in out


def test_adapters_command_lists_versions_and_rolls_back(tmp_path):
    """`nanoresearch adapters list|rollback`: the served version is marked; a rollback
    serves the parent, then the base model, and says so; nothing to roll back is an error."""
    import io
    import json

    from rich.console import Console

    from nanoresearch.config import Settings
    from nanoresearch.errors import UserError
    from nanoresearch_cli.main import main
    from storage.adapters import AdapterRegistry

    s = Settings(data_dir=tmp_path / "data")
    reg = AdapterRegistry(s.adapters_dir)
    for i in (1, 2):
        src = tmp_path / f"a{i}"
        src.mkdir()
        (src / "adapter_config.json").write_text(json.dumps({"r": 8}))
        (src / "adapter_model.safetensors").write_bytes(b"w%d" % i)
        reg.publish("ana", src, parent_version=1 if i == 2 else None, metrics={"loss": 1.0 / i})
    from nanoresearch_cli.admin import adapters_command

    buf = io.StringIO()
    con = Console(file=buf, width=200)
    assert adapters_command(s, "list", "ana", None, con) == 0
    assert "served: v2" in buf.getvalue() and "v2 *" in buf.getvalue() and "loss 0.5" in buf.getvalue()
    assert adapters_command(s, "rollback", "ana", None, con) == 0
    assert reg.current_version("ana") == 1 and "now served adapter v1" in buf.getvalue()
    assert adapters_command(s, "rollback", "ana", None, con) == 0
    assert reg.current_version("ana") is None and "now served the base model" in buf.getvalue()
    with pytest.raises(UserError, match="no published adapter"):
        adapters_command(s, "rollback", "ana", None, con)
    assert main(["adapters", "rollback", "--user", "bob", "--set", f"data_dir={tmp_path / 'data'}"]) == 2
