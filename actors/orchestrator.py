"""The orchestrator: drives one research cycle through the three phases.

Before every task it retrieves skills and memories and asks the planner for a plan; after
every phase it distills the trajectory into the stores and asks the user for feedback,
which is handed to `on_feedback` (the composition root turns it into an SDPO update).
Every step writes its artifacts and is marked in the phase manifest only afterwards, so
`run()` after a crash (or `kill -9`) continues from the last finished step and redoes
nothing that finished. The team members are plain objects or Ray proxies with the same
methods: this module does not know which.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from pydantic import BaseModel

from actors.feedback import FeedbackSource, SkipFeedback
from nanoresearch.config import Budgets
from nanoresearch.errors import BudgetExceeded
from nanoresearch.types import (
    Feedback, MemoryEntry, Phase, Plan, ProjectState, ProjectStatus, SkillEntry, StepStatus,
    Trajectory, TrajectoryEvent, UserProfile,
)
from nanoresearch.workspace import Workspace

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
PHASES = (Phase.IDEATION, Phase.EXPERIMENT, Phase.WRITING)


class PlanBundle(BaseModel):
    """A planner call's result with the skills and memories it was given and chose."""

    plan: Plan
    skills: list[SkillEntry] = []
    memories: list[MemoryEntry] = []


@dataclass
class Team:
    """Everything the orchestrator drives; built by the composition root
    (nanoresearch_cli/compose.py: plain agents, or Ray actors behind proxies)."""

    ideation: Any
    planning: Any
    experiment: Any  # ExperimentRunner: code -> run/debug -> analysis
    writing: Any  # PaperWriter: write -> compile -> review/revise
    store: Any  # StoreService
    planner: Any  # PlannerClient.plan(...)
    reflector: Any  # .distill(trajectory) -> (skills, memories)
    feedback: FeedbackSource = field(default_factory=SkipFeedback)
    on_feedback: Callable[[Feedback], None] | None = None
    ledger_totals: Callable[[], dict[str, float]] | None = None


