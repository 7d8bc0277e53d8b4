"""The one list of a project's workspace artifacts: where each lives and what it holds.

Writers (actors/phases.py, the writing stage) and readers (the service behind the HTTP
API, the web page's project view, the CLI) name an artifact by its spec here instead of
repeating a path literal; `read` validates it against its model, so a renamed file or a
changed shape fails in one place. Optional artifacts written by newer agents
(coding notes, the experiment tree, requirements, provenance) are found by file name,
wherever their writer put them, and stay None until they exist.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from nanoresearch.types import (
    AnalysisReport, CodeArtifact, IdeationResult, LedgerEntry, Phase, PlanningResult, ProjectState, Review,
    RunsRecord, StageManifest, Trajectory, WritingResult,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArtifactSpec:
    """One artifact: `path` relative to the workspace (may hold `{phase}` / `{round}`),
    `model` its pydantic type (None: free-form JSON or a binary file)."""

    key: str
    path: str
    model: Any = None
    phase: Phase | None = None
    title: str = ""
    form: str = "json"  # json | jsonl | text | bytes

    def rel(self, **fmt: Any) -> str:
        return self.path.format(**{k: getattr(v, "value", v) for k, v in fmt.items()})


PROJECT = ArtifactSpec("project", "project.json", ProjectState, None, "project state")
# typed ProgressEvent lines, or the orchestrator actor's {kind, time, data} envelopes
EVENTS = ArtifactSpec("events", "events.jsonl", None, None, "progress events", "jsonl")
# typed events written from inside a step (runs, output tails, literature, LaTeX passes), in
# any process; the orchestrator follows it into `events` (nanoresearch/progress.py)
PROGRESS = ArtifactSpec("progress", "progress.jsonl", None, None, "progress inside steps", "jsonl")
LEDGER = ArtifactSpec("ledger", "ledger.jsonl", LedgerEntry, None, "model calls and cost", "jsonl")
MANIFEST = ArtifactSpec("manifest", "{phase}/manifest.json", StageManifest, None, "stage steps")
PLANNER_UPDATES = ArtifactSpec("planner_updates", "planner_updates.json", None, None,
                               "feedback-triggered SDPO rounds: published or failed")
TRAJECTORY = ArtifactSpec("trajectory", "{phase}/trajectory.json", Trajectory, None, "what happened")
IDEATION = ArtifactSpec("ideation", "ideation/ideation.json", IdeationResult, Phase.IDEATION,
                        "papers, evidence and hypotheses")
PLANNING = ArtifactSpec("planning", "ideation/planning.json", PlanningResult, Phase.IDEATION,
                        "blueprint and critiques")
CODE = ArtifactSpec("code", "experiment/code.json", CodeArtifact, Phase.EXPERIMENT, "first code")
RUNS = ArtifactSpec("runs", "experiment/runs.json", RunsRecord, Phase.EXPERIMENT,
                    "final code and every run")
ANALYSIS = ArtifactSpec("analysis", "experiment/analysis.json", AnalysisReport,
                        Phase.EXPERIMENT, "comparisons, figures, verdict")
WRITING = ArtifactSpec("writing", "writing/result.json", WritingResult, Phase.WRITING,
                       "paper draft and every review")
PAPER_PDF = ArtifactSpec("paper_pdf", "writing/paper.pdf", None, Phase.WRITING, "the paper", "bytes")
PAPER_TEX = ArtifactSpec("paper_tex", "writing/paper.tex", None, Phase.WRITING, "LaTeX source", "text")
# written by actors/writing_revise.py: the reviews of one round (reviewers, then the meta-review)
REVIEW_ROUND = ArtifactSpec("review_round", "writing/reviews/round_{round}.json", list[Review],
                            Phase.WRITING, "reviews of one round")
REVISION_HISTORY = ArtifactSpec("revision_history", "writing/revision_history.json", None,
                                Phase.WRITING, "scores, requests and revised sections per round")
CHECKS = ArtifactSpec("checks", "writing/checks.json", None, Phase.WRITING, "paper checks")
FEEDBACK = ArtifactSpec("feedback", "{phase}/feedback_{feedback_id}.json", None, None,
                        "feedback you gave")

# written by other agents when present; found by file name anywhere in the workspace
OPTIONAL_BY_NAME = {"coding_notes": "coding_notes.json", "tree": "tree.json",
                    "requirements": "requirements.json", "provenance": "provenance.json"}

ALL = [PROJECT, EVENTS, PROGRESS, LEDGER, MANIFEST, TRAJECTORY, IDEATION, PLANNING, CODE, RUNS, ANALYSIS,
       WRITING, PAPER_PDF, PAPER_TEX, REVIEW_ROUND, REVISION_HISTORY, CHECKS, FEEDBACK,
       PLANNER_UPDATES]
BY_KEY = {s.key: s for s in ALL}
_ROUND = re.compile(r"round_(\d+)\.json$")


def read(root: Path, spec: ArtifactSpec, **fmt: Any) -> Any:
    """The artifact validated against its model; None when it does not exist yet or does
    not validate (logged: a half-written or older file must not break a page)."""
    return read_path(Path(root) / spec.rel(**fmt), spec)


def matches(root: Path, spec: ArtifactSpec) -> list[str]:
    """Every workspace path this spec names (its placeholders as wildcards)."""
    pattern = re.sub(r"\{[a-z_]+\}", "*", spec.path)
    return sorted(str(p.relative_to(root)) for p in Path(root).glob(pattern) if p.is_file())


def read_path(path: Path, spec: ArtifactSpec) -> Any:
    """`read` for a path already resolved (e.g. one of `matches`)."""
    if not path.is_file():
        return None
    try:
        raw = path.read_bytes()
        if spec.form == "bytes":
            return raw
        if spec.form == "text":
            return raw.decode("utf-8")
        if spec.form == "jsonl":  # one record a line; `model` validates each
            rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
            return rows if spec.model is None else [spec.model.model_validate(r) for r in rows]
        if spec.model is None:
            return json.loads(raw)
        if isinstance(spec.model, type) and issubclass(spec.model, BaseModel):
            return spec.model.model_validate_json(raw)
        return TypeAdapter(spec.model).validate_json(raw)
    except (ValidationError, ValueError, OSError) as e:  # UnicodeDecodeError is a ValueError
        log.warning("artifact %s at %s does not read as %s: %s", spec.key, path, spec.model, e)
        return None


def review_rounds(root: Path) -> dict[int, list[Review]]:
    """{round: [reviews..., meta-review]} from every writing/reviews/round_<n>.json."""
    d = Path(root) / Path(REVIEW_ROUND.path).parent
    out: dict[int, list[Review]] = {}
    for p in sorted(d.glob("round_*.json")) if d.is_dir() else []:
        m = _ROUND.search(p.name)
        got = read(root, REVIEW_ROUND, round=m.group(1)) if m else None
        if got is not None:
            out[int(m.group(1))] = got
    return dict(sorted(out.items()))


def find_optional(root: Path, key: str) -> tuple[str, Any] | None:
    """(relative path, parsed JSON) of an optional artifact found by its file name."""
    name = OPTIONAL_BY_NAME[key]
    for p in sorted(Path(root).rglob(name), key=lambda p: len(p.parts)):
        if "/data/" in f"/{p.relative_to(root)}" or not p.is_file():
            continue
        try:
            return str(p.relative_to(root)), json.loads(p.read_text())
        except (ValueError, OSError) as e:
            log.warning("optional artifact %s unreadable: %s", p, e)
    return None
