"""SDPO training data: (x, y, o) triples from logged planner calls and user feedback,
turned into student and teacher token sequences with the planner's chat template.

Student sequence = chat(x) + y. Teacher sequence = chat(x with the hindsight feedback
appended to its last user turn) + y. Both end with the same completion tokens y, so the
per-token log-probabilities of y line up one to one.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Iterable

import yaml

from nanoresearch.types import Feedback, Phase, PlannerCall

# Planner call stages (free-form strings, set by the agents) -> the phase whose feedback
# covers them. A stage not listed matches a phase of the same name.
STAGE_TO_PHASE = {
    "ideation": Phase.IDEATION, "literature": Phase.IDEATION, "hypothesis": Phase.IDEATION,
    "planning": Phase.IDEATION, "blueprint": Phase.IDEATION,
    "experiment": Phase.EXPERIMENT, "setup": Phase.EXPERIMENT, "coding": Phase.EXPERIMENT,
    "debugging": Phase.EXPERIMENT, "analysis": Phase.EXPERIMENT, "execution": Phase.EXPERIMENT,
    "writing": Phase.WRITING, "review": Phase.WRITING, "revision": Phase.WRITING,
}


@dataclass(frozen=True)
class Triple:
    """One SDPO training triple."""

    call: PlannerCall  # x = call.messages, y = call.output
    feedback: str  # o
    feedback_id: str = ""


@dataclass
class SDPOExample:
    student_ids: list[int]
    teacher_ids: list[int]
    student_start: int  # index of the first completion token in student_ids
    teacher_start: int
    completion_len: int

    @property
    def completion_ids(self) -> list[int]:
        return self.student_ids[self.student_start:]


@functools.lru_cache(maxsize=1)
def hindsight_template() -> str:
    text = resources.files("training").joinpath("prompts/sdpo.yaml").read_text()
    return yaml.safe_load(text)["hindsight"]


def phase_of_stage(stage: str) -> str:
    p = STAGE_TO_PHASE.get((stage or "").lower())
    return p.value if p is not None else (stage or "").lower()


def pair_triples(calls: Iterable[PlannerCall], feedbacks: Iterable[Feedback]) -> list[Triple]:
    """Each feedback covers the same user's planner calls in the same project and phase
    made before it. Calls of other users never pair (the adapter is per user)."""
    calls = list(calls)
    out: list[Triple] = []
    for fb in sorted(feedbacks, key=lambda f: f.created_at):
        if fb.source == "skip" or not fb.text.strip():
            continue
        phase = fb.phase.value if isinstance(fb.phase, Phase) else str(fb.phase)
        for c in calls:
            if (c.user_id == fb.user_id and c.project_id == fb.project_id
                    and phase_of_stage(c.stage) == phase and c.created_at <= fb.created_at
                    and c.output.strip()):
                out.append(Triple(call=c, feedback=fb.text.strip(), feedback_id=fb.feedback_id))
    return out


def teacher_messages(messages: list[dict], feedback: str) -> list[dict]:
    """x with the hindsight feedback appended to the last user turn (a new user turn if
    the prompt has none)."""
    msgs = [dict(m) for m in messages]
    extra = hindsight_template().format(feedback=feedback)
    for m in reversed(msgs):
        if m["role"] == "user":
            m["content"] = m["content"] + extra
            break
    else:
        msgs.append({"role": "user", "content": extra.strip()})
    return msgs


def _prompt_ids(tokenizer, messages: list[dict], max_tokens: int) -> list[int]:
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                        return_dict=False)
    if hasattr(ids, "input_ids"):  # some tokenizers return a BatchEncoding
        ids = ids["input_ids"]
    ids = list(ids)
    return ids[-max_tokens:]  # keep the end: the request and the generation prompt


def completion_ids(tokenizer, output: str, max_tokens: int) -> list[int]:
    ids = tokenizer(output, add_special_tokens=False)["input_ids"][:max_tokens]
    eos = tokenizer.eos_token_id
    if eos is not None and len(ids) < max_tokens:
        ids.append(eos)  # the end-of-turn token, so the adapter also learns when to stop
    return ids


def build_example(tokenizer, triple: Triple, max_prompt_tokens: int = 768,
                  max_completion_tokens: int = 256) -> SDPOExample:
    msgs = [m.model_dump() for m in triple.call.messages]
    y = completion_ids(tokenizer, triple.call.output, max_completion_tokens)
    if not y:
        raise ValueError(f"planner call {triple.call.call_id} has an empty output; nothing to train on")
    s = _prompt_ids(tokenizer, msgs, max_prompt_tokens)
    t = _prompt_ids(tokenizer, teacher_messages(msgs, triple.feedback), max_prompt_tokens)
    return SDPOExample(student_ids=s + y, teacher_ids=t + y, student_start=len(s),
                       teacher_start=len(t), completion_len=len(y))
