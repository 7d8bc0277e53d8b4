"""Stage II and III drivers that combine several agents behind the orchestrator's calls.

`ExperimentRunner`: coding agent -> execution backend with the auto-debug loop ->
analysis agent. `PaperWriter`: writing agent -> compile -> review ensemble -> revision
loop. The agents may be plain objects or Ray proxies; the loops themselves run in the
caller's process, so the execution backend and the workspace stay local to the driver.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Sequence

from actors.debugging import debug_loop
from actors.writing_revise import revise_loop
from nanoresearch import artifacts as A
from nanoresearch.config import Budgets, CodeSearchSettings
from nanoresearch.types import (
    AnalysisReport, Blueprint, CodeArtifact, MemoryEntry, Plan, RunResult, SkillEntry, WritingResult,
)

log = logging.getLogger(__name__)


class _Debugger:
    """What debug_loop expects (`fix` + `history`) over a plain or remote agent: the
    history is read back after each fix because a remote agent keeps it in its process."""

    def __init__(self, agent: Any):
        self.agent = agent
        self.history: list = []

    def fix(self, code: CodeArtifact, result: RunResult, skills: Sequence[SkillEntry] = ()) -> CodeArtifact:
        new = self.agent.fix(code, result, list(skills))
        self.history = list(self.agent.history)
        return new


class ExperimentRunner:
    def __init__(self, coding: Any, debugging: Any, analysis: Any, executor: Any, budgets: Budgets,
                 search: Any = None, ray_address: str | None = None):
        self.coding, self.debugging, self.analysis = coding, debugging, analysis
        self.executor, self.budgets = executor, budgets
        # coding.search: model-written (freeform) code always runs through the contract-checked
        # search; the default (1 draft, no improvements, in-process) is a plain debug chain
        self.search, self.ray_address = search or CodeSearchSettings(), ray_address
        self._skills: list[SkillEntry] = []
        self._plan_steps: list[str] = []
        self.last_cited: list[str] = []  # ids the analysis agent's accepted summary cited

    def write_code(self, blueprint: Blueprint, plan: Plan | None, skills: list[SkillEntry],
                   code_dir: Path) -> CodeArtifact:
        self._skills, self._plan_steps = list(skills), list(plan.steps if plan else [])
        return self.coding.write(blueprint, plan, list(skills), Path(code_dir))

    def run(self, code: CodeArtifact, code_dir: Path,
            on_event: Callable[[str, dict], None] | None = None,
            skills: Sequence[SkillEntry] = ()) -> tuple[CodeArtifact, list[RunResult]]:
        """`skills`: the debugging-stage skills retrieved for this task; the debugger gets
        them beside the coding plan's skills (a resumed run has only these)."""
        have = {s.id for s in skills}
        both = [*skills, *(s for s in self._skills if s.id not in have)]
        if code.mode == "free":  # model-written code: contract checks + tree search
            from actors.code_search import run_code_search
            return run_code_search(code, Path(code_dir), self.coding, _Debugger(self.debugging),
                                   self.executor, self.budgets.debug_attempts, self.search,
                                   self._plan_steps, both, on_event, self.ray_address)
        return debug_loop(code, Path(code_dir), self.executor, _Debugger(self.debugging),
                          self.budgets.debug_attempts, on_event=on_event, skills=both)

    def analyze(self, blueprint: Blueprint, runs: list[RunResult], out_dir: Path,
                skills: Sequence[SkillEntry] = (), memories: Sequence[MemoryEntry] = ()) -> AnalysisReport:
        """`skills`/`memories`: what was retrieved for the analysis; `last_cited` then holds
        the ids its accepted summary cited (read back: a remote agent keeps it)."""
        rep = self.analysis.analyze(blueprint, runs, Path(out_dir), list(skills), list(memories))
        self.last_cited = list(self.analysis.last_used)
        return rep


class _Reviewer:
    """What revise_loop expects (`review(draft, paper_dir, round, venue)`) over a plain or
    remote review agent, with the review stage's retrieved skills and memories passed to
    every round; the ids its usable reviews cited are collected over the rounds."""

    def __init__(self, agent: Any, skills: Sequence[SkillEntry], memories: Sequence[MemoryEntry]):
        self.agent, self.skills, self.memories = agent, list(skills), list(memories)
        self.cited: list[str] = []

    def review(self, draft, paper_dir=None, round: int = 1, venue: str = "conference"):
        out = self.agent.review(draft, paper_dir, round=round, venue=venue, skills=self.skills,
                                memories=self.memories)
        self.cited += [x for x in self.agent.last_used if x not in self.cited]
        return out


class PaperWriter:
    def __init__(self, writing: Any, review: Any, budgets: Budgets):
        self.writing, self.review, self.budgets = writing, review, budgets
        self.review_cited: list[str] = []  # ids the reviewers cited, over all rounds

    def write(self, *, topic, profile, hypothesis, blueprint, papers, analysis, metrics,
              paper_dir: Path, plan=None, skills=(), workspace_root: Path | None = None,
              review_skills: Sequence[SkillEntry] = (),
              review_memories: Sequence[MemoryEntry] = ()) -> WritingResult:
        """`review_skills`/`review_memories`: retrieved for the review stage (every round)."""
        paper_dir = Path(paper_dir)
        draft = self.writing.write(topic=topic, profile=profile, hypothesis=hypothesis, blueprint=blueprint,
                                   papers=papers, analysis=analysis,
                                   runs_metrics=[m.model_dump() for m in metrics], paper_dir=paper_dir,
                                   plan=plan, skills=list(skills), workspace_root=workspace_root)
        reviewer = _Reviewer(self.review, review_skills, review_memories)
        res = revise_loop(self.writing, reviewer, draft, paper_dir, self.budgets,
                          venue=profile.paper_format)
        self.review_cited = reviewer.cited
        pdf = A.PAPER_PDF.at(paper_dir)
        return res.model_copy(update={"pdf_path": str(pdf) if pdf.exists() else None})
