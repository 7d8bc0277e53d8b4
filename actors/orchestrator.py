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
from nanoresearch import artifacts as A
from nanoresearch.config import Budgets
from nanoresearch.errors import BudgetExceeded, UserError
from nanoresearch.types import (
    DistillReport, Feedback, FeedbackRecord, MemoryEntry, Phase, PlanBundle, ProjectState,
    ProjectStatus, StepStatus, Trajectory, TrajectoryEvent, UserProfile,
)
from nanoresearch.workspace import ProjectCancelled, Workspace
from storage.conditions import condition_tags, filter_conditions, task_conditions
from storage.requirements import requirement_memories, standing_preference, unique_forms

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
PHASES = (Phase.IDEATION, Phase.EXPERIMENT, Phase.WRITING)


REQUIREMENT_STAGES = ("planning", "coding", "writing")


@dataclass
class Team:
    """Everything the orchestrator drives; built by the composition root
    (nanoresearch_app/compose.py: plain agents, or Ray actors behind proxies)."""

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
        return self.ws.read_model(A.PROJECT.path, ProjectState)

    def _save_state(self, **changes: Any) -> ProjectState:
        return self.ws.update_state(**changes)  # locked: a cancel may write it concurrently

    def profile(self) -> UserProfile:
        prof = self.team.store.get_profile(self.state.user_id)
        return prof or UserProfile(user_id=self.state.user_id)

    # ------------------------------------------------------------------ driver
    def run(self, phases: tuple[Phase, ...] = PHASES) -> ProjectState:
        with self.ws.run_lock():  # one orchestrator per project, across processes
            self.ws.clear_cancel()  # running again (resume) supersedes an old cancel
            return self._run(phases)

    def _run(self, phases: tuple[Phase, ...]) -> ProjectState:
        self._save_state(status=ProjectStatus.RUNNING, error=None)
        from nanoresearch.scaffolds import scaffold_skills

        seeded = self.team.store.seed_skills(scaffold_skills())  # an empty bank starts curated
        if seeded:
            self.on_event("skills_seeded", {"count": seeded})
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
        except ProjectCancelled as e:
            log.info("%s", e)
            return self._save_state(status=ProjectStatus.CANCELLED, error=None)
        except BudgetExceeded as e:
            log.warning("%s", e)
            return self._save_state(status=ProjectStatus.BUDGET_EXCEEDED, error=str(e))
        except Exception as e:
            self._save_state(status=ProjectStatus.FAILED, error=f"{type(e).__name__}: {e}")
            raise
        if self.ws.manifest(Phase.WRITING).status == StepStatus.DONE:
            self.on_event("memory_decay", self.team.store.decay_memories(self.state.user_id))
        return self._save_state(status=ProjectStatus.DONE, waiting_feedback_for=None)

    # ------------------------------------------------------------------ steps
    def step(self, phase: Phase, name: str, out: str, cls: type[T], fn: Callable[[], T]) -> T:
        """Run `fn` once: a finished step's artifact is read back instead of rerun."""
        if self.ws.step_done(phase, name):
            self.on_event("step_skipped", {"phase": phase.value, "step": name})
            return self.ws.read_model(out, cls)
        self.ws.check_cancel()  # a cancel request stops the cycle before its next step
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
    def conditions(self) -> dict[str, str]:
        """The task's conditions (storage/conditions.py): the blueprint's once it exists."""
        from nanoresearch.types import PlanningResult
        bp = (self.ws.read_model(A.PLANNING.path, PlanningResult).blueprint
              if self.ws.exists(A.PLANNING.path) else None)
        return task_conditions(self.state.topic, self.profile(), bp)

    def feedback_so_far(self) -> str:
        """Every stage's feedback in this project so far, oldest first."""
        texts = []
        for ph in PHASES:
            rel = A.FEEDBACK_RECORD.rel(phase=ph)
            if self.ws.exists(rel) and (fb := self.ws.read_model(rel, FeedbackRecord).feedback):
                texts.append(f"{ph.value}: {fb.text}")
        return "\n".join(texts)

    def requirements(self) -> list[MemoryEntry]:
        """The user's standing requirements and this project's own (whatever the query)."""
        st = self.state
        return [m for m in self.team.store.retrieve_memories(
            query=st.topic.problem_statement, user_id=st.user_id, project_id=st.project_id,
            k=50, categories=("requirement",)) if m.form]

    def plan(self, phase: Phase, stage: str, task: str, k: int = 6) -> PlanBundle:
        """Retrieve skills, memories and standing requirements for the task (with the
        task's conditions as tags/filters and this project's feedback in the query), then
        ask the planner (one step)."""
        def make() -> PlanBundle:
            st, store = self.state, self.team.store
            conds, fb = self.conditions(), self.feedback_so_far()
            task_fb = f"{task}\nResearcher feedback so far:\n{fb}" if fb else task
            skills = store.retrieve_skills(query=task_fb, stage=stage, user_id=st.user_id,
                                           tags=condition_tags(conds), k=k)
            mems = store.retrieve_memories(query=task_fb, user_id=st.user_id,
                                           conditions=filter_conditions(conds),
                                           project_id=st.project_id, k=k)
            reqs = unique_forms(self.requirements()) if stage in REQUIREMENT_STAGES else []
            mems = reqs + [m for m in mems if m.id not in {r.id for r in reqs}]
            plan = self.team.planner.plan(user_id=st.user_id, project_id=st.project_id,
                                          stage=stage, task=task_fb, profile=self.profile(),
                                          skills=skills, memories=mems)
            text = " ".join([*plan.steps, plan.rationale])
            cited_s = [s.id for s in skills if s.id in plan.selected_skill_ids or s.id in text]
            cited_m = [m.id for m in mems if m.id in plan.selected_memory_ids or m.id in text]
            chosen_m = [m for m in mems if m.id in cited_m or m.category == "requirement"]
            if reqs:  # the agents read plan.steps: standing requirements lead, marked as rule-added
                plan = plan.model_copy(update={"steps": [
                    f"[standing requirement] {r.form.get('artifact')} {r.form.get('field')}: "
                    f"{r.form.get('value')}" for r in reqs if r.form] + list(plan.steps)})
            return PlanBundle(plan=plan, skills=[s for s in skills if s.id in cited_s] or skills,
                              memories=chosen_m or mems, cited_skills=cited_s,
                              cited_memories=cited_m, feedback=fb)

        return self.step(phase, f"plan_{stage}", A.PLAN.rel(phase=phase, stage=stage),
                         PlanBundle, make)

    # ------------------------------------------------------------------ trajectory
    def record(self, phase: Phase, step: str, action: str, outcome: str = "", ok: bool = True,
               **detail: Any) -> None:
        rel = A.TRAJECTORY.rel(phase=phase)
        st = self.state
        traj = (self.ws.read_model(rel, Trajectory) if self.ws.exists(rel) else
                Trajectory(user_id=st.user_id, project_id=st.project_id, phase=phase,
                           domain=st.topic.domain, topic=st.topic.problem_statement[:300]))
        traj.conditions = self.conditions()
        traj.events.append(TrajectoryEvent(step=step, action=action, outcome=outcome[:2000],
                                           ok=ok, detail=detail))
        self.ws.write_json(rel, traj)

    def finish_phase(self, phase: Phase, summary: str, used: list[tuple[PlanBundle, bool]]) -> None:
        """Count the skills each plan cited (success = that step's outcome), reinforce the
        memories it cited, distill the trajectory, then ask for feedback."""
        def distill() -> DistillReport:
            store, uses = self.team.store, []
            for b, ok in used:
                uses += [(sid, ok) for sid in b.cited_skills]
                cats = {m.id: m.category for m in b.memories}
                for mid in b.cited_memories:
                    # a memory a successful step relied on gains support; a validated
                    # configuration that a failed step relied on is contradicted
                    if ok or cats.get(mid) == "validated_config":
                        store.reinforce_memory(mid, ok)
            rel = A.TRAJECTORY.rel(phase=phase)
            traj = self.ws.read_model(rel, Trajectory) if self.ws.exists(rel) else None
            # a debug patch that applied a skill (rule) or followed one (model) cites it;
            # success = the rerun succeeded
            for e in traj.events if traj else []:
                cited = [e.detail.get("skill_id"), *(e.detail.get("skill_ids") or [])]
                uses += [(sid, e.ok) for sid in cited if sid]
            for sid, ok in uses:
                try:
                    store.record_skill_usage(sid, ok)
                except UserError as e:  # evicted or deleted meanwhile: say so, go on
                    log.warning("skill usage not recorded: %s", e)
            if traj is None:
                return DistillReport(used=[u for u, _ in uses])
            traj.conditions = self.conditions()  # the blueprint's, once the phase wrote it
            skills, mems = self.team.reflector.distill(traj)
            stored_s = store.add_skills(skills)
            stored_m = store.add_memories(mems)
            # what the store kept (a variant with a layer off keeps nothing)
            return DistillReport(skills=[s.id for s in (skills if stored_s is None else stored_s)],
                                 memories=[m.id for m in (mems if stored_m is None else stored_m)],
                                 used=[u for u, _ in uses])

        self.step(phase, "distill", A.DISTILL.rel(phase=phase), DistillReport, distill)
        self.step(phase, "feedback", A.FEEDBACK_RECORD.rel(phase=phase), FeedbackRecord,
                  lambda: self._ask_feedback(phase, summary))

    def _ask_feedback(self, phase: Phase, summary: str) -> "FeedbackRecord":
        wait = float(getattr(self.team.feedback, "wait_s", 0) or 0)
        st = self._save_state(status=ProjectStatus.WAITING_FEEDBACK, waiting_feedback_for=phase,
                              feedback_deadline=time.time() + wait if wait > 0 else None)
        if wait > 0:
            self.on_event("waiting_feedback", {"phase": phase.value, "wait_s": wait})
        fb = self.team.feedback.ask(st.user_id, st.project_id, phase, summary)
        self._save_state(status=ProjectStatus.RUNNING, waiting_feedback_for=None,
                         feedback_deadline=None)
        learned: list[str] = []
        if fb is not None:
            self.on_event("feedback", {"phase": phase.value, "text": fb.text[:200]})
            learned = self._learn_feedback(fb)
            if self.team.on_feedback is not None:
                self.team.on_feedback(fb)
        return FeedbackRecord(feedback=fb, memories=learned)

    def _learn_feedback(self, fb: Feedback) -> list[str]:
        """Feedback -> standing requirements (user-bound, verifiable form) + a preference
        memory (user-bound when phrased as a standing preference, else this project's), so
        the next stage's retrieval and plan see it."""
        conds = filter_conditions(self.conditions())
        have = {tuple(sorted(m.form.items())) for m in self.requirements()}
        mems = [m for m in requirement_memories(fb.text, fb.user_id, fb.project_id)
                if tuple(sorted(m.form.items())) not in have]  # said again: already standing
        # a standing preference ("I prefer ...", "always ...") is kept for all the user's
        # projects under this task's conditions; other remarks stay with this project
        standing = standing_preference(fb.text)
        mems.append(MemoryEntry(user_id=fb.user_id, project_id=None if standing else fb.project_id,
                                category="preference",
                                content=f"{'standing preference' if standing else 'feedback'} on "
                                        f"{fb.phase.value}: {fb.text[:400]}",
                                conditions=conds, importance=0.8))
        stored = self.team.store.add_memories(mems)
        return [m.id for m in (mems if stored is None else stored)]


def new_project(workspace_root: Path, state: ProjectState) -> Workspace:
    ws = Workspace(workspace_root / state.project_id)
    if not ws.exists(A.PROJECT.path):
        ws.write_json(A.PROJECT.path, state)
    return ws
