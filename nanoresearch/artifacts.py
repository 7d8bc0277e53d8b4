"""The one list of a project's workspace artifacts: where each lives and what it holds.

Writers (the orchestrator and actors/phases.py, the agents handed a phase directory via
`spec.at(dir)`) and readers (the service behind the HTTP API, the web page's project
view, the CLI, the judge) name an artifact by its spec here instead of repeating a path
literal; `read` validates it against its model (whose `kind` and `schema_version` the
spec reports), so a renamed file or a changed shape fails in one place.
tests/test_artifacts.py walks a finished project through this list and checks that no
other module spells these paths. The page also finds some optional artifacts
(`OPTIONAL_BY_NAME`) by file name, wherever their writer put them.
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
    AnalysisReport, CodeArtifact, CodingNotes, DistillReport, Feedback, FeedbackRecord,
    IdeationResult, LedgerEntry, MetricRecord, PaperDraft, Phase, PlanBundle, PlanningResult,
    PlannerUpdate, ProjectState, RequirementsRecord, Review, RunsRecord, SearchTree, StageManifest, Trajectory, WritingResult,
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

    def at(self, phase_dir: str | Path, **fmt: Any) -> Path:
        """The artifact inside its phase's directory, for an agent handed that directory
        (the writing agents get `paper_dir` = <workspace>/writing)."""
        head, sep, rest = self.rel(**fmt).partition("/")
        if not sep:
            raise ValueError(f"artifact {self.key} lives at the workspace root, not in a phase dir")
        return Path(phase_dir) / rest

    @property
    def name(self) -> str:
        """The file name: for writers handed the artifact's directory (the paper dir)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def glob(self) -> str:
        """The path with its placeholders as wildcards (`name_glob`: the file name's)."""
        return re.sub(r"\{[a-z_]+\}", "*", self.path)

    @property
    def name_glob(self) -> str:
        return self.glob.rsplit("/", 1)[-1]

    @property
    def item_model(self) -> Any:
        """The pydantic class of the artifact (of each item, for a list or a JSON-lines file)."""
        args = getattr(self.model, "__args__", ())
        return args[0] if args and getattr(self.model, "__origin__", None) is list else self.model

    @property
    def kind(self) -> str | None:
        """The `kind` its model writes (the discriminator of nanoresearch/types.py)."""
        field = getattr(self.item_model, "model_fields", {}).get("kind")
        return field.default if field is not None else None

    @property
    def schema_version(self) -> int | None:
        field = getattr(self.item_model, "model_fields", {}).get("schema_version")
        return field.default if field is not None else None


PROJECT = ArtifactSpec("project", "project.json", ProjectState, None, "project state")
# typed ProgressEvent lines, or the orchestrator actor's {kind, time, data} envelopes
EVENTS = ArtifactSpec("events", "events.jsonl", None, None, "progress events", "jsonl")
# typed events written from inside a step (runs, output tails, literature, LaTeX passes), in
# any process; the orchestrator follows it into `events` (nanoresearch/progress.py)
PROGRESS = ArtifactSpec("progress", "progress.jsonl", None, None, "progress inside steps", "jsonl")
LEDGER = ArtifactSpec("ledger", "ledger.jsonl", LedgerEntry, None, "model calls and cost", "jsonl")
MANIFEST = ArtifactSpec("manifest", "{phase}/manifest.json", StageManifest, None, "stage steps")
PLANNER_UPDATES = ArtifactSpec("planner_updates", "planner_updates.json", list[PlannerUpdate], None,
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
DRAFT = ArtifactSpec("draft", "writing/draft.json", PaperDraft, Phase.WRITING,
                     "the current paper draft (sections, citations, problems)")
PROVENANCE = ArtifactSpec("provenance", "writing/provenance.json", None, Phase.WRITING,
                          "who wrote each paper section: a model or a rule")
REVISION_HISTORY = ArtifactSpec("revision_history", "writing/revision_history.json", None,
                                Phase.WRITING, "scores, requests and revised sections per round")
CHECKS = ArtifactSpec("checks", "writing/checks.json", None, Phase.WRITING, "paper checks")
FEEDBACK = ArtifactSpec("feedback", "{phase}/feedback_{feedback_id}.json", Feedback, None,
                        "feedback you gave")
# written by the orchestrator (actors/orchestrator.py) around every phase's steps
PLAN = ArtifactSpec("plan", "{phase}/plan_{stage}.json", PlanBundle, None,
                    "a planner call with the skills and memories it was given and cited")
DISTILL = ArtifactSpec("distill", "{phase}/distill.json", DistillReport, None,
                       "what reflection distilled from the phase and the store kept")
FEEDBACK_RECORD = ArtifactSpec("feedback_record", "{phase}/feedback.json", FeedbackRecord, None,
                               "the feedback asked for after a phase and what it became")
# every metric line the analysis used, in the experiment's own line schema (no kind)
METRICS_ALL = ArtifactSpec("metrics_all", "experiment/metrics_all.json", list[MetricRecord],
                           Phase.EXPERIMENT, "every metric record the analysis used")
# standing requirements checked against what the stage produced (actors/learning_steps.py)
REQUIREMENTS = ArtifactSpec("requirements", "{phase}/requirements.json", RequirementsRecord, None,
                            "the stage's requirement checks")
PROJECT_REQUIREMENTS = ArtifactSpec("project_requirements", "requirements.json", RequirementsRecord, None,
                                    "every requirement with its last check")
CODING_NOTES = ArtifactSpec("coding_notes", "experiment/code/coding_notes.json", CodingNotes,
                            Phase.EXPERIMENT, "which coding mode ran and why")
TREE = ArtifactSpec("tree", "experiment/tree.json", SearchTree, Phase.EXPERIMENT,
                    "the code search tree")

# written by other agents when present; found by file name anywhere in the workspace
OPTIONAL_BY_NAME = {"coding_notes": "coding_notes.json", "tree": "tree.json",
                    "requirements": "requirements.json", "provenance": "provenance.json"}

ALL = [PROJECT, EVENTS, PROGRESS, LEDGER, MANIFEST, TRAJECTORY, IDEATION, PLANNING, CODE, RUNS,
       ANALYSIS, WRITING, PAPER_PDF, PAPER_TEX, REVIEW_ROUND, REVISION_HISTORY, CHECKS, FEEDBACK,
       PLANNER_UPDATES, DRAFT, PROVENANCE, PLAN, DISTILL, FEEDBACK_RECORD, REQUIREMENTS,
       PROJECT_REQUIREMENTS, CODING_NOTES, TREE, METRICS_ALL]
BY_KEY = {s.key: s for s in ALL}
_ROUND = re.compile(r"round_(\d+)\.json$")


def read(root: Path, spec: ArtifactSpec, **fmt: Any) -> Any:
    """The artifact validated against its model; None when it does not exist yet or does
    not validate (logged: a half-written or older file must not break a page)."""
    return read_path(Path(root) / spec.rel(**fmt), spec)


def matches(root: Path, spec: ArtifactSpec) -> list[str]:
    """Every workspace path this spec names (its placeholders as wildcards)."""
    return sorted(str(p.relative_to(root)) for p in Path(root).glob(spec.glob) if p.is_file())


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
