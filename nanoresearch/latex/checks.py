"""Paper checks that run before every compile: citations and numbers.

- `check_citations`: every key in a \\cite-family command must be in the .bib; unknown
  keys are dropped (the command goes when none is left) and reported.
- `check_textual_refs`: "Smith et al. (2019)" written without \\cite must name an author
  and year of a retrieved paper, else the sentence is removed: a made-up reference.
- `check_numbers`: every number must trace to the evidence; in "remove" mode the
  sentence holding an unmatched number is dropped, in "block" mode nothing is changed
  and the report blocks the paper. Numbers inside tables/figures always block, since a
  sentence cannot be cut out of a table.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Literal, Sequence

from nanoresearch.latex.evidence import EvidenceSet
from nanoresearch.latex.numbers import find_numbers
from nanoresearch.types import LiteratureRecord

CITE_RE = re.compile(r"\\(cite|citep|citet|citealp|citeauthor|citeyear|nocite)(\*?)((?:\[[^\]]*\]){0,2})\{([^{}]*)\}")
_TEXT_REF_RE = re.compile(
    r"\b(?P<name>[A-Z][A-Za-z'\-]+)(?:\s+(?:et~al\.|et al\.?|and\s+[A-Z][A-Za-z'\-]+))\s*,?\s*"
    r"\(?(?P<year>(?:19|20)\d\d)[a-z]?\)?")
_ABBREV = ("al.", "e.g.", "i.e.", "Fig.", "Eq.", "vs.", "Sec.", "Tab.", "cf.", "etc.", "resp.")
_FLOATS = re.compile(r"\\begin\{(table|figure|tabular)\*?\}.*?\\end\{\1\*?\}", re.S)


@dataclass
class Finding:
    check: Literal["cite", "reference", "number", "prose", "claim"]
    section: str
    line: int
    text: str  # the offending cite key / number / reference as written
    detail: str  # why, or what it matched
    action: Literal["removed", "blocked", "matched"]
    sentence: str = ""

    def __str__(self) -> str:
        return f"[{self.check}] {self.section}:{self.line} {self.text!r} {self.action}: {self.detail}"


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.action != "matched"]

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.action == "blocked"]

    @property
    def matched(self) -> list[Finding]:
        return [f for f in self.findings if f.action == "matched"]

    def extend(self, other: "CheckReport") -> None:
        self.findings.extend(other.findings)

    def summary(self) -> str:
        if not self.problems:
            return f"all checks passed ({len(self.matched)} numbers traced to artifacts)"
        return "\n".join(str(f) for f in self.problems)


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def check_citations(text: str, bib_keys: Iterable[str], section: str = "") -> tuple[str, CheckReport]:
    known, report = set(bib_keys), CheckReport()

    def fix(m: re.Match) -> str:
        keys = [k.strip() for k in m.group(4).split(",") if k.strip()]
        good = [k for k in keys if k in known]
        for k in keys:
            if k not in known:
                report.findings.append(Finding("cite", section, _line(text, m.start()), k,
                                               "cite key not in the .bib (not a retrieved paper)", "removed"))
        if not good:
            return ""
        return f"\\{m.group(1)}{m.group(2)}{m.group(3)}{{{','.join(good)}}}"

    fixed = CITE_RE.sub(fix, text)
    if report.findings:  # tidy the "word~." left where a whole \cite went
        fixed = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"~(?=[\s.,;:])", "", fixed))
    return fixed, report


def cited_keys(text: str) -> list[str]:
    keys: list[str] = []
    for m in CITE_RE.finditer(text):
        keys += [k.strip() for k in m.group(4).split(",") if k.strip() and k.strip() not in keys]
    return keys


def sentence_span(text: str, pos: int) -> tuple[int, int]:
    """The sentence around `pos`: bounded by '.', '!' or '?' followed by space (not after
    an abbreviation or inside a decimal) and by blank lines."""
    start = 0
    for m in re.finditer(r"(?<=[.!?])\s+|\n\s*\n", text[:pos]):
        before = text[:m.start()]
        if not before.endswith(_ABBREV):
            start = m.end()
    end = len(text)
    for m in re.finditer(r"[.!?](?=\s|$)|\n\s*\n", text[pos:]):
        stop = pos + m.end()
        if not text[:stop].endswith(_ABBREV):
            end = stop
            break
    return start, end


def _remove_spans(text: str, spans: list[tuple[int, int]]) -> str:
    for a, b in sorted(set(spans), reverse=True):
        text = text[:a] + text[b:]
    return re.sub(r"[ \t]{2,}", " ", re.sub(r"\n{3,}", "\n\n", text)).strip()


def _in_float(text: str, pos: int) -> bool:
    return any(m.start() <= pos < m.end() for m in _FLOATS.finditer(text))


def check_textual_refs(text: str, papers: Sequence[LiteratureRecord], section: str = "") -> tuple[str, CheckReport]:
    known = {(a.split()[-1].lower(), p.year) for p in papers for a in p.authors if a.split()}
    report, spans = CheckReport(), []
    for m in _TEXT_REF_RE.finditer(text):
        name, year = m.group("name").lower(), int(m.group("year"))
        ok = any(n == name and (y is None or y == year) for n, y in known)
        if not ok:
            spans.append(sentence_span(text, m.start()))
            report.findings.append(Finding("reference", section, _line(text, m.start()), m.group(0),
                                           "names no author/year of a retrieved paper", "removed",
                                           text[spans[-1][0]:spans[-1][1]].strip()))
    return (_remove_spans(text, spans) if spans else text), report


def check_numbers(text: str, evidence: EvidenceSet, section: str = "",
                  mode: Literal["remove", "block"] = "remove") -> tuple[str, CheckReport]:
    report, spans = CheckReport(), []
    for n in find_numbers(text, evidence.names, section):
        ev = evidence.match(n)
        if ev is not None:
            report.findings.append(Finding("number", section, n.line, n.text, ev.label, "matched"))
            continue
        block = mode == "block" or _in_float(text, n.start)
        span = sentence_span(text, n.start)
        report.findings.append(Finding(
            "number", section, n.line, n.text,
            f"value {n.value:g} ({n.form}) matches no run artifact at the shown precision",
            "blocked" if block else "removed", text[span[0]:span[1]].strip()))
        if not block:
            spans.append(span)
    return (_remove_spans(text, spans) if spans else text), report


_SIGNIF_RE = re.compile(r"\b(?<!in)significan(?:t|tly|ce)\b", re.I)
_NEGATED_RE = re.compile(r"\b(?:not|no|without|lack of|fails? to reach)\s+(?:\w+\s+){0,2}$", re.I)


def check_significance(text: str, evidence: EvidenceSet, section: str = "", alpha: float = 0.05,
                       ) -> tuple[str, CheckReport]:
    """"significant(ly)" is a statistical claim: without a p-value below `alpha` in the
    analysis, a sentence that claims it is removed (a negated claim is fine)."""
    if any(ev.kind == "p_value" and ev.value < alpha for ev in evidence.values):
        return text, CheckReport()
    report, spans = CheckReport(), []
    for m in _SIGNIF_RE.finditer(text):
        if _NEGATED_RE.search(text[max(0, m.start() - 40):m.start()]):
            continue
        span = sentence_span(text, m.start())
        spans.append(span)
        report.findings.append(Finding("number", section, _line(text, m.start()), m.group(0),
                                       f"claims significance but no p-value < {alpha:g} in the analysis",
                                       "removed", text[span[0]:span[1]].strip()))
    return (_remove_spans(text, spans) if spans else text), report


def check_section(text: str, *, section: str, bib_keys: Iterable[str], evidence: EvidenceSet,
                  papers: Sequence[LiteratureRecord], mode: Literal["remove", "block"] = "remove",
                  facts: str = "") -> tuple[str, CheckReport]:
    """All checks on one section, in order (cites first, so cite keys never count as
    numbers; then textual references; then numbers)."""
    report = CheckReport()
    text, r = check_citations(text, bib_keys, section)
    report.extend(r)
    text, r = check_textual_refs(text, papers, section)
    report.extend(r)
    text, r = check_numbers(text, evidence, section, mode)
    report.extend(r)
    text, r = check_significance(text, evidence, section)
    report.extend(r)
    text, r = check_prose(text, section, papers, facts)
    report.extend(r)
    return text, report


def check_prose(text: str, section: str = "", papers: Sequence[LiteratureRecord] = (),
                facts: str = "") -> tuple[str, CheckReport]:
    """Filler, internal-text and unbacked-claim sentences are removed
    (nanoresearch/latex/prose.py, claims.py); a claim's finding has kind "claim"."""
    from nanoresearch.latex.prose import gate_prose

    text, reasons = gate_prose(text, papers, facts)
    report = CheckReport()
    for why in reasons:
        kind, _, sent = why.partition(": ")
        report.findings.append(Finding("claim" if why.startswith(("unbacked", "contradicts")) else "prose",
                                       section, 0, sent[:120], why[:200], "removed", sent))
    return text, report
