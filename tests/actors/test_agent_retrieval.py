"""The analysis and review agents retrieve like the others: what the orchestrator retrieved
is in their prompt with ids, and a skill counts as used (a memory is reinforced) only when
the agent's accepted output cites it."""
from __future__ import annotations

import json

from actors.analysis import AnalysisAgent
from actors.orchestrator import Orchestrator
from actors.review import ReviewAgent
from nanoresearch.config import Budgets
from nanoresearch.llm.scripted import FunctionModel
from nanoresearch.types import (
    AnalysisReport, MemoryEntry, ProjectState, ResearchTopic, SkillEntry, SkillStage,
)
from tests.actors import fakes
from tests.actors.test_analysis import bp, runs_from
from tests.actors.test_orchestrator import make_team
from tests.actors.test_review import good_draft, review_json

SKILL = SkillEntry(id="sk-report1", stage=SkillStage.EXPERIMENT, name="report deltas",
                   trigger="when a method loses", instructions=["state the delta against the best baseline"])
OTHER = SkillEntry(id="sk-other1", stage=SkillStage.EXPERIMENT, name="plot", instructions=["add a bar chart"])
MEM = MemoryEntry(id="mem-effic1", user_id="u1", category="requirement",
                  content="always report an efficiency table")


class Recording(FunctionModel):
    def __init__(self, reply):
        self.prompts: list[str] = []
        super().__init__(lambda msgs: (self.prompts.append(msgs[-1].content), reply(msgs))[1])


def test_analysis_prompt_carries_retrieved_context_and_counts_only_cited_ids(tmp_path):
    runs = runs_from({"Base": [0.90, 0.91, 0.92], "Ours": [0.80, 0.82, 0.81]})
    reply = {"summary": "Ours reached 0.81 and lost to Base (0.91), delta -0.1.",
             "used_ids": ["sk-report1", "sk-made-up"]}
    llm = Recording(lambda m: json.dumps(reply))
    agent = AnalysisAgent(llm)
    rep = agent.analyze(bp(), runs, tmp_path / "a", skills=[SKILL, OTHER], memories=[MEM])
    assert "[sk-report1] when a method loses: state the delta" in llm.prompts[0]
    assert "[mem-effic1] always report an efficiency table" in llm.prompts[0]
    assert agent.last_used == ["sk-report1"]  # an id it was not offered is ignored
    assert any("cited by the summary: sk-report1" in n for n in rep.notes)
    # a summary that fails the number check is not the accepted result: nothing is used
    liar = AnalysisAgent(Recording(lambda m: json.dumps({"summary": "Ours wins with 99.9% accuracy now.",
                                                          "used_ids": ["sk-report1"]})))
    liar.analyze(bp(), runs, tmp_path / "b", skills=[SKILL], memories=[MEM])
    assert liar.last_used == []


def test_review_prompt_carries_requirements_and_only_usable_reviews_cite(tmp_path):
    out = {**review_json(6), "used_ids": ["mem-effic1", "sk-nope"]}
    llm = Recording(lambda m: json.dumps(out))
    agent = ReviewAgent(llm, n_reviewers=1)
    agent.review(good_draft(tmp_path), tmp_path, skills=[SKILL], memories=[MEM])
    assert "[mem-effic1] always report an efficiency table" in llm.prompts[0]
    assert agent.last_used == ["mem-effic1"]
    broken = ReviewAgent(Recording(lambda m: "not json"), n_reviewers=1, retries=0)
    broken.review(good_draft(tmp_path), tmp_path, skills=[SKILL], memories=[MEM])
    assert broken.paths[0].startswith("fallback") and broken.last_used == []


class GivenStore(fakes.FakeStore):
    """Retrieval by stage, recorded; memories for the user."""

    def __init__(self):
        super().__init__()
        self.asked: list[tuple[str, str]] = []
        self.by_stage = {"experiment": [SKILL, OTHER], "review": [SkillEntry(
            id="sk-revw1", stage=SkillStage.REVIEW, name="check seeds", instructions=["ask for seeds"])]}

    def retrieve_skills(self, query, stage, user_id, k=6, **kw):
        self.asked.append((str(getattr(stage, "value", stage)), query))
        return list(self.by_stage.get(getattr(stage, "value", stage), self.skills))

    def retrieve_memories(self, query, user_id, conditions=None, k=6, categories=(), **kw):
        return [MEM] if not categories or "requirement" in categories else []


class CitingExperiment(fakes.FakeExperiment):
    def analyze(self, bp, runs, out_dir, skills=(), memories=()):
        self.given = (list(skills), list(memories))
        self.last_cited = ["sk-report1", MEM.id]
        return AnalysisReport(summary="m beats lr", verdict="supported")


class CitingWriting(fakes.FakeWriting):
    def write(self, **kw):
        self.given = (kw["review_skills"], kw["review_memories"])
        self.review_cited = ["sk-revw1"]
        return super().write(**kw)


def test_orchestrator_gives_analysis_and_review_their_retrieval_and_counts_citations(tmp_path):
    fakes.CALLS.clear()
    st = ProjectState(project_id="p1", user_id="u1",
                      topic=ResearchTopic(problem_statement="does scaling help?", domain="tabular"))
    from actors.orchestrator import new_project
    ws = new_project(tmp_path, st)
    team = make_team(experiment=CitingExperiment())
    team.store, team.writing = GivenStore(), CitingWriting()
    Orchestrator(team, ws, Budgets()).run()
    stages = [s for s, _ in team.store.asked]
    assert "experiment" in stages and "review" in stages
    assert [s.id for s in team.experiment.given[0]] == ["sk-report1", "sk-other1"]
    assert team.experiment.given[1] == [MEM]
    assert [s.id for s in team.writing.given[0]] == ["sk-revw1"] and MEM in team.writing.given[1]
    used = [sid for sid, _ in team.store.usage]
    assert "sk-report1" in used and "sk-revw1" in used and "sk-other1" not in used  # offered, not cited
    assert (MEM.id, True) in team.store.reinforced
