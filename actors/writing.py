"""Stage III writing agent: outline, section-by-section LaTeX, checks, compile.

Each model call is one small piece (an outline as JSON, then one section of short
paragraphs) so the embedded 135M model can do it; every piece passes the same gate
(clean -> cite/reference/number checks) and falls back to a paragraph built from the
artifacts when unusable. Which path each piece took is recorded in `events`. Tables and
the comparison sentences of the results never come from the model.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml
from jinja2 import Template
from pydantic import BaseModel, Field

from nanoresearch import artifacts as A
from nanoresearch.config import Budgets
from nanoresearch.errors import StructuredOutputError, UserError
from nanoresearch.latex import (bib_key, check_numbers, check_section, check_tex_installation, cited_keys,
                                escape_latex, results_table)
from nanoresearch.llm.base import LLM
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import (AnalysisReport, Blueprint, ChatMessage, DatasetCard, Hypothesis,
                                LiteratureRecord, PaperDraft, Plan, ResearchTopic, Section,
                                SkillEntry, TrajectoryEvent, UserProfile)

from actors import writing_build as build
from actors import writing_requirements as wreq
from actors.writing_context import SECTION_TITLES, SECTIONS, PaperInputs, load_metrics
from actors.writing_text import clean_model_text, drop_seen, safe_model_latex, sanitize_latex
from nanoresearch.latex.prose import title_reason
from nanoresearch.latex.claims import gate_comparisons
from nanoresearch.latex.tables import lower_is_better

log = logging.getLogger(__name__)
PROMPTS = yaml.safe_load((Path(__file__).parent / "prompts" / "writing.yaml").read_text())
DEFAULT_POINTS = {
    "introduction": "why the question matters and what hypothesis we test",
    "related_work": "what the retrieved papers did and how this work differs",
    "method": "what the proposed method does compared with the baselines",
    "experimental_setup": "datasets, baselines, metrics and seeds",
    "results": "what the measured numbers show about the hypothesis",
    "limitations": "what the experiments cannot show",
    "conclusion": "the answer to the research question and next steps",
}


class OutlineOut(BaseModel):  # no docstring: it would land in the schema the model sees
    title: str = Field(description="paper title, under 15 words")
    key_message: str = Field(description="one sentence: the paper's main message")
    points: list[str] = Field(default_factory=list, description="one short sentence per section")


def _render(name: str, **kw: Any) -> str:
    return Template(PROMPTS[name]).render(**kw).strip()


@dataclass
class WritingState:
    """What write() learns that revise() and the LaTeX fix loop need, in one typed object:
    the bundled inputs, where the paper lives, the outline, and per section the prose
    before assembly (model or artifact-built), the sentences already used, the figures."""
    inputs: PaperInputs
    paper_dir: Path
    outline: dict[str, str] = field(default_factory=dict)
    key_message: str = ""
    title: str = ""
    prose: dict[str, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    figures: list[tuple[str, str]] = field(default_factory=list)
    requirements: list[dict] = field(default_factory=list)  # per paper form: met / enforced / why not


class WritingAgent:
    def __init__(self, llm: LLM, budgets: Budgets | None = None, *, compile_timeout_s: float = 180.0,
                 max_tokens: int = 320, max_sections_per_revision: int = 3):
        self.llm = llm
        self.budgets = budgets or Budgets()
        self.compile_timeout_s = compile_timeout_s
        self.max_tokens = max_tokens
        self.max_sections_per_revision = max_sections_per_revision
        self.events: list[TrajectoryEvent] = []
        self.compile_history: list[dict] = []
        self.state: WritingState | None = None  # set by write(); pass it to revise() explicitly

    @property
    def inputs(self) -> PaperInputs | None:
        return self.state.inputs if self.state else None

    # ------------------------------------------------------------------ public
    def write(self, *, topic: ResearchTopic, profile: UserProfile, hypothesis: Hypothesis,
              blueprint: Blueprint, papers: Sequence[LiteratureRecord], analysis: AnalysisReport,
              runs_metrics: Any, paper_dir: Path, plan: Plan | None = None,
              skills: Sequence[SkillEntry] = (), cards: Sequence[DatasetCard] = (),
              workspace_root: Path | None = None, requirements: Sequence[dict] = ()) -> PaperDraft:
        """Draft, check and compile the paper in `paper_dir`; returns the draft (its
        `compiled`/`pdf_path` say whether a PDF exists, `problems` what went wrong).
        Standing requirements on the paper (forms from `requirements` and the plan's
        "[standing requirement] paper ..." steps) are enforced by rule in finalize()."""
        check_tex_installation()  # fail before any model call, naming the Debian packages
        paper_dir = Path(paper_dir)
        paper_dir.mkdir(parents=True, exist_ok=True)
        st = self.state = WritingState(PaperInputs(
            topic, profile, hypothesis, blueprint, list(papers), analysis, load_metrics(runs_metrics),
            list(cards), plan, skills, workspace_root), paper_dir)
        st.inputs.required = wreq.paper_forms(plan, requirements)
        title = self._make_outline()
        draft = PaperDraft(title=title, bib_keys=st.inputs.keys)
        st.figures = build.figure_blocks(st.inputs, paper_dir, draft.problems)
        for name, _ in SECTIONS:
            st.prose[name] = self._write_section(name, self._section_prompt(name))
            draft.sections.append(Section(name=name, latex=self._assemble(name)))
        draft.abstract = self._write_section("abstract", _render(
            "abstract", title=title, words=120, facts=st.inputs.facts("abstract")))
        return self.finalize(draft)

    def revise(self, draft: PaperDraft, requests: Sequence[str], round: int,
               state: WritingState | None = None) -> PaperDraft:
        """Rewrite the sections the requests name (others stay), then check and compile.
        `state` is the WritingState of the write() that made `draft` (default: the last)."""
        self.state = state or self._need_state()
        # a few sections per round keeps a revision as cheap as the requests are focused
        targets = dict(list(route_requests(requests).items())[:self.max_sections_per_revision])
        for name, asks in targets.items():
            current = re.sub(r"\\[a-zA-Z]+\*?(\{[^{}]*\})?|[{}$]", " ", self.state.prose.get(name, draft.abstract))
            prompt = _render("revise", title=draft.title, section_title=SECTION_TITLES.get(name, "Abstract"),
                             current=" ".join(current.split())[:1200], request=" ".join(asks)[:600],
                             facts=self.inputs.facts(name), sources=self.inputs.sources_prompt()
                             if name in ("introduction", "related_work") else "", paragraphs=2)
            text = self._write_section(name, prompt, keep=self.state.prose.get(name, draft.abstract))
            if name == "abstract":
                draft.abstract = text
            else:
                self.state.prose[name] = text
                next(s for s in draft.sections if s.name == name).latex = self._assemble(name)
        draft.round = round
        self.events.append(TrajectoryEvent(step="revise", action=f"round {round}",
                                           outcome=", ".join(targets) or "no section matched",
                                           detail={"requests": list(requests)}))
        return self.finalize(draft)

    def _need_state(self) -> WritingState:
        if self.state is None:
            raise UserError("the writing agent has no draft state: call write() before revise()/finalize()")
        return self.state

    @property
    def paper_dir(self) -> Path:
        return self._need_state().paper_dir

    def finalize(self, draft: PaperDraft) -> PaperDraft:
        """Write files, audit, compile with the fix loop, save draft.json."""
        self._need_state()
        draft.problems = [p for p in draft.problems if p.startswith("figure")]
        self.state.requirements = wreq.enforce(draft, self.inputs, self.inputs.required)
        for r in self.state.requirements:
            if r["enforced"] or r["met"] is False:
                self.events.append(TrajectoryEvent(step="requirement", action=f"paper {r['form']['field']}: "
                                                   f"{r['form']['value']}", outcome=r["how"], ok=bool(r["met"])))
        build.set_provenance_section(draft, self.events, self.inputs)
        tex = build.write_paper(draft, self.inputs, self.paper_dir)
        report = build.final_checks(draft, self.inputs, self.paper_dir)
        draft.tex_path = str(tex)
        draft.bib_keys = sorted({k for s in draft.sections for k in cited_keys(s.latex)}
                                | set(cited_keys(draft.abstract)))
        if report.blocking:  # a number slipped past the section gate: drop its sentence, recheck
            report = self._repair_numbers(draft, report)
        if report.blocking:
            draft.compiled = False
            log.error("paper blocked by the number check:\n%s", report.summary())
        else:
            result = build.compile_with_fixes(draft, self.paper_dir, self.budgets.latex_fix_attempts,
                                              self._fix_section, self.compile_timeout_s, self.compile_history)
            build.write_paper(draft, self.inputs, self.paper_dir)
            pdf = A.PAPER_PDF.at(self.paper_dir)
            draft.compiled = result.ok
            draft.pdf_path = str(pdf) if pdf.exists() else None
            if not result.ok:
                draft.problems.append("compile failed" + (" (previous PDF kept)" if pdf.exists() else "")
                                      + ": " + "; ".join(str(e) for e in result.errors[:2]))
            if (p := build.page_problem(result, self.inputs.profile.paper_format)):
                draft.problems.append(p)
            self.events.append(TrajectoryEvent(step="compile", action="latexmk", ok=result.ok,
                                               outcome=f"{result.seconds:.1f}s, {result.pages} pages"))
        build.save_draft(draft, self.paper_dir)
        build.write_provenance(self.events, self.inputs, self.paper_dir, self.state.requirements)
        return draft

    def _repair_numbers(self, draft: PaperDraft, report):
        """Remove the sentences that carry untraceable numbers from the abstract and the
        sections (floats and the title cannot lose a sentence and stay blocked), then
        rewrite and re-audit the paper."""
        ev, faulty = self.inputs.evidence, {f.section for f in report.blocking}
        if "abstract" in faulty:
            draft.abstract, _ = check_numbers(draft.abstract, ev, "abstract", mode="remove")
        for sec in draft.sections:
            if sec.name in faulty:
                sec.latex, _ = check_numbers(sec.latex, ev, sec.name, mode="remove")
        self.events.append(TrajectoryEvent(step="final_check", action="remove unmatched numbers",
                                           outcome=", ".join(sorted(faulty)),
                                           detail={"findings": [str(f) for f in report.blocking][:20]}))
        draft.problems = [p for p in draft.problems if p.startswith("figure")]
        build.write_paper(draft, self.inputs, self.paper_dir)
        return build.final_checks(draft, self.inputs, self.paper_dir)

    # ------------------------------------------------------------------ outline
    def _make_outline(self) -> str:
        inp = self.inputs
        prompt = _render("outline", venue=inp.profile.paper_format, problem=inp.topic.problem_statement,
                         hypothesis=inp.hypothesis.statement, method=inp.method,
                         baselines=", ".join(inp.baselines), datasets=", ".join(inp.datasets),
                         verdict=inp.analysis.verdict, sections=", ".join(t for _, t in SECTIONS),
                         plan_steps="; ".join(inp.plan.steps[:6]) if inp.plan else "")
        try:
            out, _ = generate_structured(self.llm, self._messages(prompt), OutlineOut,
                                         retries=self.budgets.structured_retries, max_tokens=300)
        except StructuredOutputError as e:
            out, why = None, str(e)
        self.state.outline = dict(DEFAULT_POINTS)
        # the title may name only what ran; a factorial design's title is its question
        title = escape_latex(inp.blueprint.title)
        if inp.design.kind == "factorial" or not inp.title_ok(inp.blueprint.title) \
                or title_reason(inp.blueprint.title) or re.search(r"\d", inp.blueprint.title):
            title = inp.default_title()
        if out is not None:
            for (name, _), point in zip(SECTIONS, out.points):
                if 3 <= len(point.split()) <= 40:
                    self.state.outline[name] = point
            cand, why = out.title.strip().strip('"'), "model"
            if not title_reason(cand) and "\n" not in cand and not re.search(r"\d", cand) \
                    and inp.title_ok(cand) and inp.design.kind != "factorial":
                title = escape_latex(cand)
            else:
                why = "fallback: model title unusable"
            self.state.key_message = out.key_message[:300]
        self.state.key_message = self.state.key_message or inp.hypothesis.statement
        self.state.title = title
        self.events.append(TrajectoryEvent(step="outline", action="generate_structured", outcome=why,
                                           ok=why == "model", detail={"title": title}))
        return title

    # ------------------------------------------------------------------ sections
    def _messages(self, prompt: str) -> list[ChatMessage]:
        return [ChatMessage(role="system", content=PROMPTS["system"].strip()),
                ChatMessage(role="user", content=prompt)]

    def _section_prompt(self, name: str) -> str:
        inp, fmt = self.inputs, self.inputs.profile.paper_format
        done = [f"{SECTION_TITLES[n]}: {self.state.outline[n]}" for n in self.state.prose]
        skills = "; ".join(i for s in list(inp.skills)[:3] for i in s.instructions[:3])
        return _render("section", title=self.state.title,
                       key_message=self.state.key_message, previous=" | ".join(done[-3:]),
                       section_title=SECTION_TITLES[name], point=self.state.outline[name],
                       facts=inp.facts(name), sources=inp.sources_prompt()
                       if name in ("introduction", "related_work") else "",
                       style=inp.profile.writing_style, skills=skills,
                       paragraphs=1 if fmt == "conference" else 2,
                       words=120 if fmt == "conference" else 220)

    def _write_section(self, name: str, prompt: str, keep: str | None = None) -> str:
        """Model text through the gate; on failure `keep` (revision) or the fallback."""
        inp = self.inputs
        comp = self.llm.generate(self._messages(prompt), max_tokens=self.max_tokens, temperature=0.0)
        latex, how = clean_model_text(comp.text, inp.keys, SECTION_TITLES.get(name, name.title()),
                                      prompt_echo=prompt.splitlines())
        if latex is not None and keep is None:
            latex = drop_seen(latex, self.state.seen)
        findings: list[str] = []
        if latex is not None:
            latex, findings = self._checked(name, latex)
            if len(latex.split()) < 12:
                latex, how = None, "too little left after the checks"
        if latex is None:
            why = how
            if keep:
                latex, how = keep, f"kept previous text: {why}"
            else:  # the fallback is checked too: a hypothesis may state a number
                latex, more = self._checked(name, inp.fallback(name))
                how, findings = f"fallback: {why}", findings + more
        self.events.append(TrajectoryEvent(step=f"section:{name}", action="generate", outcome=how,
                                           ok=how == "model", detail={"check_findings": findings,
                                                                      "raw": comp.text[:600]}))
        return latex

    def _checked(self, name: str, latex: str) -> tuple[str, list[str]]:
        inp = self.inputs
        latex, report = check_section(latex, section=name, bib_keys=inp.keys, evidence=inp.evidence,
                                      papers=inp.papers, mode="remove", facts=inp.claim_facts)
        inp.claims_dropped += [f"{name}: {f.detail}: {f.sentence[:200]}" for f in report.findings
                               if f.check == "claim" and f"{name}: {f.detail}: {f.sentence[:200]}" not in inp.claims_dropped]
        latex, wrong = gate_comparisons(latex, inp.primary_means, lower_is_better(inp.primary), inp.primary)
        inp.claims_dropped += [f"{name}: {w}" for w in wrong if f"{name}: {w}" not in inp.claims_dropped]
        return latex, [str(f) for f in report.problems] + wrong

    def _assemble(self, name: str) -> str:
        """Model prose plus the parts that must be there whatever the model wrote."""
        inp, prose = self.inputs, self.state.prose[name]
        if name == "related_work":  # themed paragraph unless the model cited the work itself
            missing = [p for p in inp.papers if bib_key(p.id) not in cited_keys(prose)]
            if missing or not inp.papers:
                prose = inp.related_paragraph()
        if name == "experimental_setup" and inp.setup_details() not in prose:
            prose = prose + "\n\n" + inp.setup_details()
        if name != "results":
            return prose
        wide = inp.profile.paper_format == "conference" and len({(m.dataset, m.metric) for m in inp.metrics}) > 2
        table = results_table(inp.metrics, method_order=[inp.method, *inp.baselines], wide=wide)
        curve = {"scaling": "learning curve", "capacity": "capacity curve"}.get(inp.design.kind, "robustness profile")
        refs = (" Table~\\ref{tab:results} reports every method." if table else "") + "".join(
            f" Figure~\\ref{{{label}}} plots the {curve}." if label == "fig:conditions" else
            f" Figure~\\ref{{{label}}} shows the analysis figure." for label, _ in self.state.figures)
        det = " ".join(inp.ranking_sentences() or inp.comparison_sentences()) + " " + inp.verdict_sentence() + refs
        cond = " ".join(inp.condition_sentences())
        eff = inp.efficiency_sentence() if inp.wants_efficiency() else ""
        seen: set[str] = set()
        drop_seen(" ".join([det, cond, eff]), seen)
        prose = drop_seen(prose, seen)  # a small model echoes the facts it was given
        tables = [table, inp.condition_table(), inp.efficiency_table() if eff else ""]
        return "\n\n".join(x for x in [det.strip(), cond, eff, prose, *tables,
                                        *[b for _, b in self.state.figures]] if x)

    # ------------------------------------------------------------------ LaTeX fixes
    def _fix_section(self, name: str, err, attempt: int) -> str | None:
        """1st try: the model with the error; 2nd: deterministic sanitising; then the
        artifact-built fallback text. The fixed prose is re-checked like new text."""
        current = self.state.prose[name]
        if attempt == 1:
            prompt = _render("fix_latex", error=str(err), source=current[:3000])
            text = self.llm.generate(self._messages(prompt), max_tokens=self.max_tokens * 2).text
            text = re.sub(r"```[a-zA-Z]*", "", text).strip()
            text = re.sub(r"^\\section\*?\{[^}]*\}(\\label\{[^}]*\})?\s*", "", text)
            fixed, how = safe_model_latex(text), "model fix"
        elif attempt == 2:
            fixed, how = sanitize_latex(current), "sanitized"
        else:
            fixed, how = self.inputs.fallback(name), "fallback text"
        if fixed:
            fixed, _ = self._checked(name, fixed)
        if not fixed or len(fixed.split()) < 5:
            fixed, how = sanitize_latex(current), "sanitized (model fix unusable)"
        self.events.append(TrajectoryEvent(step=f"latex_fix:{name}", action=how, outcome=str(err)[:200]))
        self.state.prose[name] = fixed
        return self._assemble(name)


_ROUTES = [("related_work", ("related work", "citation", "cite", "reference", "prior work", "literature")),
           ("experimental_setup", ("setup", "dataset", "seed", "hyperparameter", "reproduc")),
           ("results", ("result", "table", "figure", "number", "statistic", "significan", "evidence")),
           ("limitations", ("limitation", "threat", "weakness of the study")),
           ("method", ("method", "approach", "algorithm")),
           ("conclusion", ("conclusion", "future work")),
           ("abstract", ("abstract",)),
           ("introduction", ("introduction", "motivation", "contribution", "clarity", "clear"))]


def route_requests(requests: Sequence[str]) -> dict[str, list[str]]:
    """Which section each revision request is about ("section: text" or by keyword)."""
    out: dict[str, list[str]] = {}
    for req in requests:
        low = req.lower()
        head = low.split(":", 1)[0].strip().replace(" ", "_")
        name = head if head in SECTION_TITLES or head == "abstract" else next(
            (n for n, words in _ROUTES if any(w in low for w in words)), None)
        if name:
            out.setdefault(name, []).append(req.split(":", 1)[1].strip() if head == name else req)
    return out
