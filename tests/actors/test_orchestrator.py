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


# ---------------------------------------------------------------------- the learning loop
import threading  # noqa: E402
import time  # noqa: E402

from actors.feedback import QueuedFeedback  # noqa: E402
from nanoresearch.embeddings import HashEmbedder  # noqa: E402
from nanoresearch.types import (  # noqa: E402
    AnalysisReport, Feedback, Hypothesis, IdeationResult, LiteratureRecord,
)
from actors.reflection import Reflector  # noqa: E402
from storage.service import StoreService  # noqa: E402
from storage.vector_store import make_vector_store  # noqa: E402


class RecordingPlanner(fakes.FakePlanner):
    def __init__(self):
        self.calls = []

    def plan(self, **kw):
        self.calls.append(kw)
        return super().plan(**kw)


class TwoIdeas(fakes.FakeIdeation):
    def run(self, topic, profile, plan, skills, memories):
        self.memories = memories
        a = Hypothesis(statement="feature scaling improves accuracy on digits", score=0.9)
        b = Hypothesis(statement="pixel binning reduces error on digits", score=0.5)
        return IdeationResult(papers=[LiteratureRecord(id="arxiv:2101.00001", title="A")],
                              hypotheses=[a, b], selected_hypothesis_id=a.id)


class Refuting(fakes.FakeExperiment):
    def analyze(self, bp, runs, out_dir, skills=(), memories=()):
        return AnalysisReport(summary="the method is no better than lr", verdict="refuted")


@pytest.fixture()
def store(tmp_path):
    svc = StoreService(make_vector_store("edge", str(tmp_path / "q")), HashEmbedder(), tmp_path, tmp_path)
    yield svc
    svc.close()


def project(tmp_path, pid: str, user: str = "u1"):
    return new_project(tmp_path / "projects", ProjectState(
        project_id=pid, user_id=user,
        topic=ResearchTopic(problem_statement="does feature scaling help digit classification?",
                            domain="vision", datasets=["digits"])))


def real_team(store, **kw):
    base = dict(ideation=TwoIdeas(), planning=fakes.FakePlanning(), experiment=fakes.FakeExperiment(),
                writing=fakes.FakeWriting(), store=store, planner=RecordingPlanner(),
                reflector=Reflector())
    return Team(**{**base, **kw})


def test_feedback_steers_the_next_stage_and_becomes_a_standing_requirement(tmp_path, store):
    text = "use logistic regression as a baseline and always report an efficiency table"
    fb = CallbackFeedback(lambda ph, s: text if ph == Phase.IDEATION else None)
    team = real_team(store, feedback=fb)
    Orchestrator(team, project(tmp_path, "p1"), Budgets()).run()
    coding = next(c for c in team.planner.calls if c["stage"] == "coding")
    assert text in coding["task"]  # the feedback reached the next stage's plan
    assert any(m.category == "requirement" for m in coding["memories"])
    steps = project(tmp_path, "p1").read_json("writing/plan_writing.json")["plan"]["steps"]
    assert "[standing requirement] paper table: efficiency" in steps  # the writer reads these
    reqs = store.requirements("u1")
    assert sorted(m.form["field"] for m in reqs) == ["baselines", "table"]
    # said at the ideation gate, after p1's blueprint was made: p1's record checks it on that blueprint
    rec1 = {c["form"]["field"]: c for c in project(tmp_path, "p1").read_json("requirements.json")["checks"]}
    assert rec1["baselines"]["met"] is False and "baselines" in rec1["baselines"]["evidence"]
    # a second project of the same user: the blueprint is made to meet it by rule
    team2 = real_team(store)
    ws2 = project(tmp_path, "p2")
    Orchestrator(team2, ws2, Budgets()).run()
    bp = ws2.read_model("ideation/planning.json", __import__("nanoresearch.types").types.PlanningResult).blueprint
    assert "logistic regression" in [b.name for b in bp.baselines]
    rec = ws2.read_json("requirements.json")
    by_field = {c["form"]["field"]: c for c in rec["checks"]}
    assert by_field["baselines"]["met"] is True and by_field["baselines"]["enforced"] is True
    assert by_field["table"]["met"] is False  # the fake paper has no efficiency table
    # another user sees none of it
    assert store.requirements("u2") == []


