"""Putting a draft on disk and compiling it: figures copied from Stage II, section files,
the main .tex from the venue template, the .bib, the final checks, and the bounded fix
loop that never replaces a good PDF with a failed one (compile_pdf keeps it).
"""
from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Callable

from nanoresearch import artifacts as A
from nanoresearch.latex import (CheckReport, CompileResult, FORMATS, LatexError,
                                check_numbers, cited_keys, compile_pdf, escape_latex,
                                render_main, verify_bib, write_bib)
from nanoresearch.types import FigureRef, PaperDraft
from nanoresearch.workspace import atomic_write_json, atomic_write_text

from actors.writing_context import SECTION_TITLES, PaperInputs

log = logging.getLogger(__name__)
GRAPHICS_EXT = (".png", ".pdf", ".jpg", ".jpeg")


def _find_source(fig: FigureRef, inputs: PaperInputs, paper_dir: Path) -> Path | None:
    rel = Path(fig.path)
    if rel.is_absolute():
        return rel if rel.exists() else None
    # analysis figures are relative to the experiment phase's folder (experiment/figures/...)
    roots = [inputs.workspace_root, inputs.workspace_root / "experiment"] if inputs.workspace_root else []
    roots += list(paper_dir.resolve().parents)[:4]
    return next((r / rel for r in roots if r and (r / rel).is_file()), None)


def figure_blocks(inputs: PaperInputs, paper_dir: Path, problems: list[str]) -> list[tuple[str, str]]:
    """Copy each analysis figure into paper_dir/figures; (label, LaTeX float) per figure.
    Captions are Stage II artifacts but still pass the number check (a float cannot lose
    a sentence, so an unmatched number swaps in a caption without numbers)."""
    out = []
    for i, fig in enumerate(inputs.analysis.figures, 1):
        src = _find_source(fig, inputs, paper_dir)
        if src is None or src.suffix.lower() not in GRAPHICS_EXT:
            problems.append(f"figure {fig.path!r} skipped: {'not found' if src is None else 'not PDF/PNG/JPG'}")
            continue
        dest = paper_dir / "figures" / f"fig{i}{src.suffix.lower()}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        label = "fig:" + (re.sub(r"[^a-z0-9_-]+", "-", fig.label.lower().removeprefix("fig:")).strip("-") or str(i))
        caption = escape_latex(fig.caption.strip() or f"Figure {i} of the analysis")
        _, rep = check_numbers(caption, inputs.evidence, "figure caption", mode="block")
        if rep.blocking:
            problems.append(f"caption of {fig.path} had unmatched numbers; replaced")
            caption = f"Analysis figure for {escape_latex(inputs.method)}."
        out.append((label, "\n".join([
            "\\begin{figure}[t]", "\\centering",
            f"\\includegraphics[width=\\linewidth]{{figures/{dest.name}}}",
            f"\\caption{{{caption}}}", f"\\label{{{label}}}", "\\end{figure}"])))
    return out + condition_figure_block(inputs, paper_dir)


def condition_figure_block(inputs: PaperInputs, paper_dir: Path) -> list[tuple[str, str]]:
    """The learning curve / robustness profile drawn from the condition records."""
    from actors.writing_tables import condition_figure

    kind, dest = inputs.design.kind, paper_dir / "figures" / "conditions.png"
    if not condition_figure(inputs.metrics, inputs.condition_metrics, kind, inputs.primary, dest):
        return []
    what = {"scaling": "per method against the share of the training split it was trained on",
            "capacity": f"against the {escape_latex(inputs.design.factor)} (log scale; dashed: all features)"
            }.get(kind, "per method on the clean and each perturbed test set")
    caption = (f"Mean {escape_latex(inputs.primary)} {what}; error bars show one standard "
               "deviation over seeds.")
    return [("fig:conditions", "\n".join([
        "\\begin{figure}[t]", "\\centering", f"\\includegraphics[width=\\linewidth]{{figures/{dest.name}}}",
        f"\\caption{{{caption}}}", "\\label{fig:conditions}", "\\end{figure}"]))]


def section_file(name: str, body: str) -> str:
    # The header is exactly one line, so "sections/x.tex:N" is body line N-1.
    return f"\\section{{{SECTION_TITLES[name]}}}\\label{{sec:{name}}}\n{body.strip()}\n"


def write_paper(draft: PaperDraft, inputs: PaperInputs, paper_dir: Path) -> Path:
    fmt = inputs.profile.paper_format
    for s in draft.sections:
        atomic_write_text(paper_dir / "sections" / f"{s.name}.tex", section_file(s.name, s.latex))
    write_bib(inputs.papers, paper_dir / "references.bib")
    venue = inputs.profile.target_venue or f"{fmt} submission"
    author = (escape_latex(inputs.profile.name) + " with " if inputs.profile.name else "") + "nanoresearch"
    main = render_main(fmt, title=draft.title, title_plain=re.sub(r"[^A-Za-z0-9 ,.:-]", "", draft.title),
                       author=author, venue_line=escape_latex(f"Draft for {venue}"),
                       abstract=draft.abstract, sections=[s.name for s in draft.sections],
                       keywords=escape_latex(", ".join([inputs.blueprint.domain, *inputs.blueprint.metrics[:2]])))
    tex = A.PAPER_TEX.at(paper_dir)
    atomic_write_text(tex, main)
    return tex


