"""The composition root: builds every component from Settings and runs a project.

Two shapes with the same orchestrator:
- in-process (`use_ray=False`): plain agents, the store opened here, the planner engine
  loaded here;
- Ray (default): each agent is a Ray actor (actors/ray_app.py), the store has one owner
  actor (embedded Qdrant allows one process per path), the planner is the Ray Serve
  deployment reached over its OpenAI-compatible route, and SDPO runs as a Ray Train job.
`Variant` switches the personalization layers off for ablations (benchmarks/).
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from actors.feedback import FeedbackSource, InteractiveFeedback, SkipFeedback
from actors.orchestrator import Orchestrator, Team, new_project
from actors.stage_runners import ExperimentRunner, PaperWriter
from nanoresearch.config import Settings
from nanoresearch.llm.ledger import Ledger
from nanoresearch.types import Feedback, Phase, ProjectState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    """Which personalization layers evolve (benchmarks ablate them)."""

    name: str = "full"
    memory: bool = True
    skills: bool = True
    sdpo: bool = True


VARIANTS = {
    "base": Variant("base", memory=False, skills=False, sdpo=False),
    "memory": Variant("memory", memory=True, skills=False, sdpo=False),
    "skills": Variant("skills", memory=False, skills=True, sdpo=False),
    "sdpo": Variant("sdpo", memory=False, skills=False, sdpo=True),
    "full": Variant("full"),
}


class VariantStore:
    """The store as one variant sees it: disabled layers retrieve nothing and learn nothing."""

    def __init__(self, store: Any, variant: Variant):
        self._store, self._v = store, variant

    def retrieve_skills(self, *a: Any, **kw: Any) -> list:
        return self._store.retrieve_skills(*a, **kw) if self._v.skills else []

    def add_skills(self, skills: list) -> list:
        return self._store.add_skills(skills) if self._v.skills else []

    def retrieve_memories(self, *a: Any, **kw: Any) -> list:
        return self._store.retrieve_memories(*a, **kw) if self._v.memory else []

    def add_memories(self, mems: list) -> list:
        return self._store.add_memories(mems) if self._v.memory else []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


# ---------------------------------------------------------------------- agents
def build_agent(name: str, settings_json: str, ledger_path: str) -> Any:
    """Builds one agent in the calling process (module-level so Ray can pickle it)."""
    from nanoresearch.llm.registry import llm_for_agent

    s = Settings.model_validate_json(settings_json)
    ledger = Ledger(s.prices, s.budgets, ledger_path)

    def llm(agent: str):
        return llm_for_agent(agent, s, ledger)

    if name == "ideation":
        from actors.ideation import IdeationAgent
        from nanoresearch.embeddings import make_embedder
        from nanoresearch.literature.search import make_literature
        emb = make_embedder(s.storage.embedder)
        return IdeationAgent(llm("ideation"), make_literature(s, emb, base_urls=s.literature.base_urls or None), s.budgets, emb)
    if name == "planning":
        from actors.planning import PlanningAgent
        from nanoresearch.datasets import get_catalog
        return PlanningAgent(llm("planning"), llm("review"), get_catalog(), s.budgets)
    if name == "coding":
        from actors.coding import CodingAgent
        choice = coding_mode(s)
        return CodingAgent(llm("coding"), None, s.budgets, mode=choice.mode,
                           partition=s.execution.slurm_partition, choice=choice.notes())
    if name == "debugging":
        from actors.debugging import DebuggingAgent
        return DebuggingAgent(llm("debugging"), s.budgets)
    if name == "analysis":
        from actors.analysis import AnalysisAgent
        return AnalysisAgent(llm("analysis"))
    if name == "writing":
        from actors.writing import WritingAgent
        return WritingAgent(llm("writing"), s.budgets)
    if name == "review":
        from actors.review import ReviewAgent
        return ReviewAgent(llm("review"), s.budgets.reviewers)
    if name == "reflection":
        from storage.reflection import Reflector
        return Reflector(llm("reflection"))
    raise ValueError(f"unknown agent {name!r}")


def coding_mode(s: Settings):
    """The coding mode for the configured coding model (capability -> mode, with why)."""
    from nanoresearch.coding.capability import choose_mode
    return choose_mode(s.coding.mode, s.models.for_agent("coding"), s.models.capabilities)


AGENTS = ("ideation", "planning", "coding", "debugging", "analysis", "writing", "review",
          "reflection")


def agent_builders(settings: Settings, ledger_path: Path) -> dict[str, Callable[[], Any]]:
    js = settings.model_dump_json()
    return {a: functools.partial(build_agent, a, js, str(ledger_path)) for a in AGENTS}


def assemble_team(agents: dict[str, Any], store: Any, planner: Any, settings: Settings,
                  ledger: Ledger, feedback: FeedbackSource,
                  on_feedback: Callable[[Feedback], None] | None) -> Team:
    from nanoresearch.execution.factory import make_executor

    exp = ExperimentRunner(agents["coding"], agents["debugging"], agents["analysis"],
                           make_executor(settings), settings.budgets, search=settings.coding.search,
                           ray_address=settings.execution.ray_address)
    return Team(ideation=agents["ideation"], planning=agents["planning"], experiment=exp,
                writing=PaperWriter(agents["writing"], agents["review"], settings.budgets),
                store=store, planner=planner, reflector=agents["reflection"], feedback=feedback,
                on_feedback=on_feedback, ledger_totals=ledger.summary)


# ---------------------------------------------------------------------- planner
def local_planner(settings: Settings):
    """The planner engine in this process (no Serve)."""
    from serve.planner_client import PlannerClient, engine_chat, llm_chat
    from serve.planner_engine import PlannerEngine
    from serve.planner_log import PlannerLog
    from storage.adapters import AdapterRegistry
    from training.hf_model import ensure_base_model

    spec = settings.models.per_agent.get("planner")
    plog = PlannerLog(settings.data_dir)
    if spec and not spec.startswith("embedded:"):
        from nanoresearch.llm.registry import make_llm
        return PlannerClient(llm_chat(make_llm(spec, settings, agent="planner"), plog))
    engine = PlannerEngine(str(ensure_base_model(settings)), AdapterRegistry(settings.adapters_dir), plog)
    return PlannerClient(engine_chat(engine))


def serve_planner(settings: Settings):
    """Deploy (or reuse) the Serve planner and talk to it over its OpenAI route."""
    from serve.planner_client import PlannerClient, http_chat
    from serve.ray_planner import deploy_planner, planner_base_url

    from serve.auth import service_token

    deploy_planner(settings)
    return PlannerClient(http_chat(planner_base_url(settings), service_token(settings.data_dir),
                                   settings.providers.timeout_s * 5))


# ---------------------------------------------------------------------- feedback -> SDPO
def feedback_trainer(settings: Settings, use_ray: bool, variant: Variant,
                     pending: list) -> Callable[[Feedback], None]:
    from serve.planner_log import PlannerLog

    def on_feedback(fb: Feedback) -> None:
        PlannerLog(settings.data_dir).log_feedback(fb)
        if not variant.sdpo:
            return
        from training.hf_model import ensure_base_model
        from training.ray_job import train_in_background
        pending.append(train_in_background(settings, fb.user_id, ensure_base_model(settings),
                                           use_ray=use_ray))

    return on_feedback


def feedback_source(settings: Settings) -> FeedbackSource:
    """The configured source, never silently another: `http` waits at each stage gate for
    feedback posted over HTTP or with `nanoresearch feedback` (settings.feedback_wait_s);
    `simulated` needs a persona, which only the benchmarks pass in."""
    from actors.feedback import QueuedFeedback
    from nanoresearch.errors import UserError

    if settings.feedback == "interactive":
        return InteractiveFeedback()
    if settings.feedback == "http":
        return QueuedFeedback(wait_s=settings.feedback_wait_s, inbox=settings.projects_dir)
    if settings.feedback == "simulated":
        raise UserError("feedback: simulated needs a simulated researcher (persona); the "
                        "benchmarks pass one in (python -m benchmarks.sweep). For a run, choose "
                        "feedback: interactive, http or skip")
    return SkipFeedback()


# ---------------------------------------------------------------------- run
def run_project(settings: Settings, state: ProjectState, *, phases: tuple[Phase, ...] | None = None,
                use_ray: bool = True, on_event: Callable[[str, dict], None] | None = None,
                feedback: FeedbackSource | None = None, variant: Variant = VARIANTS["full"],
                wait_training: bool = True, store: Any = None) -> ProjectState:
    """`store`: an open in-process store to use (and leave open), e.g. the HTTP service's
    own: embedded Qdrant lets one holder per path, so the service lends its store."""
    ws = new_project(settings.projects_dir, state)
    if on_event is not None:  # the CLI's step line shows the coding mode and why
        choice = coding_mode(settings)
        on_event("coding_mode", {"mode": choice.mode, "why": choice.why})
    lent = store
    ledger_path = ws.path("ledger.jsonl")
    ledger = Ledger(settings.prices, settings.budgets, ledger_path)
    pending: list = []
    on_fb = feedback_trainer(settings, use_ray, variant, pending)
    fb = feedback or feedback_source(settings)
    builders = agent_builders(settings, ledger_path)
    if use_ray:
        from actors.ray_app import init_ray, start_agents, stop_agents
        from storage.ray_store import connect_store
        init_ray(settings.execution.ray_address)
        agents = start_agents(builders, namespace=f"nr-{state.project_id}")
        store, planner = connect_store(settings), serve_planner(settings)
    else:
        from storage.service import open_store
        agents = {k: b() for k, b in builders.items()}
        store, planner = lent or open_store(settings), local_planner(settings)
    store.create_project(state.user_id, state.topic.problem_statement[:120], state.project_id) \
        if _new_in_registry(store, state) else None
    team = assemble_team(agents, VariantStore(store, variant), planner, settings, ledger, fb, on_fb)
    try:
        final = Orchestrator(team, ws, settings.budgets, on_event).run(phases or _all_phases())
        store.set_project_status(state.project_id, final.status)
    finally:
        if use_ray:
            stop_agents(agents)
        elif hasattr(store, "close") and lent is None:
            store.close()
    if wait_training:
        for h in pending:
            try:
                rec = h.wait()
                log.info("planner adapter v%s published for %s", rec.version, rec.user_id)
            except Exception as e:  # training failure must not fail the finished project
                log.error("planner update failed: %s", e)
    return final


def _all_phases() -> tuple[Phase, ...]:
    return (Phase.IDEATION, Phase.EXPERIMENT, Phase.WRITING)


def _new_in_registry(store: Any, state: ProjectState) -> bool:
    try:
        store.get_project(state.project_id)
        return False
    except Exception:
        return True


def apply_feedback(settings: Settings, fb: Feedback, wait: bool = False,
                   use_ray: bool = False) -> dict:
    """Feedback given after a stage finished: log it beside the planner calls it judges,
    then train the user's next adapter (SDPO), in the background unless `wait`."""
    from serve.planner_log import PlannerLog
    from training.hf_model import ensure_base_model
    from training.ray_job import train_in_background

    PlannerLog(settings.data_dir).log_feedback(fb)
    s = settings.model_copy(deep=True)
    if wait:
        s.serve.train_in_background = False
    handle = train_in_background(s, fb.user_id, ensure_base_model(s), use_ray=use_ray)
    if not wait:
        return {"feedback": fb.feedback_id, "training": "started in the background"}
    rec = handle.wait()
    return {"feedback": fb.feedback_id, "adapter_version": rec.version, "metrics": rec.metrics}
