"""Small in-memory team members with the real method shapes, counting their calls."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from nanoresearch.types import (
    AnalysisReport, Blueprint, CodeArtifact, DatasetSpec, Hypothesis, IdeationResult,
    LiteratureRecord, MethodSpec, MetricRecord, PaperDraft, Plan, PlanningResult, Review,
    RunResult, RunStatus, SkillEntry, SkillStage, WritingResult,
)

CALLS: Counter = Counter()


class FakeStore:
    def __init__(self):
        self.skills = [SkillEntry(stage=SkillStage.CODING, name="scale features")]
        self.usage: list[tuple[str, bool]] = []
        self.added: list = []

    def retrieve_skills(self, query, stage, user_id, k=6, **kw):
        return list(self.skills)

    def retrieve_memories(self, query, user_id, conditions=None, k=6, **kw):
        return []

    def get_profile(self, user_id):
        return None

    def record_skill_usage(self, skill_id, success):
        self.usage.append((skill_id, success))

    def add_skills(self, skills):
        self.added += list(skills)

    def add_memories(self, mems):
        self.added += list(mems)

    def seed_skills(self, skills):
        return 0

    def reinforce_memory(self, memory_id, supported=True):
        self.reinforced = [*getattr(self, "reinforced", []), (memory_id, supported)]

    def decay_memories(self, user_id):
        return {"decayed": 0, "dropped": 0}


class FakePlanner:
    def plan(self, user_id, project_id, stage, task, profile, skills, memories):
        CALLS["plan"] += 1
        return Plan(user_id=user_id, project_id=project_id, stage=stage, task=task,
                    steps=[f"do {stage}"], selected_skill_ids=[s.id for s in skills[:1]])


class FakeReflector:
    def distill(self, traj):
        CALLS["distill"] += 1
        return [], []


class FakeIdeation:
    def run(self, topic, profile, plan, skills, memories):
        CALLS["ideation"] += 1
        h = Hypothesis(statement="scaling helps")
        return IdeationResult(papers=[LiteratureRecord(id="arxiv:2101.00001", title="A")],
                              hypotheses=[h], selected_hypothesis_id=h.id)


class FakePlanning:
    def run(self, topic, profile, hypothesis, plan, skills, memories):
        CALLS["planning"] += 1
        bp = Blueprint(title="t", datasets=[DatasetSpec(name="digits")],
                       baselines=[MethodSpec(name="lr")], proposed_method=MethodSpec(name="m"),
                       metrics=["accuracy"], primary_metric="accuracy")
        return PlanningResult(blueprint=bp, passed=True)


class FakeExperiment:
    def __init__(self, crash_on_run: bool = False):
        self.crash_on_run = crash_on_run

    def write_code(self, bp, plan, skills, code_dir: Path):
        CALLS["coding"] += 1
        return CodeArtifact(files={"run.py": "print(1)"})

    def run(self, code, code_dir, on_event=None, skills=()):
        CALLS["run"] += 1
        if self.crash_on_run:
            raise RuntimeError("simulated crash")
        return code, [RunResult(status=RunStatus.SUCCEEDED, metrics=[
            MetricRecord(method="m", dataset="digits", metric="accuracy", value=0.9)])]

    last_cited: list = []

    def analyze(self, bp, runs, out_dir, skills=(), memories=()):
        CALLS["analysis"] += 1
        return AnalysisReport(summary="m beats lr", verdict="supported")


class FakeWriting:
    review_cited: list = []

    def write(self, **kw):
        CALLS["writing"] += 1
        return WritingResult(draft=PaperDraft(title="T"), pdf_path="writing/paper.pdf",
                             reviews=[Review(is_meta=True, overall=7)], rounds=1)
