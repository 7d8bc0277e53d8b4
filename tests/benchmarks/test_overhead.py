"""Orchestration-overhead accounting: timing wrappers, nesting, restore, and the split of a
cycle's wall time into LLM / model load / experiment / LaTeX / framework."""
from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from benchmarks import orchestration_overhead as oo
from nanoresearch import artifacts as A
from nanoresearch.llm.scripted import FunctionModel
from nanoresearch.types import CodeArtifact, RunResult, RunsRecord, RunStatus
from nanoresearch.workspace import Workspace


def sleepy(s: float) -> FunctionModel:
    def fn(msgs):
        time.sleep(s)
        return "{}"
    return FunctionModel(fn)


def test_timed_llm_and_steps():
    clock = oo.Clock()
    llm = oo.TimedLLM(sleepy(0.05), clock)
    clock.on_event("step_start", {"phase": "ideation", "step": "ideation"})
    llm.generate([{"role": "user", "content": "hi"}])
    llm.generate([{"role": "user", "content": "hi"}])
    clock.on_event("step_done", {"phase": "ideation", "step": "ideation", "seconds": 0.2})
    assert clock.calls == 2 and 0.1 <= clock.t["llm"] < 0.3
    assert clock.steps["ideation/ideation"]["wall"] == 0.2
    assert clock.steps["ideation/ideation"]["llm"] == pytest.approx(clock.t["llm"])
    assert llm.model == "function"


def test_nested_same_category_counts_once():
    clock = oo.Clock()
    inner = oo._timed(lambda: time.sleep(0.05), clock, "model_load")
    outer = oo._timed(lambda: (inner(), time.sleep(0.05)), clock, "model_load")
    outer()
    assert 0.1 <= clock.t["model_load"] < 0.2  # not 0.15 (outer + inner counted twice)


def test_instrumented_wraps_and_restores():
    import actors.writing_build as wb
    import nanoresearch.llm.registry as reg
    import nanoresearch_app.compose as compose

    import nanoresearch.embeddings as emb

    before = (reg.make_llm, wb.compile_pdf, compose.local_planner, emb.HashEmbedder.embed)
    clock = oo.Clock()
    with oo.instrumented(clock):
        assert reg.make_llm is not before[0] and wb.compile_pdf is not before[1]
        from nanoresearch.config import load_settings
        llm = reg.make_llm("scripted:" + _script(), load_settings())
        assert isinstance(llm, oo.TimedLLM)
        llm.generate([{"role": "user", "content": "x"}])
        assert emb.make_embedder("hash").embed(["a b", "c"]).shape[0] == 2
    assert (reg.make_llm, wb.compile_pdf, compose.local_planner, emb.HashEmbedder.embed) == before
    assert clock.calls == 1 and clock.t["embeddings"] > 0


def _script() -> str:
    import tempfile
    p = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    p.write(json.dumps(["{}"]))
    p.close()
    return p.name


def test_split_accounts_for_every_second(tmp_path):
    Workspace(tmp_path / "projects" / "p1").write_json(A.RUNS.path, RunsRecord(
        code=CodeArtifact(files={"run.py": "print(1)"}),
        runs=[RunResult(status=RunStatus.FAILED, duration_s=3.0),
              RunResult(status=RunStatus.SUCCEEDED, duration_s=1.5)]))
    settings = SimpleNamespace(projects_dir=tmp_path / "projects",
                               models=SimpleNamespace(default="embedded:smollm2"))
    final = SimpleNamespace(project_id="p1", status=SimpleNamespace(value="done"))
    clock = oo.Clock()
    clock.t.update(llm=10.0, model_load=2.0, latex=1.0, embeddings=0.75)
    clock.first_step_at = 100.0 + 2.5  # startup 2.5 s, of which 2 s model load
    row = oo.split("embedded", settings, final, clock, total=20.0, t0=100.0)
    s = row["seconds"]
    assert s["experiment"] == 4.5 and s["framework_startup"] == 0.5
    assert s["framework_cycle"] == pytest.approx(20 - 10 - 2 - 0.75 - 4.5 - 1 - 0.5)
    assert sum(s.values()) == pytest.approx(20.0)
    assert row["framework_pct"] == pytest.approx(100 * (0.5 + 1.25) / 20, abs=0.01)
    assert "| llm | 10.00 | 50.0 |" in oo.table([row])