class Orchestrator:
    def __init__(self, team: Team, workspace: Workspace, budgets: Budgets,
                 on_event: Callable[[str, dict], None] | None = None):
        self.team = team
        self.ws = workspace
        self.budgets = budgets
        self.on_event = on_event or (lambda kind, data: None)
        self._t0 = time.time()

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> ProjectState:
        return self.ws.read_model("project.json", ProjectState)

    def _save_state(self, **changes: Any) -> ProjectState:
        st = self.state.model_copy(update={**changes, "updated_at": time.time()})
        self.ws.write_json("project.json", st)
        return st

    def profile(self) -> UserProfile:
        prof = self.team.store.get_profile(self.state.user_id)
        return prof or UserProfile(user_id=self.state.user_id)

    # ------------------------------------------------------------------ driver
    def run(self, phases: tuple[Phase, ...] = PHASES) -> ProjectState:
        self._save_state(status=ProjectStatus.RUNNING, error=None)
        try:
            for phase in phases:
                if self.ws.manifest(phase).status == StepStatus.DONE:
                    self.on_event("phase_skipped", {"phase": phase.value})
                    continue
                self._save_state(phase=phase)
                self.on_event("phase_start", {"phase": phase.value})
                self.ws.mark_phase(phase, StepStatus.RUNNING)
                from actors import phases as ph  # late: phases imports this module's types

                ph.PHASE_RUNNERS[phase](self)
                self.ws.mark_phase(phase, StepStatus.DONE)
                self.on_event("phase_done", {"phase": phase.value})
        except BudgetExceeded as e:
            log.warning("%s", e)
            return self._save_state(status=ProjectStatus.BUDGET_EXCEEDED, error=str(e))
        except Exception as e:
            self._save_state(status=ProjectStatus.FAILED, error=f"{type(e).__name__}: {e}")
            raise
        return self._save_state(status=ProjectStatus.DONE, waiting_feedback_for=None)

    # ------------------------------------------------------------------ steps
    def step(self, phase: Phase, name: str, out: str, cls: type[T], fn: Callable[[], T]) -> T:
        """Run `fn` once: a finished step's artifact is read back instead of rerun."""
        if self.ws.step_done(phase, name):
            self.on_event("step_skipped", {"phase": phase.value, "step": name})
            return self.ws.read_model(out, cls)
        self.check_budget()
        self.on_event("step_start", {"phase": phase.value, "step": name})
        t0 = time.time()
        with self.ws.step(phase, name) as arts:
            result = fn()
            self.ws.write_json(out, result)
            arts.append(out)
        self.on_event("step_done", {"phase": phase.value, "step": name,
                                    "seconds": round(time.time() - t0, 2)})
        return result

    def check_budget(self) -> None:
        elapsed = time.time() - self._t0
        if elapsed > self.budgets.max_wall_s:
            raise BudgetExceeded("max_wall_s", elapsed, self.budgets.max_wall_s)
        if self.team.ledger_totals is None:
            return
        totals = self.team.ledger_totals()
        if totals.get("tokens", 0) > self.budgets.max_tokens:
            raise BudgetExceeded("max_tokens", totals["tokens"], self.budgets.max_tokens)
        if totals.get("cost_usd", 0) > self.budgets.max_cost_usd:
            raise BudgetExceeded("max_cost_usd", totals["cost_usd"], self.budgets.max_cost_usd)

    # ------------------------------------------------------------------ planner
    def plan(self, phase: Phase, stage: str, task: str) -> PlanBundle:
        """Retrieve skills and memories for the task, then ask the planner (one step)."""
        def make() -> PlanBundle:
            st, store = self.state, self.team.store
            skills = store.retrieve_skills(query=task, stage=stage, user_id=st.user_id, k=6)
            mems = store.retrieve_memories(query=task, user_id=st.user_id,
                                           conditions={"domain": st.topic.domain}, k=6)
            plan = self.team.planner.plan(user_id=st.user_id, project_id=st.project_id,
                                          stage=stage, task=task, profile=self.profile(),
                                          skills=skills, memories=mems)
            chosen_s = [s for s in skills if s.id in plan.selected_skill_ids] or skills
            chosen_m = [m for m in mems if m.id in plan.selected_memory_ids] or mems
            return PlanBundle(plan=plan, skills=chosen_s, memories=chosen_m)

        return self.step(phase, f"plan_{stage}", f"{phase.value}/plan_{stage}.json",
                         PlanBundle, make)

    # ------------------------------------------------------------------ trajectory
    def record(self, phase: Phase, step: str, action: str, outcome: str = "", ok: bool = True,
               **detail: Any) -> None:
        rel = f"{phase.value}/trajectory.json"
        st = self.state
        traj = (self.ws.read_model(rel, Trajectory) if self.ws.exists(rel) else
                Trajectory(user_id=st.user_id, project_id=st.project_id, phase=phase,
                           domain=st.topic.domain, topic=st.topic.problem_statement[:300]))
        traj.events.append(TrajectoryEvent(step=step, action=action, outcome=outcome[:2000],
                                           ok=ok, detail=detail))
        self.ws.write_json(rel, traj)

    def finish_phase(self, phase: Phase, summary: str, used: list[PlanBundle],
                     success: bool) -> None:
        """Count skill usage, distill the trajectory, then ask for feedback."""
        def distill() -> DistillReport:
            for b in used:
                for s in b.skills:
                    self.team.store.record_skill_usage(s.id, success)
            rel = f"{phase.value}/trajectory.json"
            if not self.ws.exists(rel):
                return DistillReport()
            traj = self.ws.read_model(rel, Trajectory)
            skills, mems = self.team.reflector.distill(traj)
            self.team.store.add_skills(skills)
            self.team.store.add_memories(mems)
            return DistillReport(skills=[s.id for s in skills], memories=[m.id for m in mems])

        self.step(phase, "distill", f"{phase.value}/distill.json", DistillReport, distill)
        self.step(phase, "feedback", f"{phase.value}/feedback.json", FeedbackRecord,
                  lambda: self._ask_feedback(phase, summary))

    def _ask_feedback(self, phase: Phase, summary: str) -> "FeedbackRecord":
        st = self._save_state(status=ProjectStatus.WAITING_FEEDBACK, waiting_feedback_for=phase)
        fb = self.team.feedback.ask(st.user_id, st.project_id, phase, summary)
        self._save_state(status=ProjectStatus.RUNNING, waiting_feedback_for=None)
        if fb is not None:
            self.on_event("feedback", {"phase": phase.value, "text": fb.text[:200]})
            if self.team.on_feedback is not None:
                self.team.on_feedback(fb)
        return FeedbackRecord(feedback=fb)


class DistillReport(BaseModel):
    skills: list[str] = []
    memories: list[str] = []


class FeedbackRecord(BaseModel):
    feedback: Feedback | None = None


def new_project(workspace_root: Path, state: ProjectState) -> Workspace:
    ws = Workspace(workspace_root / state.project_id)
    if not ws.exists("project.json"):
        ws.write_json("project.json", state)
    return ws
