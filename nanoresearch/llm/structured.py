"""Structured output: ask for JSON matching a pydantic model, validate, re-ask with the
validation error a bounded number of times, then raise `StructuredOutputError`.

Small models wrap JSON in prose or code fences; `extract_json` finds the first complete
JSON object/array in the text before validation.
"""
from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from nanoresearch.errors import StructuredOutputError
from nanoresearch.llm.base import LLM, Messages, to_messages
from nanoresearch.types import ChatMessage, Completion

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


def extract_json(text: str) -> Any:
    """Parse the first balanced JSON object or array in `text`. Raises ValueError."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                obj, _ = decoder.raw_decode(text[i:])
                return obj
            except json.JSONDecodeError:
                continue
    raise ValueError("no JSON object found in the model output")


def schema_instruction(model_cls: type[BaseModel]) -> str:
    schema = json.dumps(model_cls.model_json_schema(), separators=(",", ":"))
    return (f"Answer with one JSON object only, no prose, matching this JSON schema "
            f"({model_cls.__name__}): {schema}")


def generate_structured(
    llm: LLM,
    messages: Messages,
    model_cls: type[T],
    *,
    retries: int = 2,
    max_tokens: int = 512,
    temperature: float = 0.0,
    add_schema_instruction: bool = True,
) -> tuple[T, Completion]:
    """Returns (validated instance, last completion). `retries` re-asks after the first
    attempt, each time showing the model its output and the validation error."""
    msgs: list[ChatMessage] = to_messages(messages)
    if add_schema_instruction:
        msgs = msgs + [ChatMessage(role="user", content=schema_instruction(model_cls))] \
            if msgs[-1].role != "user" else \
            msgs[:-1] + [ChatMessage(role="user",
                                     content=msgs[-1].content + "\n\n" + schema_instruction(model_cls))]
    schema = model_cls.model_json_schema()
    last_error, last_text = "", ""
    for attempt in range(1, retries + 2):
        comp = llm.generate(msgs, schema=schema, max_tokens=max_tokens, temperature=temperature)
        last_text = comp.text
        try:
            return model_cls.model_validate(extract_json(comp.text)), comp
        except (ValueError, ValidationError) as e:
            last_error = str(e)[:800]
            log.info("structured output attempt %d for %s invalid: %s", attempt,
                     model_cls.__name__, last_error.splitlines()[0] if last_error else "")
            msgs = msgs + [
                ChatMessage(role="assistant", content=comp.text[:2000]),
                ChatMessage(role="user", content=(
                    f"That was not valid for {model_cls.__name__}: {last_error}\n"
                    "Reply again with the corrected JSON object only.")),
            ]
    raise StructuredOutputError(model_cls.__name__, retries + 1, last_error, last_text)
