"""XGrammar-constrained decoding on a tiny random model with SmolLM2's real tokenizer:
any JSON Schema (nested objects, arrays of objects, enums, bounds, optional fields)
comes back valid from ONE generate() call at every token budget that can hold it, a
LoRA adapter stays active under the grammar, and an uncompilable schema says so."""
from __future__ import annotations

import json
from typing import Literal

import pytest
import torch
from pydantic import BaseModel, Field

from tests.training.tiny import make_tiny_model_dir


class Step(BaseModel):
    action: str = Field(max_length=60)
    tool: Literal["python", "shell", "search"]
    minutes: int = Field(ge=1, le=120)


class Plan(BaseModel):
    goal: str
    steps: list[Step] = Field(min_length=2, max_length=4)
    tags: list[str] = Field(default_factory=list, max_length=3)
    risk: float | None = None
    done: bool = False


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from nanoresearch.llm.engines.grammar import JsonGrammar

    d = make_tiny_model_dir(tmp_path_factory.mktemp("tiny-grammar"))
    tok = AutoTokenizer.from_pretrained(str(d))
    model = AutoModelForCausalLM.from_pretrained(str(d)).eval()
    return tok, model, JsonGrammar(tok, model.config.vocab_size, [tok.eos_token_id])


def _generate(tok, model, grammar, schema, max_tokens, seed=0):
    from transformers import LogitsProcessorList

    torch.manual_seed(seed)
    ids = tok.apply_chat_template([{"role": "user", "content": f"Make a plan {seed}."}],
                                  add_generation_prompt=True, tokenize=True, return_dict=False)
    ids = torch.tensor([list(ids)])
    proc = grammar.processor(schema, max_tokens)
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                             do_sample=True, temperature=1.5, pad_token_id=tok.eos_token_id,
                             logits_processor=LogitsProcessorList([proc]))
    new = out[0, ids.shape[1]:].tolist()
    return tok.decode(new, skip_special_tokens=True), len(new)


def _shortest(grammar, schema) -> int:
    import xgrammar as xgr
    return grammar.closing_cost(xgr.GrammarMatcher(grammar.compile(schema)), 1000)


@pytest.mark.parametrize("extra", [2, 40, 150])
def test_nested_schema_is_valid_at_every_budget(tiny, extra):
    """Any budget at least the shortest valid reply (+ the stop token) yields a valid value."""
    tok, model, grammar = tiny
    max_tokens = _shortest(grammar, Plan.model_json_schema()) + extra
    for seed in range(3):  # sampling at a high temperature: a random model at its wildest
        text, n = _generate(tok, model, grammar, Plan.model_json_schema(), max_tokens, seed)
        plan = Plan.model_validate_json(text)  # raises if the grammar or the budget rule failed
        assert n <= max_tokens and 2 <= len(plan.steps) <= 4
        assert all(s.tool in ("python", "shell", "search") and 1 <= s.minutes <= 120 for s in plan.steps)


def test_schema_key_order_is_kept_and_compiles_are_cached(tiny):
    tok, model, grammar = tiny
    schema = {"type": "object", "required": ["zeta", "alpha"], "properties": {
        "zeta": {"type": "integer", "minimum": 0, "maximum": 9}, "alpha": {"enum": ["a", "b"]}}}
    text, _ = _generate(tok, model, grammar, schema, 40)
    assert list(json.loads(text)) == ["zeta", "alpha"]
    assert grammar.compile(schema) is grammar.compile(dict(schema))


def test_uncompilable_schema_is_a_clear_error(tiny):
    from nanoresearch.llm.engines.grammar import SchemaNotCompilable

    _, _, grammar = tiny
    with pytest.raises(SchemaNotCompilable, match="cannot be compiled"):
        grammar.compile({"type": "object", "title": "Broken", "properties": {"x": {"$ref": "#/$defs/Missing"}}})


def test_lora_adapter_stays_active_under_the_grammar(tiny, tmp_path):
    """A peft model generates through the same processor, and its adapter changes the
    constrained output (the adapter is not bypassed)."""
    from peft import LoraConfig, get_peft_model

    tok, model, grammar = tiny
    schema = {"type": "object", "required": ["note"], "properties": {"note": {"type": "string", "maxLength": 40}}}
    base = _generate(tok, model, grammar, schema, 30, seed=1)[0]
    cfg = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft = get_peft_model(model, cfg).eval()
    try:
        with_adapter = _generate(tok, peft, grammar, schema, 30, seed=1)[0]
        assert "note" in json.loads(with_adapter) and with_adapter != base
    finally:
        peft.unload()
