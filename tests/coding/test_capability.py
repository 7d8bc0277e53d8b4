"""Coding mode from the coding model's declared capability: the embedded default stays
seeded (a 135M answer never reaches freeform), hosted models get freeform, explicit
modes are honoured and say so, and the choice lands in coding_notes.json."""
import json

import pytest

from nanoresearch.coding.capability import capability_of, choose_mode
from nanoresearch.config import Settings, load_settings
from nanoresearch.errors import ConfigError
from nanoresearch.llm.scripted import ScriptedModel
from nanoresearch_app import compose
from tests.coding import competent as C
from tests.coding.scenarios import blueprint


@pytest.mark.parametrize("spec,cap", [("embedded:smollm2", "small"), ("scripted:/x.json", "small"),
                                      ("openai:gpt-4o-mini", "strong"), ("vllm:qwen", "strong"),
                                      ("anthropic:claude", "strong"), ("deepseek:chat", "strong")])
def test_default_capabilities(spec, cap):
    assert capability_of(spec)[0] == cap


def test_declared_capabilities_win_exact_then_glob():
    declared = {"openai:tiny": "small", "scripted:*": "strong"}
    assert capability_of("openai:tiny", declared) == ("small", "models.capabilities['openai:tiny']")
    assert capability_of("scripted:/tmp/a.json", declared)[0] == "strong"
    assert capability_of("openai:gpt-4o", declared)[0] == "strong"


def test_auto_follows_capability_and_explicit_modes_say_why():
    assert choose_mode("auto", "embedded:smollm2").mode == "seeded"
    strong = choose_mode("auto", "openai:gpt-4o")
    assert strong.mode == "free" and "declared strong" in strong.why
    forced = choose_mode("freeform", "embedded:smollm2")
    assert forced.mode == "free" and "set explicitly" in forced.why and "small" in forced.why
    assert choose_mode("method", "openai:x").mode == "method"


def test_config_sections_validate():
    s = load_settings(overrides={"coding": {"mode": "freeform", "search": {"drafts": 3, "parallel": 2}},
                                 "models": {"capabilities": {"scripted:*": "strong"}}})
    assert s.coding.search.drafts == 3 and s.models.capabilities == {"scripted:*": "strong"}
    with pytest.raises(ConfigError, match="coding.mode"):
        load_settings(overrides={"coding": {"mode": "wild"}})
    with pytest.raises(ConfigError, match="capabilities"):
        load_settings(overrides={"models": {"capabilities": {"openai:*": "huge"}}})


def test_embedded_135m_answer_never_reaches_freeform(tmp_path, monkeypatch):
    """The default settings route coding to the embedded model; even when it answers with
    a whole freeform codebase, the agent runs seeded and uses only the method slot."""
    s = Settings(data_dir=tmp_path / "home")
    assert s.models.for_agent("coding") == "embedded:smollm2" and s.coding.mode == "auto"
    looks_free = C.answer(C.co2_files(), "a codebase a 135M model should never get to run")
    monkeypatch.setattr("nanoresearch.llm.registry.llm_for_agent",
                        lambda agent, settings, ledger=None: ScriptedModel([looks_free], cycle_last=True))
    agent = compose.build_agent("coding", s.model_dump_json(), str(tmp_path / "ledger.jsonl"))
    assert agent.mode == "seeded" and not agent.method_code
    art = agent.write(blueprint("co2"), None, [], tmp_path / "code")
    assert art.mode == "seeded" and "nr_common.py" in art.files and "forecast.py" not in art.files
    notes = json.loads(art.files["coding_notes.json"])
    assert notes["mode"] == "seeded" and notes["capability"] == "small"
    assert "embedded:smollm2" in notes["why"] and notes["fallback"] == ""


def test_strong_scripted_model_gets_freeform_by_declaration(tmp_path, monkeypatch):
    s = Settings(data_dir=tmp_path / "home", models={"per_agent": {"coding": "scripted:/m.json"},
                                                     "capabilities": {"scripted:*": "strong"}})
    monkeypatch.setattr("nanoresearch.llm.registry.llm_for_agent",
                        lambda agent, settings, ledger=None: ScriptedModel([C.answer(C.co2_files(), "ar")]))
    agent = compose.build_agent("coding", s.model_dump_json(), str(tmp_path / "ledger.jsonl"))
    art = agent.write(blueprint("co2"), None, [], tmp_path / "code")
    notes = json.loads(art.files["coding_notes.json"])
    assert art.mode == "free" and notes["method_source"] == "llm_files" and "forecast.py" in art.files
    assert notes["capability"] == "strong" and "auto" in notes["why"]


def test_freeform_fallback_is_recorded_not_silent(tmp_path):
    from actors.coding import CodingAgent
    agent = CodingAgent(ScriptedModel(["I cannot write code, sorry", '{"family": "ridge"}'],
                                      cycle_last=True), mode="free")
    art = agent.write(blueprint("co2"), None, [], tmp_path)
    notes = json.loads(art.files["coding_notes.json"])
    assert art.mode == "seeded" and notes["fallback"].startswith("free mode was chosen but seeded ran")
