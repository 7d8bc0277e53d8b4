from __future__ import annotations

import pytest

from actors.feedback import CallbackFeedback
from actors.orchestrator import Orchestrator, Team, new_project
from nanoresearch.config import Budgets
from nanoresearch.errors import BudgetExceeded
from nanoresearch.types import Phase, ProjectState, ProjectStatus, ResearchTopic, StepStatus
from tests.actors import fakes


def make_team(experiment=None, feedback=None, on_feedback=None, totals=None):
    return Team(ideation=fakes.FakeIdeation(), planning=fakes.FakePlanning(),
                experiment=experiment or fakes.FakeExperiment(), writing=fakes.FakeWriting(),
                store=fakes.FakeStore(), planner=fakes.FakePlanner(),
                reflector=fakes.FakeReflector(), **({"feedback": feedback} if feedback else {}),
                on_feedback=on_feedback, ledger_totals=totals)


@pytest.fixture()
def ws(tmp_path):
    fakes.CALLS.clear()
    st = ProjectState(project_id="p1", user_id="u1",
                      topic=ResearchTopic(problem_statement="does scaling help?", domain="tabular"))
    return new_project(tmp_path, st)


def test_full_cycle_runs_every_phase_and_records(ws):
    got = []
    team = make_team(feedback=CallbackFeedback(lambda ph, s: f"more on {ph.value}"),
                     on_feedback=got.append)
    st = Orchestrator(team, ws, Budgets()).run()
    assert st.status == ProjectStatus.DONE
    for ph in Phase:
        assert ws.manifest(ph).status == StepStatus.DONE
    assert [f.phase for f in got] == list(Phase)
    assert fakes.CALLS["plan"] == 4 and fakes.CALLS["distill"] == 3
    # the skill the planner selected is counted as used, with the stage outcome
    assert team.store.usage and all(ok for _, ok in team.store.usage)
    assert ws.exists("experiment/trajectory.json") and ws.exists("writing/result.json")


def test_resume_after_crash_redoes_no_finished_step(ws):
    st = Orchestrator(make_team(experiment=fakes.FakeExperiment(crash_on_run=True)), ws,
                      Budgets())
    with pytest.raises(RuntimeError):
        st.run()
    assert ws.read_model("project.json", ProjectState).status == ProjectStatus.FAILED
    assert ws.manifest(Phase.IDEATION).status == StepStatus.DONE
    before = dict(fakes.CALLS)
    final = Orchestrator(make_team(), ws, Budgets()).run()
    assert final.status == ProjectStatus.DONE
    assert fakes.CALLS["ideation"] == before["ideation"] == 1
    assert fakes.CALLS["planning"] == 1 and fakes.CALLS["coding"] == 1
    assert fakes.CALLS["run"] == 2  # the failed step, then its rerun


def test_budget_cap_stops_cleanly_with_state_saved(ws):
    team = make_team(totals=lambda: {"tokens": 10_000, "cost_usd": 0.0})
    st = Orchestrator(team, ws, Budgets(max_tokens=100)).run()
    assert st.status == ProjectStatus.BUDGET_EXCEEDED and "max_tokens" in st.error
    assert ws.read_model("project.json", ProjectState).status == ProjectStatus.BUDGET_EXCEEDED


def test_budget_exceeded_pickles():
    import pickle

    e = pickle.loads(pickle.dumps(BudgetExceeded("max_cost_usd", 3.0, 2.0)))
    assert e.limit == 2.0 and "resume" in str(e)
