"""Stage III review agent: an ensemble of structured LLM reviews plus a meta-review.

Like every agent that acts, it is given what the orchestrator retrieved for it: review-
stage skills (what to check) and the user's memories for the task (standing requirements
first), passed per call as extra criteria with their ids, never as scores: the anchors,
the leniency cap and the deterministic checks are the same with or without them. A
reviewer names the ids it applied (`used_ids`); only ids cited by a usable (model-path)
review count as used (`last_used`). LLM reviewers are lenient, so the
scores are calibrated three ways: anchor examples in the rubric, overall capped at one
point above the mean of the sub-scores, and deterministic checks of the paper on disk
(PDF compiled, results table present, numbers traced, enough citations, no empty
section) that lower the scores with a stated reason and add revision requests.
"""
from __future__ import annotations

import json
import logging
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import yaml
from jinja2 import Template
from pydantic import BaseModel, Field, field_validator

from actors.agent_context import cited_ids, context_lines
from nanoresearch import artifacts as A
from nanoresearch.errors import StructuredOutputError
from nanoresearch.latex import cited_keys
from nanoresearch.llm.base import LLM
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import ChatMessage, MemoryEntry, PaperDraft, Review, SkillEntry

log = logging.getLogger(__name__)
PROMPTS = yaml.safe_load((Path(__file__).parent / "prompts" / "review.yaml").read_text())
SCORES = ("soundness", "presentation", "contribution", "overall")
SECTION_NAMES = ("abstract", "introduction", "related_work", "method", "experimental_setup",
                 "results", "limitations", "conclusion")


# What the model is asked for: scores and a summary are required (an empty `{}` is not
# a review); ranges are clamped afterwards. No docstring: pydantic would put it into the
# JSON schema the model sees, and the small model copies it back as its summary.
class ReviewOut(BaseModel):
    summary: str = Field(min_length=10)
    strengths: list[str] = Field(default_factory=list)
    weaknesses: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    soundness: int
    presentation: int
    contribution: int
    overall: int
    confidence: int
    revision_requests: list[str] = Field(default_factory=list)
    used_ids: list[str] = Field(default_factory=list)

    @field_validator("used_ids")
    @classmethod
    def _few(cls, v: list) -> list:
        return v[:6]  # truncated, not a grammar bound (slow constrained decoding)


@dataclass
class Penalty:
    reason: str
    request: str
    deltas: dict[str, int] = field(default_factory=dict)


def _clamp(x: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(x)))


def plain_text(latex: str) -> str:
    """LaTeX -> readable text for the reviewer prompt (floats reduced to their captions)."""
    text = re.sub(r"\\begin\{tabular\}.*?\\end\{tabular\}", "[results table]", latex, flags=re.S)
    text = re.sub(r"\\cite[pt]?\{([^}]*)\}", r"[\1]", text)
    text = re.sub(r"\\(?:caption)\{([^{}]*)\}", r"Caption: \1", text)
    text = re.sub(r"\\[a-zA-Z]+\*?(\[[^\]]*\])?(\{[^{}]*\})?", " ", text)
    return " ".join(re.sub(r"[{}$]", "", text).split())


