"""The orchestrator actor: launched detached, followed by a later `attach` that replays
its events from the start; feedback posted while it runs is used by the stage; once it
is done, attach says how to continue instead of hanging."""
from __future__ import annotations

import functools
import json

import pytest

ray = pytest.importorskip("ray")

from actors import ray_orchestrator as ro  # noqa: E402
from nanoresearch.errors import UserError  # noqa: E402
from nanoresearch.types import Feedback, Phase, ProjectState, ResearchTopic  # noqa: E402
from nanoresearch import artifacts as A  # noqa: E402
from nanoresearch.workspace import Workspace  # noqa: E402
from nanoresearch_app.ray_launch import attach, launch_and_follow, send_feedback  # noqa: E402
from tests.cluster.cycles import scripted_cycle  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture()
def local_ray():
    ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=2,
             log_to_driver=False)
    yield
    ray.shutdown()


def test_detached_orchestrator_is_reattached_and_takes_posted_feedback(local_ray, settings, tmp_path):
    state = ProjectState(project_id="p-att", user_id="u1",
                         topic=ResearchTopic(problem_statement="does scaling help?", domain="tabular"))
    root, gate = settings.projects_dir, tmp_path / "gate"
    cycle = functools.partial(scripted_cycle, str(root), state.model_dump_json(), str(gate))
    ro.launch("p-att", root / "p-att" / "events.jsonl", cycle, detached=True)
    assert ro.find("p-att") is not None  # waiting on the gate, in the experiment phase
    fb = Feedback(user_id="u1", project_id="p-att", phase=Phase.EXPERIMENT, text="fewer seeds", source="http")
    assert send_feedback(settings, "p-att", fb)
    gate.touch()
    seen: list[str] = []
    final = attach(settings, "p-att", lambda kind, data: seen.append(kind))
    assert final.status.value == "done"
    assert seen[0] == "phase_start" and seen[-1] == "cycle_done"  # replayed from the start
    rec = json.loads((root / "p-att" / "experiment" / "feedback.json").read_text())
    assert rec["feedback"]["text"] == "fewer seeds"
    assert ro.find("p-att") is None
    with pytest.raises(UserError, match="resume p-att"):
        attach(settings, "p-att", lambda k, d: None)


def test_http_feedback_gate_waits_in_the_actor_with_a_visible_deadline(local_ray, settings, tmp_path):
    """`feedback: http` on Ray: the actor's stage gate waits for feedback posted while it
    waits (status waiting_feedback with a deadline), and the stage records that feedback;
    before, the actor took only what was already posted and never waited."""
    settings.feedback, settings.feedback_wait_s = "http", 600.0
    state = ProjectState(project_id="p-http", user_id="u1",
                         topic=ResearchTopic(problem_statement="does scaling help?", domain="tabular"))
    root, gate = settings.projects_dir, tmp_path / "gate"
    gate.touch()  # the experiment runs straight through
    cycle = functools.partial(scripted_cycle, str(root), state.model_dump_json(), str(gate))
    from actors.orchestrator import new_project
    ws = new_project(root, state)  # as run_project does before it launches
    for phase in (Phase.EXPERIMENT, Phase.WRITING):  # later gates find theirs in the inbox
        fb = Feedback(user_id="u1", project_id="p-http", phase=phase, text=f"note on {phase.value}",
                      source="http")
        ws.write_json(A.FEEDBACK.rel(phase=phase, feedback_id=fb.feedback_id), fb)
    launch_and_follow(settings, state, cycle, on_event=None, feedback=None, detached=True, wait=False)
    handle = ro.find("p-http")
    ev = _wait_for_event(handle, "waiting_feedback")
    assert ev["data"] == {"phase": "ideation", "wait_s": 600.0}
    st = ws.read_model(A.PROJECT.path, ProjectState)
    assert st.status.value == "waiting_feedback" and st.feedback_deadline is not None
    fb = Feedback(user_id="u1", project_id="p-http", phase=Phase.IDEATION,
                  text="use logistic regression as a baseline", source="http")
    assert send_feedback(settings, "p-http", fb)
    final = attach(settings, "p-http", lambda kind, data: None)
    assert final.status.value == "done"
    for phase, text in ((Phase.IDEATION, fb.text), (Phase.EXPERIMENT, "note on experiment")):
        rec = json.loads((root / "p-http" / phase.value / "feedback.json").read_text())
        assert rec["feedback"]["text"] == text


def test_a_run_nobody_can_answer_is_refused_before_it_starts(settings):
    state = ProjectState(project_id="p-ref", user_id="u1",
                         topic=ResearchTopic(problem_statement="does scaling help?", domain="tabular"))
    settings.feedback = "interactive"  # a detached run has no terminal to ask on
    with pytest.raises(UserError, match="detached run has none"):
        launch_and_follow(settings, state, print, on_event=None, feedback=None, detached=True, wait=False)
    settings.feedback = "simulated"
    with pytest.raises(UserError, match="simulated researcher"):
        launch_and_follow(settings, state, print, on_event=None, feedback=None, detached=False, wait=True)
    assert not ray.is_initialized()  # refused before Ray or an actor started


def test_stopping_a_running_orchestrator_keeps_its_finished_steps(local_ray, settings, tmp_path):
    from nanoresearch.workspace import Workspace
    from nanoresearch_app.ray_launch import stop

    state = ProjectState(project_id="p-stop", user_id="u1",
                         topic=ResearchTopic(problem_statement="does scaling help?", domain="tabular"))
    root = settings.projects_dir
    cycle = functools.partial(scripted_cycle, str(root), state.model_dump_json(), str(tmp_path / "never"))
    handle = ro.launch("p-stop", root / "p-stop" / "events.jsonl", cycle)
    _wait_for_step(handle, "run")  # the experiment waits on a gate that never opens
    assert stop(settings, "p-stop") and ro.find("p-stop") is None
    ws = Workspace(root / "p-stop")
    assert ws.step_done(Phase.IDEATION, "ideation") and not ws.step_done(Phase.EXPERIMENT, "run")


def _wait_for_step(handle, step: str) -> None:
    _wait_for(handle, lambda ev: ev["kind"] == "step_start" and ev["data"].get("step") == step)


def _wait_for_event(handle, kind: str) -> dict:
    return _wait_for(handle, lambda ev: ev["kind"] == kind)


def _wait_for(handle, match) -> dict:
    """The first event (replayed from the start) that `match` accepts; fails if the cycle ends first."""
    since = 0
    while True:
        out = ray.get(handle.poll.remote(since, wait_s=1.0))
        for ev in out["events"]:
            since = ev["seq"] + 1
            if match(ev):
                return ev
        assert not out["done"], out["error"]
