"""The real embedded SmolLM2 model, offline: text, real token counts, schema-valid JSON.

Slow (loads the model; the GGUF -> HF conversion runs once per test session because the
`settings` fixture shares one models dir across tests).
"""
from __future__ import annotations

import importlib.util
import json

import pytest
from pydantic import BaseModel, Field

from nanoresearch.llm.embedded import clear_engine_cache, ensure_hf_model
from nanoresearch.llm.engines.hf_convert import CHECKSUM_FILE, _valid
from nanoresearch.llm.engines.paths import smollm2_gguf
from nanoresearch.llm.ledger import Ledger
from nanoresearch.llm.registry import make_llm
from nanoresearch.llm.structured import generate_structured

pytestmark = pytest.mark.slow
ENGINES = ["transformers"] + (["llama_cpp"] if importlib.util.find_spec("llama_cpp") else [])


class PaperIdea(BaseModel):
    title: str = Field(min_length=3, max_length=150)
    keywords: list[str] = Field(min_length=1, max_length=5)


@pytest.fixture()
def engine_settings(settings, request):
    settings.providers.embedded_engine = request.param
    yield settings
    clear_engine_cache()


@pytest.mark.parametrize("engine_settings", ENGINES, indirect=True)
def test_embedded_model_generates_text_and_schema_valid_json(engine_settings):
    ledger = Ledger()
    llm = make_llm("embedded:smollm2", engine_settings, agent="ideation", ledger=ledger)
    assert llm.inner.engine == engine_settings.providers.embedded_engine
    comp = llm.generate([{"role": "user", "content": "What is the capital of France? "
                                                      "Answer in one short sentence."}],
                        max_tokens=24)
    assert "Paris" in comp.text
    assert comp.usage.prompt_tokens > 5 and 0 < comp.usage.completion_tokens <= 24

    idea, jcomp = generate_structured(
        llm, [{"role": "user", "content": "Propose a research paper on graph neural networks "
                                          "for molecules: a title and three keywords."}],
        PaperIdea, retries=2, max_tokens=96)
    assert PaperIdea.model_validate(json.loads(jcomp.text)) == idea
    assert len(idea.title) >= 3 and idea.keywords
    summary = ledger.summary()
    assert summary["calls"] >= 2 and summary["per_agent"]["ideation"]["tokens"] > 0


def test_transformers_token_counts_and_batch_are_real(settings):
    settings.providers.embedded_engine = "transformers"
    try:
        llm = make_llm("embedded:smollm2", settings)
        msgs = [[{"role": "user", "content": "Say hello."}],
                [{"role": "user", "content": "Name one prime number greater than ten."}]]
        single = llm.generate(msgs[0], max_tokens=12)
        batch = llm.generate_batch(msgs, max_tokens=12)
        tok = llm.tokenizer
        prompt = tok.apply_chat_template(msgs[0], tokenize=False, add_generation_prompt=True)
        assert single.usage.prompt_tokens == len(tok(prompt, add_special_tokens=False)["input_ids"])
        # left padding must not change a greedy answer or its counts
        assert batch[0].text == single.text and batch[0].usage == single.usage
        assert batch[1].usage.prompt_tokens > batch[0].usage.prompt_tokens
    finally:
        clear_engine_cache()


def test_hf_conversion_is_reused_and_checksummed(settings):
    path = ensure_hf_model(settings)  # converted already by the tests above, or now
    assert path == settings.models_dir / "smollm2-hf"
    assert (path / "config.json").exists() and (path / CHECKSUM_FILE).exists()
    assert "quantization_config" not in json.loads((path / "config.json").read_text())
    assert ensure_hf_model(settings) == path and _valid(path, smollm2_gguf())
    meta = json.loads((path / CHECKSUM_FILE).read_text())
    tampered = dict(meta, weights_sha256="0" * 64)
    (path / CHECKSUM_FILE).write_text(json.dumps(tampered))
    try:
        assert not _valid(path, smollm2_gguf())  # a bad copy would be converted again
    finally:
        (path / CHECKSUM_FILE).write_text(json.dumps(meta))


@pytest.mark.skipif(not importlib.util.find_spec("llama_cpp"), reason="llama-cpp-python not installed")
def test_llama_cpp_prompt_processing_keeps_to_the_configured_threads(settings):
    """Prompt processing ("batch") threads follow embedded_threads: unset, llama-cpp-python
    takes every CPU, and engines that are meant to share the cores spin against each other."""
    from nanoresearch.llm.engines.llama_cpp_engine import LlamaCppLLM
    llm = LlamaCppLLM(smollm2_gguf(), threads=1)
    assert llm.llama.context_params.n_threads == 1
    assert llm.llama.context_params.n_threads_batch == 1