class ReviewAgent:
    def __init__(self, llm: LLM, n_reviewers: int = 2, *, retries: int = 2, min_citations: int = 3,
                 excerpt_chars: int = 500, max_tokens: int = 400):
        self.llm = llm
        self.n_reviewers = max(1, n_reviewers)
        self.retries = retries
        self.min_citations = min_citations
        self.excerpt_chars = excerpt_chars
        self.max_tokens = max_tokens
        self.paths: list[str] = []  # per review: "model" or "fallback: <why>"
        self.last_used: list[str] = []  # skill/memory ids the last call's usable reviews cited

    def review(self, draft: PaperDraft, paper_dir: Path | None = None, round: int = 1,
               venue: str = "conference", skills: Sequence[SkillEntry] = (),
               memories: Sequence[MemoryEntry] = ()) -> list[Review]:
        """n reviews followed by the meta-review (is_meta=True), all for `round`.
        `skills`/`memories`: what was retrieved for the review stage (criteria, with ids)."""
        penalties = self.audit(draft, paper_dir)
        self.last_used = []
        ctx = (list(skills), list(memories))
        reviews = [self._one(i, draft, penalties, round, venue, ctx) for i in range(self.n_reviewers)]
        return reviews + [meta_review(reviews, penalties, round)]

    # ------------------------------------------------------------------ one reviewer
    def _one(self, i: int, draft: PaperDraft, penalties: list[Penalty], round: int, venue: str,
             ctx: tuple[list, list] = ([], [])) -> Review:
        personas = PROMPTS["personas"]
        rubric = Template(PROMPTS["rubric"]).render(sections=", ".join(SECTION_NAMES)).strip()
        sk_lines, mem_lines = context_lines(*ctx)
        prompt = Template(PROMPTS["review"]).render(persona=personas[i % len(personas)], rubric=rubric,
                                                    paper=self.paper_excerpt(draft), skills=sk_lines,
                                                    memories=mem_lines).strip()
        msgs = [ChatMessage(role="system", content=Template(PROMPTS["system"]).render(venue=venue).strip()),
                ChatMessage(role="user", content=prompt)]
        try:
            out, _ = generate_structured(self.llm, msgs, ReviewOut, retries=self.retries, max_tokens=self.max_tokens,
                                         temperature=0.0 if i == 0 else 0.3)
            if degenerate(out):
                raise StructuredOutputError("ReviewOut", 1, "placeholder review (no content, flat scores)")
            self.paths.append("model")
            text = " ".join([out.summary, *out.weaknesses, *out.revision_requests])
            self.last_used += [x for x in cited_ids(out.used_ids, text, *ctx) if x not in self.last_used]
        except StructuredOutputError as e:
            log.info("reviewer %d fell back to the checklist review: %s", i + 1, e)
            out = ReviewOut(summary="Checklist review (the model's review was unusable).",
                            soundness=5, presentation=5, contribution=5, overall=5, confidence=1)
            self.paths.append(f"fallback: {str(e)[:120]}")
        return self._calibrate(out, penalties, f"r{i + 1}", round)

    def _calibrate(self, out: ReviewOut, penalties: list[Penalty], rid: str, round: int) -> Review:
        scores = {k: _clamp(getattr(out, k), 1, 10) for k in SCORES}
        # Leniency cap: an overall far above the parts it summarises is not credible.
        parts = statistics.fmean(scores[k] for k in SCORES[:3])
        scores["overall"] = min(scores["overall"], round_half(parts) + 1)
        for p in penalties:
            for k, d in p.deltas.items():
                scores[k] = _clamp(scores[k] + d, 1, 10)
        clean = lambda xs, n: [str(x).strip()[:300] for x in xs if str(x).strip()][:n]  # noqa: E731
        return Review(reviewer_id=rid, summary=out.summary.strip()[:800], strengths=clean(out.strengths, 3),
                      weaknesses=clean(out.weaknesses, 3) + [p.reason for p in penalties],
                      questions=clean(out.questions, 2), confidence=_clamp(out.confidence, 1, 5),
                      revision_requests=[p.request for p in penalties] + clean(out.revision_requests, 3),
                      round=round, **scores)

    # ------------------------------------------------------------------ checks
    def audit(self, draft: PaperDraft, paper_dir: Path | None) -> list[Penalty]:
        """Deterministic checks of the paper itself; each lowers scores with a reason."""
        out: list[Penalty] = []
        if not draft.compiled or not draft.pdf_path or not Path(draft.pdf_path).exists():
            out.append(Penalty("The paper does not compile to a PDF.",
                               "results: fix the LaTeX so that the paper compiles",
                               {"presentation": -3, "soundness": -2, "overall": -3}))
        results = next((s.latex for s in draft.sections if s.name == "results"), "")
        if "\\begin{tabular}" not in results:
            out.append(Penalty("No results table.", "results: add the results table from the metrics",
                               {"soundness": -2, "overall": -2}))
        unmatched = _unmatched_numbers(draft, paper_dir)
        if unmatched:
            out.append(Penalty(f"{unmatched} number(s) do not trace to the experiments.",
                               "results: state only numbers that the experiments produced",
                               {"soundness": -3, "overall": -2}))
        n_cites = len(set(draft.bib_keys) | {k for s in draft.sections for k in cited_keys(s.latex)})
        if n_cites < self.min_citations:
            out.append(Penalty(f"Only {n_cites} cited paper(s) (fewer than {self.min_citations}).",
                               "related_work: cite and discuss more of the retrieved papers",
                               {"contribution": -1, "presentation": -1, "overall": -1}))
        empty = [s.name for s in draft.sections if len(plain_text(s.latex).split()) < 15]
        if not draft.abstract.strip():
            empty.insert(0, "abstract")
        for name in empty[:3]:
            out.append(Penalty(f"Section {name} is empty or nearly empty.",
                               f"{name}: write this section out", {"presentation": -1, "overall": -1}))
        for p in draft.problems:
            if "pages" in p and "limit" in p:
                out.append(Penalty(p[0].upper() + p[1:] + ".", "results: shorten the paper to the page limit",
                                   {"presentation": -1}))
        return out

    def paper_excerpt(self, draft: PaperDraft) -> str:
        parts = [f"Title: {plain_text(draft.title)}", f"Abstract: {plain_text(draft.abstract)[:self.excerpt_chars]}"]
        for s in draft.sections:
            parts.append(f"{s.name}: {plain_text(s.latex)[:self.excerpt_chars]}")
        return "\n".join(parts)