def test_more_datasets_is_met_by_rule_with_a_catalog_dataset_of_the_same_task(tmp_path, store):
    fb = CallbackFeedback(lambda ph, s: "more datasets, always" if ph == Phase.IDEATION else None)
    Orchestrator(real_team(store, feedback=fb), project(tmp_path, "p1"), Budgets()).run()
    ws2 = project(tmp_path, "p2")
    Orchestrator(real_team(store), ws2, Budgets()).run()
    from nanoresearch.datasets import get_catalog
    from nanoresearch.types import PlanningResult
    names = [d.name for d in ws2.read_model("ideation/planning.json", PlanningResult).blueprint.datasets]
    cat = get_catalog()
    assert names[0] == "digits" and len(names) == 2  # the fake planner's one dataset, plus one
    assert (cat[names[1]].domain, cat[names[1]].task) == (cat["digits"].domain, cat["digits"].task)
    (check,) = [c for c in ws2.read_json("requirements.json")["checks"] if c["form"]["field"] == "min_datasets"]
    assert check["met"] is True and check["enforced"] is True


def test_a_second_project_on_the_same_topic_avoids_the_refuted_hypothesis(tmp_path, store):
    Orchestrator(real_team(store, experiment=Refuting()), project(tmp_path, "p1"), Budgets()).run()
    failed = [m for m in store.list_memories("u1") if m.category == "failed_direction"]
    assert any("feature scaling improves accuracy" in m.content and m.project_id is None for m in failed)
    team2 = real_team(store)
    ws2 = project(tmp_path, "p2")
    Orchestrator(team2, ws2, Budgets()).run()
    ide = ws2.read_model("ideation/ideation.json", IdeationResult)
    assert ide.selected().statement == "pixel binning reduces error on digits"
    assert any("feature scaling" in m.content for m in team2.ideation.memories)
    # a different user on the same topic is not steered by u1's failure
    ws3 = project(tmp_path, "p3", user="u2")
    Orchestrator(real_team(store), ws3, Budgets()).run()
    assert ws3.read_model("ideation/ideation.json", IdeationResult).selected().statement.startswith("feature")


def test_http_feedback_gate_waits_with_a_visible_deadline(tmp_path, store):
    ws = project(tmp_path, "p1")
    src = QueuedFeedback(wait_s=30, inbox=tmp_path / "projects", poll_s=0.05)
    seen = {}

    def post_when_waiting():
        for _ in range(600):
            st = ws.read_model("project.json", ProjectState)
            if st.status == ProjectStatus.WAITING_FEEDBACK:
                seen["deadline"] = st.feedback_deadline
                fb = Feedback(user_id="u1", project_id="p1", phase=Phase.IDEATION,
                              text="use ridge as a baseline", source="http")
                ws.write_json(f"ideation/feedback_{fb.feedback_id}.json", fb)
                return
            time.sleep(0.02)

    t = threading.Thread(target=post_when_waiting)
    t.start()
    Orchestrator(real_team(store, feedback=src), ws, Budgets()).run(phases=(Phase.IDEATION,))
    t.join()
    assert seen["deadline"] and seen["deadline"] > time.time()
    assert ws.read_json("ideation/feedback.json")["feedback"]["text"] == "use ridge as a baseline"
    assert ws.read_model("project.json", ProjectState).feedback_deadline is None
    assert [m.form["value"] for m in store.requirements("u1")] == ["ridge"]


def test_feedback_gate_times_out_and_goes_on(tmp_path):
    src = QueuedFeedback(wait_s=0.1, inbox=tmp_path, poll_s=0.02)
    assert src.ask("u1", "p1", Phase.WRITING, "s") is None
    with pytest.raises(ValueError, match="wait_s"):
        QueuedFeedback(wait_s=-1)


def test_no_feedback_setting_is_silently_replaced(tmp_path):
    from nanoresearch.config import Settings
    from nanoresearch.errors import UserError
    from nanoresearch_app.compose import feedback_source

    s = Settings(data_dir=tmp_path, feedback="http", feedback_wait_s=42)
    src = feedback_source(s)
    assert isinstance(src, QueuedFeedback) and src.wait_s == 42 and src.inbox == s.projects_dir
    with pytest.raises(UserError, match="persona"):
        feedback_source(Settings(data_dir=tmp_path, feedback="simulated"))


def test_a_skill_offered_but_not_cited_is_not_counted_as_used(ws):
    class Ignores(fakes.FakePlanner):
        def plan(self, **kw):
            p = super().plan(**kw)
            return p.model_copy(update={"selected_skill_ids": []})

    team = make_team()
    team.planner = Ignores()
    Orchestrator(team, ws, Budgets()).run()
    assert team.store.usage == []  # offered to every agent, cited by no plan


