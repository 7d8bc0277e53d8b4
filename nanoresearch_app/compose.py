"""The composition root: builds every component from Settings and runs a project.

Two shapes with the same orchestrator:
- in-process (`use_ray=False`): plain agents, the store opened here, the planner engine
  loaded here;
- Ray (default): the cycle runs in the project's orchestrator actor
  (actors/ray_orchestrator.py, launched by ray_launch.py), each agent is a Ray actor with
  its declared resources (actors/ray_app.py, nanoresearch/agents.py), the store has one
  owner actor (embedded Qdrant allows one process per path), the planner is the Ray Serve
  deployment reached over its OpenAI-compatible route (local plans while it starts), and
  every SDPO round is a Ray Train job.
`Variant` switches the personalization layers off for ablations (benchmarks/).
"""
from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from actors.feedback import FeedbackSource, InteractiveFeedback, SkipFeedback
from actors.orchestrator import Orchestrator, Team, new_project
from actors.stage_runners import ExperimentRunner, PaperWriter
from nanoresearch import artifacts as A
from nanoresearch.config import Settings
from nanoresearch.llm.ledger import Ledger
from nanoresearch.shipped_settings import shipped_json, with_secrets
from nanoresearch.types import Feedback, Phase, PlannerUpdate, ProjectState
from nanoresearch.workspace import CANCEL_FILE

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
    """Builds one declared agent in the calling process (module-level so Ray pickles it)."""
    import importlib

    from nanoresearch.agents import AGENTS as SPECS
    from nanoresearch.llm.registry import llm_for_agent
    from nanoresearch_app.agent_builders import BuildContext

    if name not in SPECS:
        raise ValueError(f"unknown agent {name!r}; declared in nanoresearch/agents.py: {', '.join(SPECS)}")
    s = with_secrets(Settings.model_validate_json(settings_json))
    ledger = Ledger(s.prices, s.budgets, ledger_path)
    module, fn = SPECS[name].builder.split(":")
    return getattr(importlib.import_module(module), fn)(BuildContext(s, lambda role: llm_for_agent(role, s, ledger),
                                                                     Path(ledger_path).parent))


def coding_mode(s: Settings):
    """The coding mode for the configured coding model (capability -> mode, with why)."""
    from nanoresearch_app.agent_builders import coding_mode as choose
    return choose(s)


def agent_builders(settings: Settings, ledger_path: Path) -> dict[str, Callable[[], Any]]:
    from nanoresearch.agents import AGENTS as SPECS
    js = shipped_json(settings)  # actor arguments carry no API keys (nanoresearch/shipped_settings.py)
    return {a: functools.partial(build_agent, a, js, str(ledger_path)) for a in SPECS}


def agent_resources(settings: Settings) -> dict[str, dict[str, float]]:
    from nanoresearch.agents import AGENTS as SPECS, agent_resources as declared
    c = settings.cluster
    return {a: declared(a, c.agent_resources, c.agent_node_resource) for a in SPECS}


def orchestrator_resources(settings: Settings) -> dict[str, float]:
    """Half a CPU (it mostly waits on its agents), on an agent node when marked."""
    from nanoresearch.agents import NODE_SLIVER
    marker = settings.cluster.agent_node_resource
    return {"CPU": 0.5, **({marker: NODE_SLIVER} if marker else {})}