def degenerate(out: ReviewOut) -> bool:
    """Valid JSON that says nothing: a placeholder summary ("Summary of the review"), or
    identical scores with no strength or weakness to justify them."""
    flat = len({out.soundness, out.presentation, out.contribution, out.overall}) == 1
    return len(out.summary.split()) < 6 or (flat and not out.strengths and not out.weaknesses)


def round_half(x: float) -> int:
    return int(x + 0.5)


def _unmatched_numbers(draft: PaperDraft, paper_dir: Path | None) -> int:
    n = sum(1 for p in draft.problems if p.startswith("unmatched number"))
    checks = A.CHECKS.at(paper_dir) if paper_dir else None
    if checks and checks.exists():
        data = json.loads(checks.read_text())
        n = max(n, sum(1 for f in data.get("numbers", []) if f.get("action") != "matched"))
    return n


# When reviewers ask for nothing concrete, the weakest score says where to work.
WEAKEST_REQUEST = {
    "soundness": "results: relate every claim to the measured numbers and discuss the p-values",
    "presentation": "introduction: state the question, the method and the finding more clearly",
    "contribution": "conclusion: say what the finding adds to the retrieved prior work",
}


def meta_review(reviews: Sequence[Review], penalties: Sequence[Penalty], round: int) -> Review:
    """Confidence-weighted mean scores; strengths/weaknesses/requests merged without
    duplicates, the deterministic checks' requests first."""
    weights = [max(1, r.confidence) for r in reviews]
    avg = lambda k: round_half(sum(getattr(r, k) * w for r, w in zip(reviews, weights)) / sum(weights))  # noqa: E731
    merge = lambda lists, n: list(dict.fromkeys(x for xs in lists for x in xs))[:n]  # noqa: E731
    requests = merge([[p.request for p in penalties], *[r.revision_requests for r in reviews]], 8)
    if not requests:
        requests = [WEAKEST_REQUEST[min(SCORES[:3], key=lambda k: (avg(k), SCORES.index(k)))]]
    return Review(
        reviewer_id="meta", is_meta=True, round=round,
        summary=f"Meta-review of {len(reviews)} review(s): " + " | ".join(r.summary[:200] for r in reviews if r.summary),
        strengths=merge([r.strengths for r in reviews], 6), weaknesses=merge([r.weaknesses for r in reviews], 8),
        questions=merge([r.questions for r in reviews], 4),
        revision_requests=requests,
        confidence=_clamp(round_half(statistics.fmean(r.confidence for r in reviews)), 1, 5),
        **{k: _clamp(avg(k), 1, 10) for k in SCORES})
