"""The orchestrator's planner: structured input -> chat -> typed Plan.

Three transports, one `PlannerClient.plan(...)`:
- `http_chat(base_url)`: the Serve planner route through the stock `openai` client
  (model "planner:<user>", headers carry project and stage so the server logs the call);
- `engine_chat(engine)`: an in-process PlannerEngine (tests, `--no-ray`);
- `llm_chat(llm, log)`: any provider LLM (a hosted planner without adapters); the call
  is logged here, so feedback can still train a local adapter later.
Every path logs the exact prompt and output as a PlannerCall: SDPO trains on those.
"""
from __future__ import annotations

import logging
from typing import Callable, Sequence

from nanoresearch.llm.base import LLM
from nanoresearch.types import MemoryEntry, Plan, SkillEntry, UserProfile
from serve.planner_log import PlannerLog
from serve.planner_prompt import (
    PlannerInput, build_messages, memory_candidate, parse_plan, plan_schema, profile_snapshot,
    skill_candidate,
)

log = logging.getLogger(__name__)
# chat(messages, user_id, project_id, stage, schema) -> (text, call_id, adapter_version);
# schema is the reply's JSON schema (planner_prompt.plan_schema), used by engines that
# constrain or guide decoding
ChatFn = Callable[[list[dict], str, str, str, dict], tuple[str, str | None, str | None]]


class PlannerClient:
    def __init__(self, chat: ChatFn, max_tokens: int = 256):
        self.chat = chat
        self.max_tokens = max_tokens

    def plan(self, user_id: str, project_id: str, stage: str, task: str, profile: UserProfile,
             skills: Sequence[SkillEntry], memories: Sequence[MemoryEntry]) -> Plan:
        inp = PlannerInput(stage=stage, task=task, profile=profile_snapshot(profile),
                           skills=[skill_candidate(s) for s in skills],
                           memories=[memory_candidate(m) for m in memories])
        text, call_id, version = self.chat(build_messages(inp), user_id, project_id, stage,
                                           plan_schema(inp))
        plan, path = parse_plan(text, inp)
        log.info("planner %s/%s: %d steps (%s, adapter %s)", user_id, stage, len(plan.steps),
                 path, version or "base")
        upd = {"user_id": user_id, "project_id": project_id, "stage": stage, "task": task,
               "adapter_version": version}
        if call_id:
            upd["call_id"] = call_id
        return plan.model_copy(update=upd)


def http_chat(base_url: str, api_key: str, timeout_s: float = 600.0, max_tokens: int = 256) -> ChatFn:
    """`api_key`: the planner service token (serve/auth.service_token), which may plan
    for any user, or one user's API token, which may plan for that user only."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=2)

    def chat(messages: list[dict], user_id: str, project_id: str, stage: str, schema: dict | None = None):
        fmt = {"type": "json_schema", "json_schema": {"name": "plan", "schema": schema}} if schema else None
        r = client.chat.completions.create(
            model=f"planner:{user_id}", messages=messages, max_tokens=max_tokens, temperature=0,
            **({"response_format": fmt} if fmt else {}),
            extra_headers={"X-User-Id": user_id, "X-Project-Id": project_id,
                           "X-Planner-Stage": stage})
        call_id = r.id.removeprefix("chatcmpl-") if r.id else None
        version = r.system_fingerprint if r.system_fingerprint not in (None, "base") else None
        return r.choices[0].message.content or "", call_id, version

    return chat


def engine_chat(engine, max_tokens: int = 256) -> ChatFn:
    def chat(messages: list[dict], user_id: str, project_id: str, stage: str, schema: dict | None = None):
        res = engine.generate(messages, user_id, max_tokens, project_id=project_id, stage=stage,
                              schema=schema)
        return res.text, res.call_id, res.adapter_version

    return chat


def llm_chat(llm: LLM, planner_log: PlannerLog, max_tokens: int = 256) -> ChatFn:
    def chat(messages: list[dict], user_id: str, project_id: str, stage: str, schema: dict | None = None):
        text = llm.generate(messages, schema=schema, max_tokens=max_tokens).text
        call = planner_log.log_call(user_id=user_id, messages=messages, output=text,
                                    adapter_version=None, project_id=project_id, stage=stage)
        return text, call.call_id if call else None, None

    return chat
