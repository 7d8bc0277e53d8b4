"""The debugging agent and the auto-debug loop (Stage II).

`debug_loop` writes the code, runs it through an executor and, while it fails and the
budget lasts, asks `DebuggingAgent.fix` for a patch and reruns. The agent asks its model
for one small JSON patch (search/replace, or a whole short file), applies it only if it
applies cleanly and the result parses, and otherwise falls back to deterministic rules
(`nanoresearch/execution/fixers.py`). Every fix records which path produced it (`llm`,
`missing_import`, `skill:<id>`...) and whether the model's own attempt was usable, and
the loop reports each failure, fix and outcome through `on_event` so the orchestrator
can turn them into memories and skills.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Callable, Iterable

import jinja2
import yaml
from pydantic import BaseModel

from nanoresearch.config import Budgets
from nanoresearch.errors import ModelError, UserError
from nanoresearch.execution.base import Executor, Limits
from nanoresearch.execution.classify import parse_traceback
from nanoresearch.execution.fixers import deterministic_fix
from nanoresearch.execution.patching import FixReply, PatchError, apply_reply, unified_diff
from nanoresearch.llm.base import LLM
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import (CodeArtifact, FailureInfo, MemoryEntry, RunResult, RunStatus,
                                SkillEntry, SkillStage)

log = logging.getLogger(__name__)
PROMPTS = yaml.safe_load((Path(__file__).parent / "prompts" / "debugging.yaml").read_text())
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
EventFn = Callable[[str, dict], None]


class FixRecord(BaseModel):
    """One fix attempt: what failed, which path produced the patch, what the model did."""

    attempt: int
    failure: FailureInfo
    source: str  # "llm", a rule name ("missing_import"...), "skill:<id>", or "none"
    summary: str = ""
    diff: str = ""
    llm_attempted: bool = False
    llm_valid: bool = False  # the model's patch applied cleanly and parsed
    llm_reason: str = ""
    llm_error: str = ""
    # the offered skills a model patch followed (named in its "skills" or its reason): their
    # usage is counted with this patch's outcome, as a rule fix counts its "skill:<id>"
    skills_cited: list[str] = []

    @property
    def generalizable(self) -> bool:
        """Rule and skill fixes are known patterns: candidates for the skill bank."""
        return self.source not in ("llm", "none")


# ---------------------------------------------------------------------- failures
def parse_failure(result: RunResult, work_dir: Path | None = None) -> FailureInfo:
    """The run's failure, with file/line re-derived from the output tails when the
    backend did not locate it. Raises UserError for a successful run."""
    if result.status == RunStatus.SUCCEEDED:
        raise UserError("parse_failure got a successful run; only failed runs have a failure")
    f = result.failure or FailureInfo(category=_CATEGORY.get(result.status, "exception"),
                                      message=result.stderr_tail.strip()[-300:] or "no output")
    if f.file is None and f.category in ("exception", "oom"):
        tb = parse_traceback(result.stderr_tail, work_dir) or parse_traceback(result.stdout_tail, work_dir)
        if tb is not None:
            f = f.model_copy(update={"file": tb.file, "line": tb.line,
                                     "traceback": f.traceback or tb.text})
    return f


_CATEGORY = {RunStatus.TIMEOUT: "timeout", RunStatus.OOM: "oom", RunStatus.KILLED: "killed",
             RunStatus.NO_METRICS: "missing_metrics", RunStatus.FAILED: "exception"}


def _signature(f: FailureInfo) -> tuple:
    return (f.category, f.message.strip()[:200], f.file, f.line)


def numbered_snippet(text: str, line: int | None, radius: int = 15, whole_below: int = 80) -> str:
    lines = text.splitlines()
    if len(lines) <= whole_below or not line:
        lo, hi = 0, min(len(lines), whole_below)
    else:
        lo, hi = max(0, line - 1 - radius), min(len(lines), line + radius)
    return "\n".join(f"{i + 1:4d}| {lines[i]}" for i in range(lo, hi))


def _offered(skills: Iterable[SkillEntry], failure: FailureInfo, n: int = 3) -> list[SkillEntry]:
    """The skills whose trigger matches this failure (or that have none), at most n."""
    out = []
    for sk in skills:
        if sk.trigger and not _matches(sk.trigger, f"{failure.category}: {failure.message}"):
            continue
        out.append(sk)
        if len(out) >= n:
            break
    return out


def _skill_hints(offered: Iterable[SkillEntry]) -> list[str]:
    return [f"[{sk.id}] {sk.name}: {'; '.join(sk.instructions)[:300]}" for sk in offered]


def cited_skills(reply: FixReply, offered: list[SkillEntry]) -> list[str]:
    """The offered skills the model says it followed: named in "skills" or in its reason."""
    named = set(reply.skills)
    return [sk.id for sk in offered if sk.id in named or sk.id in reply.reason]


def _matches(trigger: str, text: str) -> bool:
    try:
        return re.search(trigger, text, re.IGNORECASE) is not None
    except re.error:
        return trigger.lower() in text.lower()


# ---------------------------------------------------------------------- the agent
class DebuggingAgent:
    """Patches failed code. `history` keeps every FixRecord (the loop reports them)."""

    def __init__(self, llm: LLM, budgets: Budgets | None = None, max_tokens: int = 768,
                 patch_retries: int = 1):
        self.llm = llm
        self.budgets = budgets or Budgets()
        self.max_tokens = max_tokens
        self.patch_retries = patch_retries
        self.history: list[FixRecord] = []

    def fix(self, code: CodeArtifact, result: RunResult,
            skills: Iterable[SkillEntry] = ()) -> CodeArtifact:
        """A patched copy of `code` (version + 1), or `code` itself when nothing usable
        was found. The record of the attempt is appended to `self.history`."""
        skills = list(skills)
        failure = parse_failure(result)
        rec = FixRecord(attempt=len(self.history) + 1, failure=failure, source="none")
        # a model patch that left the same failure in place is not trusted first again
        repeat = bool(self.history) and _signature(self.history[-1].failure) == _signature(failure)
        new_files = self._rule_fix(code, failure, skills, rec) if repeat else None
        if new_files is None:
            new_files = self._llm_fix(code, failure, skills, rec, repeat)
        if new_files is None and not repeat:
            new_files = self._rule_fix(code, failure, skills, rec)
        self.history.append(rec)
        if new_files is None:
            log.info("debugging: no usable patch for %s (%s)", failure.category, rec.llm_error)
            return code
        rec.diff = unified_diff(code.files, new_files)
        log.info("debugging: fix via %s: %s", rec.source, rec.summary[:160])
        return code.model_copy(update={"files": new_files, "version": code.version + 1})

    def _rule_fix(self, code, failure, skills, rec: FixRecord) -> dict[str, str] | None:
        rule = deterministic_fix(failure, code.files, skills)
        if rule is None:
            return None
        rec.source, rec.summary = rule.rule, rule.summary
        return {**code.files, rule.path: rule.content}

    def _llm_fix(self, code, failure, skills, rec: FixRecord, repeat: bool) -> dict[str, str] | None:
        target = failure.file if failure.file in code.files else code.entrypoint
        previous = self.history[-1].summary if repeat and self.history else ""
        offered = _offered(skills, failure)
        msgs = [{"role": "system", "content": PROMPTS["system"].strip()},
                {"role": "user", "content": self._prompt(code, failure, offered, target, previous)}]
        rec.llm_attempted = True
        for _ in range(1 + self.patch_retries):
            try:
                reply, comp = generate_structured(self.llm, msgs, FixReply, max_tokens=self.max_tokens,
                                                  retries=self.budgets.structured_retries)
            except ModelError as e:
                rec.llm_error = f"{type(e).__name__}: {e}"[:500]
                return None
            rec.llm_reason = reply.reason[:300]
            try:
                new_files, summary = apply_reply(reply, code.files, target)
            except PatchError as e:
                rec.llm_error = str(e)[:500]
                msgs += [{"role": "assistant", "content": comp.text[:3000]},
                         {"role": "user", "content": _ENV.from_string(PROMPTS["retry"]).render(
                             error=str(e), file=target)}]
                continue
            rec.llm_valid, rec.source, rec.summary = True, "llm", summary
            rec.skills_cited = cited_skills(reply, offered)
            return new_files
        return None

    def _prompt(self, code: CodeArtifact, failure: FailureInfo, offered: list[SkillEntry], target: str,
                previous: str) -> str:
        location = f"{failure.file}, line {failure.line}" if failure.file and failure.line else ""
        tb = "\n".join(failure.traceback.strip().splitlines()[-12:])
        failing = _line_at(code.files[target], failure.line) if failure.file == target else ""
        return _ENV.from_string(PROMPTS["fix"]).render(
            failing_line=failing, search_example=json.dumps(failing or "exact text from the code"),
            category=failure.category, message=failure.message[:600], location=location,
            traceback=tb, skills=_skill_hints(offered), previous=previous,
            files=", ".join(sorted(code.files)), file=target,
            snippet=numbered_snippet(code.files[target], failure.line))


def _line_at(text: str, line: int | None) -> str:
    lines = text.splitlines()
    return lines[line - 1].strip() if line and 0 < line <= len(lines) else ""


# ---------------------------------------------------------------------- the loop
def write_code(work_dir: Path, code: CodeArtifact) -> None:
    """Write the files; never through a link a previous run planted (a file or a
    parent directory pointing outside the work dir)."""
    root = Path(work_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in code.files.items():
        p = Path(rel)
        if p.is_absolute() or ".." in p.parts:
            raise UserError(f"code file {rel!r} must be a relative path inside the work dir")
        dest = root / p
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.parent.resolve().is_relative_to(root):
            raise UserError(f"code file {rel!r}: its directory links outside the work dir; "
                            "remove that link from the work dir")
        if dest.is_symlink():
            dest.unlink()
        dest.write_text(text)


def _brief(result: RunResult) -> dict[str, Any]:
    f = result.failure
    return {"attempt": result.attempt, "status": result.status.value,
            "duration_s": result.duration_s, "n_metrics": len(result.metrics),
            "failure": f.model_dump(exclude={"traceback"}) if f else None}


def debug_loop(code: CodeArtifact, work_dir: Path, executor: Executor, debugger: DebuggingAgent,
               attempts: int, on_event: EventFn | None = None, skills: Iterable[SkillEntry] = (),
               limits: Limits | None = None) -> tuple[CodeArtifact, list[RunResult]]:
    """Run, and while the run fails patch and rerun, at most `attempts` patches.
    Returns the last code and every run (attempt numbers 1..n)."""
    emit = on_event or (lambda kind, data: None)
    skills, runs = list(skills), []
    pending: FixRecord | None = None
    for attempt in range(1, attempts + 2):
        write_code(work_dir, code)
        result = executor.run(Path(work_dir), code.entrypoint, limits)
        result = result.model_copy(update={"attempt": attempt})
        runs.append(result)
        emit("run", _brief(result))
        if pending is not None:
            emit("outcome", {**_fix_data(pending), "resolved": result.status == RunStatus.SUCCEEDED,
                             "status_after": result.status.value})
        if result.status == RunStatus.SUCCEEDED:
            return code, runs
        emit("failure", {"attempt": attempt, **parse_failure(result, Path(work_dir)).model_dump()})
        if attempt > attempts:
            break
        new = debugger.fix(code, result, skills)
        pending = debugger.history[-1] if debugger.history else None
        if new.files == code.files:
            emit("gave_up", {"attempt": attempt, **(_fix_data(pending) if pending else {})})
            break
        emit("fix", _fix_data(pending))
        code = new
    return code, runs


def _fix_data(rec: FixRecord) -> dict[str, Any]:
    return {**rec.model_dump(exclude={"failure"}), "generalizable": rec.generalizable,
            "failure": rec.failure.model_dump(exclude={"traceback"})}


# ---------------------------------------------------------------------- lessons
def failure_trigger(f: FailureInfo) -> str:
    """A regex matching the same kind of error: quoted names and numbers generalised,
    e.g. "NameError: name 'np' is not defined" -> NameError: name '[^']*' is not defined."""
    first = (f.message.strip().splitlines() or [f.category])[0][:200]
    pattern = re.escape(first).replace("\\ ", " ")
    pattern = re.sub(r"'(?:[^'\\]|\\.)*'", "'[^']*'", pattern)
    return re.sub(r"\d+", r"\\d+", pattern)