def assemble_team(agents: dict[str, Any], store: Any, planner: Any, settings: Settings,
                  ledger: Ledger, feedback: FeedbackSource,
                  on_feedback: Callable[[Feedback], None] | None, cancel_file: Path | None = None) -> Team:
    from nanoresearch.execution.factory import make_executor

    executor = make_executor(settings)
    executor.cancel_file = str(cancel_file) if cancel_file else None  # a cancel kills the run in flight
    exp = ExperimentRunner(agents["coding"], agents["debugging"], agents["analysis"],
                           executor, settings.budgets, search=settings.coding.search,
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
    """The planner on Ray Serve, started in the background (a second project reuses the
    running replica): until it answers, plans come from the in-process engine, and each
    plan records which made it (serve/planner_handoff.py)."""
    from serve.auth import service_token
    from serve.planner_client import PlannerClient, http_chat
    from serve.planner_handoff import BackgroundStart, HandoffPlanner
    from serve.ray_planner import deploy_planner, planner_base_url, planner_running

    spec = settings.models.per_agent.get("planner")
    if spec and not spec.startswith("embedded:"):
        return local_planner(settings)  # a hosted planner: no replica to wait for
    started = BackgroundStart(lambda: planner_running() or deploy_planner(settings))
    url = planner_base_url(settings)
    return HandoffPlanner(started, lambda: PlannerClient(http_chat(url, service_token(settings.data_dir),
                                                                      settings.providers.timeout_s * 5)),
                          lambda: local_planner(settings))


# ---------------------------------------------------------------------- feedback -> SDPO
def train_round(settings: Settings, user_id: str, use_ray: bool, progress: Path | None = None):
    """One SDPO round in the background: the Ray Train job whenever Ray is on. `progress`:
    the project's progress.jsonl, where each optimizer step becomes a TrainingStep event."""
    from training.hf_model import ensure_base_model

    if use_ray:
        from training.ray_job import train_in_background
        return train_in_background(settings, user_id, ensure_base_model(settings), progress=progress)
    from training.background import train_in_background as in_process
    return in_process(settings, user_id, ensure_base_model(settings), progress=progress)


def feedback_trainer(settings: Settings, use_ray: bool, variant: Variant,
                     pending: list, progress: Path | None = None) -> Callable[[Feedback], None]:
    from serve.planner_log import PlannerLog

    def on_feedback(fb: Feedback) -> None:
        PlannerLog(settings.data_dir).log_feedback(fb)
        if variant.sdpo:
            pending.append(train_round(settings, fb.user_id, use_ray, progress))

    return on_feedback


def feedback_source(settings: Settings, following: bool = True) -> FeedbackSource:
    """The configured source, never silently another: `http` waits at each stage gate for
    feedback posted over HTTP or with `nanoresearch feedback` (settings.feedback_wait_s);
    `simulated` needs a persona, which only the benchmarks pass in; `interactive` needs
    this terminal to follow the run (`following`), so a detached run refuses it."""
    from actors.feedback import QueuedFeedback
    from nanoresearch.errors import UserError

    if settings.feedback == "interactive":
        if not following:
            raise UserError("feedback: interactive asks on the terminal that follows the run, and "
                            "a detached run has none; choose feedback: http (each stage waits "
                            "for feedback posted on the web page or with `nanoresearch feedback`) "
                            "or skip, or run without --detach")
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
                wait_training: bool = True, detached: bool = False, wait: bool = True,
                store: Any = None, train_on_ray: bool | None = None) -> ProjectState:
    """Run (or resume) a project. With Ray the cycle runs in the project's orchestrator
    actor (detached: it outlives this process) and its events stream to `on_event`;
    `wait=False` returns once it started (`nanoresearch attach` follows it later).
    `store`: an open in-process store to use (and leave open), e.g. the HTTP service's
    own: embedded Qdrant lets one holder per path, so the service lends its store.
    `train_on_ray`: SDPO rounds as Ray Train jobs even when the cycle runs in-process
    (a sweep cell, itself a Ray task); None: whatever `use_ray` says."""
    new_project(settings.projects_dir, state)
    cycle = functools.partial(run_cycle, shipped_json(settings), state.model_dump_json(),
                              phases, variant, wait_training, use_ray,
                              train_on_ray=use_ray if train_on_ray is None else train_on_ray)
    if not use_ray:
        return ProjectState.model_validate_json(cycle(on_event or _ignore, feedback or feedback_source(settings),
                                                      lent_store=store))
    from nanoresearch_app.ray_launch import launch_and_follow
    return launch_and_follow(settings, state, cycle, on_event=on_event, feedback=feedback,
                             detached=detached, wait=wait)


def _ignore(kind: str, data: dict) -> None:
    pass


def run_cycle(settings_json: str, state_json: str, phases: tuple[Phase, ...] | None,
              variant: Variant, wait_training: bool, use_ray: bool,
              on_event: Callable[[str, dict], None], feedback: FeedbackSource,
              lent_store: Any = None, train_on_ray: bool | None = None) -> str:
    """The cycle itself, in the orchestrator actor (Ray) or this process; returns the
    final ProjectState as JSON (picklable everywhere)."""
    settings = with_secrets(Settings.model_validate_json(settings_json))
    state = ProjectState.model_validate_json(state_json)
    ws = new_project(settings.projects_dir, state)
    if on_event is not None:  # the CLI's step line shows the coding mode and why
        choice = coding_mode(settings)
        on_event("coding_mode", {"mode": choice.mode, "why": choice.why})
    ledger_path = ws.path(A.LEDGER.path)
    ledger = Ledger(settings.prices, settings.budgets, ledger_path)
    pending: list = []
    agents, store, planner, stop = _services(settings, state, ledger_path, use_ray, lent_store)
    t0 = time.perf_counter()
    from actors.progress import LedgerTail
    tail = LedgerTail(ledger_path, on_event).start()  # each model call as a progress event
    if _new_in_registry(store, state):
        store.create_project(state.user_id, state.topic.problem_statement[:120], state.project_id)
    on_fb = feedback_trainer(settings, use_ray if train_on_ray is None else train_on_ray, variant, pending,
                             ws.path(A.PROGRESS.path))
    team = assemble_team(agents, VariantStore(store, variant), planner, settings, ledger, feedback, on_fb,
                         cancel_file=ws.path(CANCEL_FILE))
    try:
        final = Orchestrator(team, ws, settings.budgets, tail.ordered(on_event)).run(phases or _all_phases())
        store.set_project_status(state.project_id, final.status)
        if use_ray:  # what Ray cost this cycle (benchmarks/orchestration_overhead.py --ray)
            from actors.ray_app import hop_overhead
            (on_event or _ignore)("ray_overhead", {**hop_overhead(agents),
                                                   "cycle_s": round(time.perf_counter() - t0, 3)})
    finally:
        tail.stop()
        stop()
    if wait_training:
        _wait_rounds(pending, ws)
    return final.model_dump_json()


