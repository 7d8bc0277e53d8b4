"""What a researcher reads about a project, stage by stage, assembled from its artifacts.

`load_view(root)` reads each artifact through nanoresearch/artifacts.py and returns a
`ProjectView` the HTTP API sends and the web page renders: the question, papers,
hypotheses and blueprint of Stage I; code, runs, debug attempts, results and figures of
Stage II; the paper, the reviews of every round and what each revision changed of Stage
III. Anything not written yet is None or empty, never an error.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from nanoresearch import artifacts as A
from nanoresearch.types import (
    AnalysisReport, CodeArtifact, Feedback, IdeationResult, Phase, PlanningResult, Review,
    RunResult, SCHEMA_VERSION, WritingResult,
)

MAX_FILE_CHARS = 60_000  # a source file shown on the page; longer ones are cut (download for all)


class DebugAttempt(BaseModel):
    attempt: int = 0
    source: str = ""  # "llm", a rule name, "skill:<id>"
    summary: str = ""
    diff: str = ""
    failure: str = ""
    resolved: bool | None = None


class FigureView(BaseModel):
    path: str  # an image the browser can show (png), relative to the workspace
    caption: str = ""
    label: str = ""


class OptionalArtifact(BaseModel):
    path: str
    data: Any = None


class ProjectView(BaseModel):
    kind: Literal["project_view"] = "project_view"
    schema_version: int = SCHEMA_VERSION
    project_id: str
    ideation: IdeationResult | None = None
    planning: PlanningResult | None = None
    code: CodeArtifact | None = None  # the final code (after debugging) when runs exist
    runs: list[RunResult] = Field(default_factory=list)
    debug: list[DebugAttempt] = Field(default_factory=list)
    analysis: AnalysisReport | None = None
    figures: list[FigureView] = Field(default_factory=list)
    writing: WritingResult | None = None
    cited_paper_ids: list[str] = Field(default_factory=list)  # papers the paper cites
    pdf: str | None = None
    review_rounds: dict[int, list[Review]] = Field(default_factory=dict)
    revision_history: dict[str, Any] | None = None
    feedback: dict[Phase, list[Feedback]] = Field(default_factory=dict)
    extras: dict[str, OptionalArtifact] = Field(default_factory=dict)


def load_view(root: Path, project_id: str) -> ProjectView:
    root = Path(root)
    ide = A.read(root, A.IDEATION)
    if ide is not None:  # the ReAct trace is for debugging the agent, not for the page
        ide = ide.model_copy(update={"react_trace": [], "evidence": ide.evidence[:30]})
    rr = A.read(root, A.RUNS)
    rep = A.read(root, A.ANALYSIS)
    code = rr.code if rr is not None else A.read(root, A.CODE)
    hist = A.read(root, A.REVISION_HISTORY)
    pdf = A.PAPER_PDF.path if (root / A.PAPER_PDF.path).is_file() else None
    writing = A.read(root, A.WRITING)
    return ProjectView(
        project_id=project_id, cited_paper_ids=cited(ide, writing), ideation=ide, planning=A.read(root, A.PLANNING),
        code=_trim(code), runs=rr.runs if rr else [], debug=debug_attempts(root),
        analysis=rep, figures=figures(root, rep), writing=_slim(writing), pdf=pdf,
        review_rounds=A.review_rounds(root), revision_history=hist if isinstance(hist, dict) else None,
        feedback=given_feedback(root), extras=_extras(root))


def cited(ide: IdeationResult | None, res: WritingResult | None) -> list[str]:
    """Ids of the retrieved papers whose BibTeX key the paper cites."""
    from nanoresearch.latex.bib import bib_key
    keys = set(res.draft.bib_keys) if res else set()
    return [p.id for p in ide.papers if bib_key(p.id) in keys] if ide and keys else []


def _trim(code: CodeArtifact | None) -> CodeArtifact | None:
    if code is None:
        return None
    files = {k: v if len(v) <= MAX_FILE_CHARS else v[:MAX_FILE_CHARS] + "\n... (cut; download the file)"
             for k, v in code.files.items()}
    return code.model_copy(update={"files": files})


def _slim(res: WritingResult | None) -> WritingResult | None:
    # the reviews come per round (review_rounds); the LaTeX of each section stays downloadable
    if res is None:
        return None
    draft = res.draft.model_copy(update={"sections": []})
    return res.model_copy(update={"draft": draft})


def figures(root: Path, rep: AnalysisReport | None) -> list[FigureView]:
    """The analysis figures as PNGs (the report names the PDF the paper includes)."""
    out = []
    for f in rep.figures if rep else []:
        base = Path(A.ANALYSIS.path).parent / f.path
        for cand in (base.with_suffix(".png"), base):
            if cand.suffix.lower() in (".png", ".jpg", ".jpeg") and (root / cand).is_file():
                out.append(FigureView(path=str(cand), caption=f.caption, label=f.label))
                break
    return out


def debug_attempts(root: Path) -> list[DebugAttempt]:
    """The fix attempts of the auto-debug loop, from the experiment trajectory."""
    traj = A.read(root, A.TRAJECTORY, phase=Phase.EXPERIMENT)
    out: list[DebugAttempt] = []
    for ev in traj.events if traj else []:
        if ev.step != "debug" or ev.action not in ("fix", "outcome", "gave_up"):
            continue
        try:
            data = json.loads(ev.outcome)
        except ValueError:  # cut at the trajectory's length limit: show what is there
            data = {"summary": ev.outcome[:500]}
        if ev.action == "outcome" and out:
            out[-1].resolved = bool(data.get("resolved"))
            continue
        fail = data.get("failure") or {}
        out.append(DebugAttempt(attempt=int(data.get("attempt") or 0), source=str(data.get("source", "")),
                                summary=str(data.get("summary", ev.action)), diff=str(data.get("diff", "")),
                                failure=f"{fail.get('category', '')}: {fail.get('message', '')}".strip(": ")))
    return out


def given_feedback(root: Path) -> dict[Phase, list[Feedback]]:
    out: dict[Phase, list[Feedback]] = {}
    for ph in Phase:
        items = []
        for p in sorted((root / ph.value).glob(A.FEEDBACK.name_glob)):
            try:
                items.append(Feedback.model_validate_json(p.read_text()))
            except ValueError:
                continue
        if items:
            out[ph] = sorted(items, key=lambda f: f.created_at)
    return out


def _extras(root: Path) -> dict[str, OptionalArtifact]:
    out = {}
    for key in A.OPTIONAL_BY_NAME:
        got = A.find_optional(root, key)
        if got is not None:
            out[key] = OptionalArtifact(path=got[0], data=got[1])
    return out