def final_checks(draft: PaperDraft, inputs: PaperInputs, paper_dir: Path) -> CheckReport:
    """Whole-paper audit in block mode: every number in title, abstract, sections and
    tables must trace; every cite key must be in the .bib; the .bib must hold only
    retrieved papers. Written to paper_dir/checks.json."""
    report = CheckReport()
    parts = [("title", draft.title), ("abstract", draft.abstract)] + [(s.name, s.latex) for s in draft.sections]
    for name, text in parts:
        _, rep = check_numbers(text, inputs.evidence, name, mode="block")
        report.extend(rep)
    keys = set(inputs.keys)
    bib_problems = verify_bib((paper_dir / "references.bib").read_text(), inputs.papers)
    unknown = [k for _, t in parts for k in cited_keys(t) if k not in keys]
    atomic_write_json(A.CHECKS.at(paper_dir), {
        "numbers": [vars(f) for f in report.findings],
        "unknown_cite_keys": unknown, "bib_problems": [vars(p) for p in bib_problems]})
    draft.problems += [f"unknown cite key {k}" for k in unknown]
    draft.problems += [f"bib entry {p.key}: {p.reason}" for p in bib_problems]
    draft.problems += [f"unmatched number: {f}" for f in report.blocking]
    return report


def section_at_fault(err: LatexError, names: list[str]) -> tuple[str | None, int | None]:
    m = re.match(r"sections/([a-z_]+)\.tex$", err.file or "")
    if m and m.group(1) in names:
        return m.group(1), (err.line - 1 if err.line else None)
    return None, None


def compile_with_fixes(draft: PaperDraft, paper_dir: Path, attempts: int,
                       fixer: Callable[[str, LatexError, int], str | None], timeout_s: float,
                       history: list[dict]) -> CompileResult:
    """Compile; on an error in a section file ask `fixer(section, error, try_no)` for a new
    body and recompile, at most `attempts` times. A failure leaves paper.pdf as it was."""
    result = compile_pdf(paper_dir, timeout_s=timeout_s)
    history.append({"attempt": 0, "ok": result.ok, "seconds": round(result.seconds, 2),
                    "errors": [str(e) for e in result.errors[:3]]})
    tries: dict[str, int] = {}
    for attempt in range(1, attempts + 1):
        if result.ok:
            break
        name, _ = section_at_fault(result.errors[0], [s.name for s in draft.sections])
        if name is None:
            log.warning("compile error outside the sections, cannot fix: %s", result.errors[0])
            break
        tries[name] = tries.get(name, 0) + 1
        body = fixer(name, result.errors[0], tries[name])
        if body is None:
            break
        sec = next(s for s in draft.sections if s.name == name)
        sec.latex = body
        atomic_write_text(paper_dir / "sections" / f"{name}.tex", section_file(name, body))
        result = compile_pdf(paper_dir, timeout_s=timeout_s)
        history.append({"attempt": attempt, "section": name, "ok": result.ok,
                        "seconds": round(result.seconds, 2), "errors": [str(e) for e in result.errors[:3]]})
    return result


def save_draft(draft: PaperDraft, paper_dir: Path) -> None:
    atomic_write_json(A.DRAFT.at(paper_dir), draft)


def page_problem(result: CompileResult, fmt: str) -> str | None:
    limit = FORMATS[fmt].page_limit
    if result.ok and result.pages and result.pages > limit:
        return f"paper has {result.pages} pages, over the {fmt} limit of {limit}"
    return None



# ---------------------------------------------------------------------- provenance
def section_sources(events, inputs: PaperInputs) -> dict[str, str]:
    """Per section: "model" (model text that passed the gates), "artifact-built" (text
    built from the run's artifacts), or "model, revised"; the last event of a section wins."""
    out: dict[str, str] = {}
    for ev in events:
        if ev.step.startswith("section:"):
            name = ev.step.split(":", 1)[1]
            out[name] = "model" if ev.ok else ("kept previous" if ev.outcome.startswith("kept") else "artifact-built")
    if "related_work" in out and inputs.papers:
        out["related_work"] = "artifact-built (themes over the cited records)"
    out["results"] = "artifact-built (numbers, table and ranking) + " + out.get("results", "artifact-built")
    return out


def write_provenance(events, inputs: PaperInputs, paper_dir: Path, requirements=()) -> None:
    """writing/provenance.json: where every part of the paper came from, plus what the
    system decided on the way (verdict, analysis notes, literature filter, design)."""
    atomic_write_json(A.PROVENANCE.at(paper_dir), {
        "kind": "paper_provenance", "schema_version": 1,
        "sections": section_sources(events, inputs),
        "design": inputs.design.model_dump(),
        "resolved_inputs": list(inputs.blueprint.resolved_inputs),
        "literature": inputs.related_counts,
        "requirements": list(requirements),
        "claims_dropped": list(getattr(inputs, "claims_dropped", [])),
        "verdict": inputs.analysis.verdict,
        "analysis_notes": list(inputs.analysis.notes),
        "events": [{"step": e.step, "action": e.action, "outcome": e.outcome[:300], "ok": e.ok} for e in events],
    })


_SOURCE_WORDS = {"model": "written by the language model and passed the citation, number and prose checks",
                 "artifact-built": "assembled by rules from the experiment's artifacts",
                 "kept previous": "kept from the previous draft"}


def set_provenance_section(draft: PaperDraft, events, inputs: PaperInputs) -> None:
    """The appendix that states, per section, who wrote it (replaced on every finalize)."""
    from nanoresearch.types import Section

    src = section_sources(events, inputs)
    lines = [f"{SECTION_TITLES.get(n, n.title())}: {_SOURCE_WORDS.get(v.split(' ')[0], escape_latex(v))}."
             for n, v in src.items() if n in SECTION_TITLES or n == "abstract"]
    body = ("This appendix records how each part of the paper was produced; the full record, with "
            "every decision taken on the way, is in writing/provenance.json. "
            + " ".join(lines))
    draft.sections = [s for s in draft.sections if s.name != "provenance"]
    draft.sections.append(Section(name="provenance", latex=body.replace("_", "\\_")))
