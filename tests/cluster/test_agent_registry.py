"""One declaration per agent: config validation, the composition (builders, actor
resources) and the proxy read the registry; a new agent is one AgentSpec + its builder.
The issue's example, the analysis agent re-declared, shows every reader follow the one
declaration."""
from __future__ import annotations

import json
import sys
import types

import pytest

from nanoresearch import agents as registry
from nanoresearch.config import Settings, load_settings


def test_config_accepts_every_declared_role_and_names_unknown_ones():
    for role in registry.model_roles():
        Settings(models={"per_agent": {role: "scripted:x"}})
    with pytest.raises(Exception, match="unknown agent 'summarizer'"):
        Settings(models={"per_agent": {"summarizer": "scripted:x"}})


def test_agent_resources_come_from_the_declaration_or_the_settings():
    from nanoresearch_app.compose import agent_resources

    s = Settings(cluster={"agent_resources": {"coding": {"CPU": 2, "experiment": 1}}})
    res = agent_resources(s)
    assert set(res) == set(registry.AGENTS)
    assert res["coding"] == {"CPU": 2, "experiment": 1}
    assert res["ideation"] == {"CPU": 1.0} and res["reflection"] == {"CPU": 0.5}


def test_a_new_agent_is_one_declaration_plus_its_builder(monkeypatch, tmp_path):
    from nanoresearch_app import compose

    class Summarizer:  # the agent's class
        def __init__(self, llm):
            self.llm = llm
            self.last = None

        def run(self, text: str) -> str:
            self.last = text[:10]
            return self.llm.complete(text) if hasattr(self.llm, "complete") else text.upper()

    mod = types.ModuleType("tmp_summarizer_agent")
    mod.build = lambda ctx: Summarizer(ctx.llm("summarizer"))
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    spec = registry.AgentSpec("summarizer", ("summarizer",), f"{mod.__name__}:build", {"CPU": 0.25})
    monkeypatch.setattr(registry, "AGENTS", {**registry.AGENTS, "summarizer": spec})
    monkeypatch.setattr(registry, "AGENT_SPECS", (*registry.AGENT_SPECS, spec))
    assert "summarizer" in registry.model_roles()
    s = load_settings(overrides={"data_dir": str(tmp_path)})
    builders = compose.agent_builders(s, tmp_path / "ledger.jsonl")
    agent = builders["summarizer"]()
    assert isinstance(agent, Summarizer)
    assert compose.agent_resources(s)["summarizer"] == {"CPU": 0.25}


def test_unknown_agent_names_the_registry(tmp_path):
    from nanoresearch_app.compose import build_agent
    with pytest.raises(ValueError, match="nanoresearch/agents.py"):
        build_agent("nope", Settings().model_dump_json(), str(tmp_path / "l.jsonl"))


def test_small_model_reviews_once_strong_model_keeps_the_ensemble():
    from nanoresearch_app.agent_builders import reviewer_count

    assert reviewer_count(Settings()) == 1
    assert reviewer_count(Settings(models={"per_agent": {"review": "openai:gpt-4o"}})) == 2
    assert reviewer_count(Settings(budgets={"reviewers": 3})) == 3
    # as the agent's actor sees it: the settings after a JSON round trip
    assert reviewer_count(Settings.model_validate_json(Settings().model_dump_json())) == 1


def _declare(monkeypatch, specs) -> None:
    monkeypatch.setattr(registry, "AGENT_SPECS", tuple(specs))
    monkeypatch.setattr(registry, "AGENTS", {s.name: s for s in specs})


def test_the_analysis_agent_is_one_declaration_plus_its_class(monkeypatch, tmp_path):
    """Take the analysis agent's one declaration out: config validation, the CLI
    composition and the Ray resources all lose it. Declare it again (one AgentSpec; its
    class and builder exist): all of them have it, routed to its own model role."""
    from actors.analysis import AnalysisAgent
    from nanoresearch_app import compose

    script = tmp_path / "analysis.json"
    script.write_text(json.dumps(["{}"]))
    routed = {"data_dir": str(tmp_path), "models": {"per_agent": {"analysis": f"scripted:{script}"}}}
    ledger = tmp_path / "ledger.jsonl"
    others = [s for s in registry.AGENT_SPECS if s.name != "analysis"]

    _declare(monkeypatch, others)
    with pytest.raises(Exception, match="unknown agent 'analysis'"):
        load_settings(overrides=routed)
    s = load_settings(overrides={"data_dir": str(tmp_path)})
    assert "analysis" not in compose.agent_builders(s, ledger)
    assert "analysis" not in compose.agent_resources(s)
    with pytest.raises(ValueError, match="nanoresearch/agents.py"):
        compose.build_agent("analysis", s.model_dump_json(), str(ledger))

    _declare(monkeypatch, [*others, registry.AgentSpec(
        "analysis", ("analysis",), "nanoresearch_app.agent_builders:analysis", {"CPU": 0.5})])
    s = load_settings(overrides=routed)  # config validation accepts its role again
    agent = compose.agent_builders(s, ledger)["analysis"]()
    assert isinstance(agent, AnalysisAgent) and agent.llm.provider == "scripted"  # its own role's model
    assert compose.agent_resources(s)["analysis"] == {"CPU": 0.5}
    assert set(compose.agent_builders(s, ledger)) == set(registry.AGENTS)


@pytest.mark.ray
def test_the_ray_composition_and_the_proxy_take_the_declared_agent(tmp_path):
    """On Ray: the declared analysis agent becomes an actor with its declared resources,
    and its proxy learns from the agent itself which names are data (no list of them)."""
    ray = pytest.importorskip("ray")
    from actors.ray_app import init_ray, start_agents, stop_agents
    from nanoresearch.types import (Blueprint, DatasetSpec, MethodSpec, MetricRecord, RunResult,
                                    RunStatus)
    from nanoresearch_app import compose

    script = tmp_path / "analysis.json"
    script.write_text(json.dumps(["{}"]))
    s = load_settings(overrides={"data_dir": str(tmp_path),
                                 "models": {"per_agent": {"analysis": f"scripted:{script}"}}})
    started = not ray.is_initialized()
    init_ray(num_cpus=2)
    builders = compose.agent_builders(s, tmp_path / "ledger.jsonl")
    res = compose.agent_resources(s)
    agents = start_agents({"analysis": builders["analysis"]}, namespace="t-declared",
                          resources={"analysis": res["analysis"]})
    try:
        proxy = agents["analysis"]
        assert proxy.max_tokens == 160 and proxy.retries == 0  # data, read from the agent
        bp = Blueprint(title="t", datasets=[DatasetSpec(name="wine")], baselines=[MethodSpec(name="lr")],
                       proposed_method=MethodSpec(name="m"), metrics=["accuracy"], primary_metric="accuracy")
        runs = [RunResult(status=RunStatus.SUCCEEDED, metrics=[
            MetricRecord(method=m, dataset="wine", metric="accuracy", value=v, seed=k)
            for k in range(3) for m, v in (("m", 0.9 + k / 100), ("lr", 0.8 + k / 100))])]
        rep = proxy.analyze(bp, runs, tmp_path / "experiment")
        assert {(c.method, c.baseline) for c in rep.comparisons} >= {("m", "lr")}
        assert (tmp_path / "experiment" / "metrics_all.json").is_file()
    finally:
        stop_agents(agents)
        if started:
            ray.shutdown()
