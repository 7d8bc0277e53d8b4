"""One declaration per agent: config validation, the composition (builders, actor
resources) and the proxy read the registry; a new agent is one AgentSpec + its builder."""
from __future__ import annotations

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
