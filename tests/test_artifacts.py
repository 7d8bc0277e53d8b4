"""The artifact registry (nanoresearch/artifacts.py) is the one list of a project's
artifacts: (a) a project run end to end (scripted team, real orchestrator and workspace)
is walked and every registered artifact present validates against its model, read
through the registry, and no artifact the system wrote is unnamed; (b) no module outside
the registry spells an artifact's path or file name as a string literal."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from actors.feedback import CallbackFeedback
from actors.orchestrator import Orchestrator, new_project
from nanoresearch import artifacts as A
from nanoresearch.config import Budgets
from nanoresearch.types import (
    Artifact, DistillReport, FeedbackRecord, Phase, PlanBundle, ProjectState, ProjectStatus, ResearchTopic,
    RunsRecord,
)
from tests.actors import fakes
from tests.actors.test_orchestrator import make_team
from tests.artifact_walk import unnamed_json, walk

REPO = Path(__file__).resolve().parents[1]
ROOMS = ("nanoresearch", "storage", "training", "actors", "serve", "nanoresearch_app",
         "nanoresearch_cli", "benchmarks")
# Modules allowed to spell an artifact's path, with why (none today). Each entry must
# still need it (checked below), so the list cannot go stale.
ALLOWED: dict[str, str] = {}


def test_a_finished_project_reads_back_through_the_registry(tmp_path):
    fakes.CALLS.clear()
    st = ProjectState(project_id="p1", user_id="u1",
                      topic=ResearchTopic(problem_statement="does scaling help?", domain="tabular"))
    ws = new_project(tmp_path, st)
    team = make_team(feedback=CallbackFeedback(lambda ph, s: f"more on {ph.value}"))
    assert Orchestrator(team, ws, Budgets()).run().status == ProjectStatus.DONE

    found = walk(ws.root)
    keys = {spec.key for spec, _ in found.values()}
    assert {"project", "manifest", "trajectory", "ideation", "planning", "code", "runs",
            "analysis", "writing", "plan", "distill", "feedback_record"} <= keys
    assert unnamed_json(ws.root, found) == []
    # the values are the writers' models, read through the registry
    assert isinstance(A.read(ws.root, A.RUNS), RunsRecord)
    assert A.read(ws.root, A.RUNS).runs[0].metrics[0].value == 0.9
    assert isinstance(A.read(ws.root, A.PLAN, phase=Phase.IDEATION, stage="literature"), PlanBundle)
    assert isinstance(A.read(ws.root, A.DISTILL, phase=Phase.WRITING), DistillReport)
    fb = A.read(ws.root, A.FEEDBACK_RECORD, phase=Phase.EXPERIMENT)
    assert isinstance(fb, FeedbackRecord) and fb.feedback.text == "more on experiment"
    assert A.read(ws.root, A.PROJECT).status == ProjectStatus.DONE


def test_a_changed_shape_fails_the_walk(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "runs.json").write_text('{"runs": []}')  # no code: not a RunsRecord
    try:
        walk(tmp_path)
    except AssertionError as e:
        assert "experiment/runs.json" in str(e)
    else:
        raise AssertionError("an invalid artifact passed the walk")


def test_every_spec_has_a_unique_key_and_path_and_typed_ones_a_kind():
    assert len({s.key for s in A.ALL}) == len(A.ALL) == len({s.path for s in A.ALL})
    for s in A.ALL:  # the system's own models carry both; MetricRecord is the experiment's line schema
        if s.item_model is not None and issubclass(s.item_model, Artifact):
            assert s.kind and s.schema_version, f"{s.key}: its model has no kind/schema_version"
    assert {s.key for s in A.ALL if s.item_model is not None and not issubclass(s.item_model, Artifact)} \
        == {"metrics_all"}


def _patterns() -> list[tuple[str, re.Pattern]]:
    def rx(path: str) -> re.Pattern:
        return re.compile(re.sub(r"\\\{[a-z_]+\\\}", ".+", re.escape(path)) + r"\Z")
    return [(s.key, rx(p)) for s in A.ALL for p in (s.path, s.name)]


def _string_literals(tree: ast.AST):
    """(line, text) of every string literal but docstrings; an f-string with its
    placeholders as '{x}'."""
    docs, parts = set(), set()
    for n in ast.walk(tree):
        body = getattr(n, "body", None)
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            docs.add(id(body[0].value))
        if isinstance(n, ast.JoinedStr):
            parts |= {id(v) for v in n.values}
    for n in ast.walk(tree):
        if id(n) in docs or id(n) in parts:
            continue
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            yield n.lineno, n.value
        elif isinstance(n, ast.JoinedStr):
            yield n.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{x}" for v in n.values)


def test_no_module_spells_an_artifact_path():
    pats = _patterns()
    hits: dict[str, list[str]] = {}
    for room in ROOMS:
        for f in sorted((REPO / room).rglob("*.py")):
            rel = str(f.relative_to(REPO))
            if rel == "nanoresearch/artifacts.py":
                continue
            for line, s in _string_literals(ast.parse(f.read_text(), rel)):
                key = next((k for k, p in pats if p.match(s)), None)
                if key:
                    hits.setdefault(rel, []).append(f"{rel}:{line}: {s!r} is artifact {key!r}")
    bad = [h for rel, hs in hits.items() if rel not in ALLOWED for h in hs]
    assert not bad, "use the spec in nanoresearch/artifacts.py:\n" + "\n".join(bad)
    assert set(ALLOWED) <= set(hits), f"stale allow-list entries: {set(ALLOWED) - set(hits)}"


def test_the_scan_catches_a_literal():
    tree = ast.parse('"""runs.json"""\nx = ws / "experiment/runs.json"\ny = f"{p}/plan_{s}.json"\n'
                     'z = d / "paper.pdf"\nok = "results.json"')
    pats = _patterns()
    got = sorted(s for _, s in _string_literals(tree) if any(p.match(s) for _, p in pats))
    assert got == ["experiment/runs.json", "paper.pdf", "{x}/plan_{x}.json"]  # not the docstring
