"""The bounded ReAct loop of the ideation agent: think -> pick one tool (small JSON) ->
observe, for at most `budgets.react_steps` steps.

An invalid tool call is not an exception: it becomes an observation telling the model
what was wrong, so a weak model can correct itself and the trace shows what happened.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, Field, ValidationError

from nanoresearch.evidence import EvidenceExtractor
from nanoresearch.literature.text import is_placeholder, overlap, tokenize
from nanoresearch.llm.structured import extract_json
from nanoresearch.types import Evidence, LiteratureRecord, MemoryEntry

log = logging.getLogger(__name__)
TOOLS = ("search", "read_record", "extract_evidence", "recall_memory", "finish")


class ToolCall(BaseModel):
    thought: str = Field(default="", max_length=300)
    tool: str
    arg: str = Field(default="", max_length=200)


# engines that constrain decoding (llama.cpp grammars, vLLM, OpenAI json_schema) get the
# tool names as an enum; the parser still checks them, since other engines ignore schemas
CALL_SCHEMA = ToolCall.model_json_schema()
CALL_SCHEMA["properties"]["tool"]["enum"] = list(TOOLS)


@dataclass
class ReactState:
    papers: list[LiteratureRecord]
    evidence: list[Evidence]
    memories: list[MemoryEntry]
    notes: list[str] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)

    def paper(self, pid: str) -> LiteratureRecord | None:
        pid = pid.strip().strip("[]\"'")
        return next((p for p in self.papers if p.id == pid), None)


class ReactLoop:
    def __init__(self, llm: Any, literature: Any, extractor: EvidenceExtractor,
                 render: Callable[..., list[dict]], max_steps: int, max_papers: int = 30):
        self.llm, self.literature, self.extractor = llm, literature, extractor
        self.render, self.max_steps, self.max_papers = render, max_steps, max_papers

    def parse(self, text: str) -> tuple[ToolCall | None, str]:
        try:
            call = ToolCall.model_validate(extract_json(text))
        except (ValueError, ValidationError) as e:
            return None, f"invalid tool call: {str(e).splitlines()[0][:160]}; reply with JSON {{\"thought\", \"tool\", \"arg\"}}"
        call.tool = call.tool.strip().lower()
        if call.tool not in TOOLS:
            return None, f"invalid tool call: unknown tool {call.tool!r}; valid tools: {', '.join(TOOLS)}"
        if call.tool != "finish" and is_placeholder(call.arg):
            return None, (f"invalid tool call: arg {call.arg!r} is a placeholder; give a real "
                          "search query or a paper id from the list")
        return call, ""

    def example(self, state: ReactState, question: str, step: int) -> dict[str, str]:
        """A concrete example call that rotates over the tools: a strong model picks its
        own; a tiny one that copies the example still explores sensibly."""
        ids = [p.id for p in state.papers]
        options = [("search", " ".join(tokenize(question)[-6:]), "look for closer work")]
        options += [("read_record", ids[0], "read the top paper")] if ids else []
        options += [("extract_evidence", ids[1 if len(ids) > 1 else 0], "get reported numbers")] if ids else []
        tool, arg, why = options[(step - 1) % len(options)]
        return {"ex_tool": tool, "ex_arg": arg, "ex_thought": why}

    def run(self, state: ReactState, question: str, plan_steps: str) -> ReactState:
        seen: set[tuple[str, str]] = set()
        for step in range(1, self.max_steps + 1):
            msgs = self.render("react_step", question=question, plan_steps=plan_steps,
                               papers=_paper_list(state.papers), step=step,
                               max_steps=self.max_steps,
                               observations="\n".join(t["observation"][:300] for t in state.trace[-3:]),
                               **self.example(state, question, step))
            text = self.llm.generate(msgs, schema=CALL_SCHEMA, max_tokens=160).text
            call, error = self.parse(text)
            entry = {"step": step, "raw": text[:400], "valid": call is not None,
                     "thought": call.thought if call else "", "tool": call.tool if call else "",
                     "arg": call.arg if call else ""}
            if call is None:
                entry["observation"] = error
            elif (call.tool, call.arg) in seen:
                entry["observation"] = "repeated call with the same argument; pick another tool or finish"
            else:
                seen.add((call.tool, call.arg))
                entry["observation"] = self.act(state, call)
            state.trace.append(entry)
            log.debug("react step %d: %s", step, entry["observation"][:120])
            if call is not None and call.tool == "finish":
                break
        return state

    def act(self, state: ReactState, call: ToolCall) -> str:
        if call.tool == "finish":
            return "finished exploring"
        if call.tool == "search":
            if not call.arg.strip():
                return "search needs a query in arg"
            hits = self.literature.search(call.arg, 5)
            new = [h for h in hits if not state.paper(h.id)][: self.max_papers - len(state.papers)]
            state.papers.extend(new)
            return f"{len(hits)} results, {len(new)} new: " + "; ".join(f"{h.id}: {h.title[:80]}" for h in hits)
        if call.tool == "recall_memory":
            mems = sorted(state.memories, key=lambda m: -overlap(call.arg, m.content))[:3]
            if not mems:
                return "no memories for this researcher"
            state.notes.extend(m.content[:200] for m in mems)
            return " | ".join(f"[{m.category}] {m.content[:160]}" for m in mems)
        p = state.paper(call.arg) or (self.literature.get(call.arg.strip()) if call.arg.strip() else None)
        if p is None:
            return f"unknown paper id {call.arg!r}; use an id from the list"
        if call.tool == "read_record":
            state.notes.append(f"{p.id}: {p.abstract[:300]}")
            return f"{p.title}: {p.abstract[:600]}"
        evs = self.extractor.extract(p)
        known = {e.id for e in state.evidence}
        state.evidence.extend(e for e in evs if e.id not in known)
        if not evs:
            return f"no numeric results found in {p.id}"
        return "; ".join(f"{e.method or 'method'} {e.metric}={e.value:g} {e.dataset}" for e in evs[:5])


def _paper_list(papers: list[LiteratureRecord], n: int = 8) -> str:
    return "\n".join(f"- {p.id}: {p.title[:100]}" for p in papers[:n]) or "(none yet)"