def test_cited_memories_are_reinforced_by_the_step_outcome(ws):
    from nanoresearch.types import MemoryEntry

    cfg = MemoryEntry(user_id="u1", category="validated_config", content="lr=0.01 is stable")

    class Store(fakes.FakeStore):
        def retrieve_memories(self, query, user_id, conditions=None, k=6, **kw):
            return [] if kw.get("categories") else [cfg]

    class Cites(fakes.FakePlanner):
        def plan(self, **kw):
            return super().plan(**kw).model_copy(update={"selected_memory_ids": [cfg.id]})

    team = make_team(experiment=fakes.FakeExperiment())
    team.store, team.planner = Store(), Cites()
    Orchestrator(team, ws, Budgets()).run()
    assert team.store.reinforced and all(mid == cfg.id and ok for mid, ok in team.store.reinforced)


def test_debug_fixes_count_the_skills_they_applied_or_followed(ws):
    """A rule fix from a skill (source skill:<id>) and a model patch that followed offered
    skills (skills_cited) both count those skills' usage, with the rerun's outcome."""
    from actors.learning_steps import record_debug

    team = make_team()
    team.planner = type("Ignores", (fakes.FakePlanner,), {
        "plan": lambda self, **kw: fakes.FakePlanner.plan(self, **kw).model_copy(
            update={"selected_skill_ids": []})})()
    o = Orchestrator(team, ws, Budgets())
    fail = {"category": "exception", "message": "ValueError: shapes not aligned"}
    record_debug(o, "outcome", {"source": "skill:s-rule", "summary": "w.T", "resolved": False,
                                "status_after": "failed", "failure": fail})
    record_debug(o, "outcome", {"source": "llm", "summary": "w.T", "resolved": True, "status_after": "succeeded",
                                "failure": fail, "skills_cited": ["s-a", "s-b"]})
    o.finish_phase(Phase.EXPERIMENT, "summary", [])
    assert sorted(team.store.usage) == [("s-a", True), ("s-b", True), ("s-rule", False)]


def test_a_standing_preference_without_a_form_reaches_the_users_next_project(tmp_path, store):
    """Free-text feedback with no verifiable form: phrased as a standing preference it is
    kept for the user's later projects; a remark about this project stays with it."""
    from storage.requirements import parse_forms

    pref, remark = "I prefer a plain-spoken discussion section", "the abstract here reads too long"
    assert parse_forms(pref) == [] and parse_forms(remark) == []
    said = {Phase.IDEATION: pref, Phase.EXPERIMENT: remark}
    team = real_team(store, feedback=CallbackFeedback(lambda ph, s: said.get(ph)))
    Orchestrator(team, project(tmp_path, "p1"), Budgets()).run()
    mems = {m.content: m for m in store.list_memories("u1") if m.category == "preference"}
    standing = next(m for c, m in mems.items() if pref in c)
    local = next(m for c, m in mems.items() if remark in c)
    assert standing.project_id is None and standing.content.startswith("standing preference on ideation")
    assert local.project_id == "p1"
    team2 = real_team(store)
    Orchestrator(team2, project(tmp_path, "p2"), Budgets()).run()
    seen = [m.content for c in team2.planner.calls for m in c["memories"]]
    assert any(pref in s for s in seen) and not any(remark in s for s in seen)


def test_every_agent_that_acts_retrieves_its_stage_s_skills(ws):
    """Ideation (literature), planning, coding, debugging, analysis (experiment), writing
    and review each query the skill bank under their own stage, with the task's tags."""
    class Recording(fakes.FakeStore):
        def __init__(self):
            super().__init__()
            self.queries: list[tuple[str, tuple]] = []

        def retrieve_skills(self, query, stage, user_id, k=6, **kw):
            self.queries.append((str(getattr(stage, "value", stage)), tuple(kw.get("tags") or ())))
            return super().retrieve_skills(query, stage, user_id, k, **kw)

    team = make_team(experiment=fakes.FakeExperiment())
    team.store = Recording()
    Orchestrator(team, ws, Budgets()).run()
    stages = {s for s, _ in team.store.queries}
    assert stages >= {"literature", "planning", "coding", "debugging", "experiment", "writing", "review"}
    assert all(tags for s, tags in team.store.queries if s in ("coding", "debugging", "writing"))