def _services(settings: Settings, state: ProjectState, ledger_path: Path, use_ray: bool,
              lent_store: Any = None):
    """(agents, store, planner, stop): Ray actors + the store owner + Serve, or in-process."""
    builders = agent_builders(settings, ledger_path)
    if use_ray:
        from actors.ray_app import start_agents, stop_agents
        from nanoresearch.ray_runtime import init_ray_for
        from storage.ray_store import connect_store
        init_ray_for(settings)  # a no-op inside the orchestrator actor
        planner = serve_planner(settings)  # starts in the background: first
        agents = start_agents(builders, namespace=f"nr-{state.project_id}",
                              resources=agent_resources(settings))
        return agents, connect_store(settings, detached=True), planner, lambda: stop_agents(agents)
    from storage.service import open_store
    if lent_store is not None:  # the caller's store: used, left open
        return {k: b() for k, b in builders.items()}, lent_store, local_planner(settings), _noop
    store = open_store(settings)
    return {k: b() for k, b in builders.items()}, store, local_planner(settings), \
        (store.close if hasattr(store, "close") else _noop)


def _noop() -> None:
    pass


def _wait_rounds(pending: list, ws: Any = None) -> None:
    """Wait for the feedback-triggered SDPO rounds; a failed round must not fail the finished
    project, so it is logged and recorded in the project's `planner_updates.json`."""
    from nanoresearch.artifacts import PLANNER_UPDATES
    from training.trained_by import trained_by

    outcomes = []
    for h in pending:
        try:
            rec = h.wait()
            if rec is None:  # its feedback was consumed by an earlier round (e.g. the CLI's)
                outcomes.append(PlannerUpdate(status="skipped", why=getattr(h, "skipped", "") or ""))
                continue
            log.info("planner adapter v%s published for %s", rec.version, rec.user_id)
            outcomes.append(PlannerUpdate(status="published", user_id=rec.user_id, version=rec.version,
                                          trained_by=trained_by(rec.metrics)))
        except Exception as e:  # noqa: BLE001 - recorded below, where status and the page show files
            log.error("planner update failed: %s", e)
            outcomes.append(PlannerUpdate(status="failed", error=f"{type(e).__name__}: {e}"[:500]))
    if ws is not None and outcomes:
        ws.write_json(PLANNER_UPDATES.path, [o.model_dump(mode="json") for o in outcomes])


def _all_phases() -> tuple[Phase, ...]:
    return (Phase.IDEATION, Phase.EXPERIMENT, Phase.WRITING)


def _new_in_registry(store: Any, state: ProjectState) -> bool:
    try:
        store.get_project(state.project_id)
        return False
    except Exception:
        return True


def apply_feedback(settings: Settings, fb: Feedback, wait: bool = False,
                   use_ray: bool = True) -> dict:
    """Feedback given after a stage finished: log it beside the planner calls it judges,
    then train the user's next adapter (SDPO; the Ray Train job unless `use_ray=False`),
    in the background unless `wait`. The published version is what the live Serve
    replica answers with from its next request (it follows the registry's pointer). A
    feedback already consumed by a round (the stage gate saw it first) trains nothing
    again: the answer says `skipped` (training/history.py `claim_round`)."""
    from serve.planner_log import PlannerLog

    PlannerLog(settings.data_dir).log_feedback(fb)
    s = settings.model_copy(deep=True)
    if wait:
        s.serve.train_in_background = False
    handle = train_round(s, fb.user_id, use_ray)
    if getattr(handle, "skipped", None):  # this feedback was trained on already (stage gate)
        return {"feedback": fb.feedback_id, "training": f"skipped: {handle.skipped}"}
    if not wait:
        return {"feedback": fb.feedback_id, "training": "started in the background"}
    rec = handle.wait()
    return {"feedback": fb.feedback_id, "adapter_version": rec.version, "metrics": rec.metrics}
