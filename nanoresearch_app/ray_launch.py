"""Start a project's orchestrator actor from the CLI or the HTTP service, and follow it.

`launch_and_follow` starts (or joins) Ray, launches the project's `OrchestratorActor`
(detached when the server or `ray job submit` launched it, so it outlives its driver),
then streams its events until the cycle ends. Feedback follows `settings.feedback` as
it does without Ray: `http` and `skip` run in the actor (an http gate waits for posted
feedback up to `feedback_wait_s`); when this process has someone to ask (the CLI's
interactive mode, a simulated user), feedback is relayed: the actor emits
`feedback_wanted`, this process asks and sends the answer back. `attach` follows a
project started elsewhere (`nanoresearch run --detach`, the web page, another shell).
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from actors.feedback import FeedbackSource, QueuedFeedback, SkipFeedback
from nanoresearch import artifacts as A
from nanoresearch.config import Settings
from nanoresearch.errors import RunFailure, UserError
from nanoresearch.types import Phase, ProjectState
from nanoresearch.workspace import Workspace

log = logging.getLogger(__name__)
EVENTS_FILE = A.EVENTS.path


def launch_and_follow(settings: Settings, state: ProjectState, cycle: Callable, *,
                      on_event: Callable[[str, dict], None] | None, feedback: FeedbackSource | None,
                      detached: bool, wait: bool) -> ProjectState:
    from actors import ray_orchestrator as ro
    from nanoresearch.ray_runtime import init_ray_for
    from nanoresearch_app.compose import feedback_source, orchestrator_resources

    # the configured source, the same as without Ray (refused before anything starts)
    feedback = feedback if feedback is not None else feedback_source(settings, following=wait)
    # posted feedback (http) and skip need no driver: the actor holds that source itself,
    # so its gates wait (with the deadline in the status) however the run was started
    in_actor = isinstance(feedback, (QueuedFeedback, SkipFeedback))
    init_ray_for(settings)
    ws = Workspace(settings.projects_dir / state.project_id)
    handle = ro.launch(state.project_id, ws.path(EVENTS_FILE), cycle, relay=not in_actor,
                       source=feedback if in_actor else None, detached=detached,
                       resources=orchestrator_resources(settings))
    if not wait:
        return ws.read_model(A.PROJECT.path, ProjectState)
    answer = None
    if not in_actor:
        def answer(data: dict) -> Any:
            return feedback.ask(state.user_id, state.project_id, Phase(data["phase"]), data["summary"])
    result, error = ro.follow(handle, on_event or (lambda k, d: None), answer=answer)
    if error:
        raise RunFailure(f"project {state.project_id}: {error} (`nanoresearch resume "
                         f"{state.project_id}` continues from the last finished step)")
    return ProjectState.model_validate_json(result)


def attach(settings: Settings, project_id: str, on_event: Callable[[str, dict], None]) -> ProjectState:
    """Follow a running project's orchestrator from its first event of this run."""
    from actors import ray_orchestrator as ro
    from nanoresearch.ray_runtime import init_ray_for

    init_ray_for(settings)
    handle = ro.find(project_id)
    ws = Workspace(settings.projects_dir / project_id)
    if handle is None:
        if not ws.exists(A.PROJECT.path):
            raise UserError(f"no project {project_id!r}; `nanoresearch status` lists projects")
        st = ws.read_model(A.PROJECT.path, ProjectState)
        raise UserError(f"project {project_id} has no running orchestrator (status "
                        f"{st.status.value}); `nanoresearch resume {project_id}` continues it")
    result, error = ro.follow(handle, on_event)
    if error:
        raise RunFailure(f"project {project_id}: {error}")
    return ProjectState.model_validate_json(result)


def stop(settings: Settings, project_id: str) -> bool:
    from actors import ray_orchestrator as ro
    from nanoresearch.ray_runtime import init_ray_for

    init_ray_for(settings)
    return ro.stop(project_id)


def send_feedback(settings: Settings, project_id: str, fb: Any) -> bool:
    """Queue feedback in the project's running orchestrator; False when none runs."""
    from actors import ray_orchestrator as ro
    from nanoresearch.ray_runtime import init_ray_for

    init_ray_for(settings)
    return ro.submit_feedback(project_id, fb)
