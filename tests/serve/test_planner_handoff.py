"""While the Serve replica starts, plans come from the local planner; once it is ready
the replica answers. Each plan records which one made it."""
from __future__ import annotations

import threading

from nanoresearch.types import Plan, UserProfile
from serve.planner_handoff import BackgroundStart, HandoffPlanner


class Client:
    def __init__(self, tag: str):
        self.tag, self.calls = tag, 0

    def plan(self, user_id, project_id, stage, task, profile, skills, memories) -> Plan:
        self.calls += 1
        return Plan(user_id=user_id, stage=stage, task=task, steps=[f"{self.tag}: {task}"])


def _ask(p: HandoffPlanner, stage: str) -> Plan:
    return p.plan(user_id="u", project_id="p", stage=stage, task=f"{stage} task",
                  profile=UserProfile(user_id="u"), skills=[], memories=[])


def test_local_plans_until_the_replica_is_ready_then_serve():
    gate = threading.Event()
    started = BackgroundStart(lambda: gate.wait(30))
    remote, local = Client("serve"), Client("local")
    p = HandoffPlanner(started, lambda: remote, lambda: local)
    first = _ask(p, "ideation")
    assert first.made_by == "local" and first.steps == ["local: ideation task"]
    gate.set()
    assert started.wait(10)
    second = _ask(p, "coding")
    assert second.made_by == "serve" and remote.calls == 1 and local.calls == 1


def test_a_replica_that_fails_to_start_leaves_local_plans_and_the_error():
    def boom():
        raise RuntimeError("no planner node")

    started = BackgroundStart(boom)
    assert not started.wait(10) and "no planner node" in str(started.error)
    local = Client("local")
    p = HandoffPlanner(started, lambda: (_ for _ in ()).throw(AssertionError("unused")), lambda: local)
    assert _ask(p, "writing").made_by == "local"


def test_a_quick_replica_never_builds_the_local_engine():
    started = BackgroundStart(lambda: None)
    assert started.wait(10)
    p = HandoffPlanner(started, lambda: Client("serve"),
                       lambda: (_ for _ in ()).throw(AssertionError("local engine built")))
    assert _ask(p, "ideation").made_by == "serve"