def lessons_from_fix(rec: FixRecord, resolved: bool, user_id: str, project_id: str | None = None,
                     domain: str = "general") -> tuple[MemoryEntry, SkillEntry | None]:
    """A memory of this failure and its fix (always), and a skill candidate when the fix
    resolved the failure and is a known pattern or a short model edit."""
    f = rec.failure
    where = f" at {f.file}:{f.line}" if f.file else ""
    memory = MemoryEntry(
        user_id=user_id, project_id=project_id, category="fact" if resolved else "failed_direction",
        content=(f"{f.category}{where}: {f.message[:200]} -> {rec.source} fix "
                 f"({rec.summary[:200]}) {'resolved it' if resolved else 'did not resolve it'}"),
        conditions={"domain": domain, "failure": f.category}, importance=0.6 if resolved else 0.4)
    if not resolved or rec.source == "none" or len(rec.diff) > 1500:
        return memory, None
    skill = SkillEntry(
        stage=SkillStage.DEBUGGING, domain=domain, trigger=failure_trigger(f),
        name=f"fix {f.message.split(':')[0][:40] or f.category}",
        when_to_use=f"a run fails with {f.message[:120]}",
        instructions=[rec.summary[:300]], tags=["debugging", rec.source.split(":")[0]],
        confidence=0.7 if rec.generalizable else 0.5)
    return memory, skill
