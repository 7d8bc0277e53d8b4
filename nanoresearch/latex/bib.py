"""BibTeX built only from literature records that Stage I actually retrieved.

Keys derive stably from the record id ("arxiv:2106.01234" -> "arxiv2106_01234"), so the
same paper gets the same key in every draft and revision, and `verify_bib` can tell a
generated entry from one that was typed in by hand (or by a model).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from nanoresearch.latex.escape import escape_latex
from nanoresearch.types import LiteratureRecord

_ARXIV_RE = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?$", re.I)


def bib_key(record_id: str) -> str:
    """Stable BibTeX key: lowercase alphanumerics and underscores only."""
    key = re.sub(r"[^a-z0-9]+", "_", record_id.lower().replace(":", "", 1)).strip("_")
    return key if key and key[0].isalpha() else f"ref_{key}"


def arxiv_id(record: LiteratureRecord) -> str | None:
    for cand in (record.id, record.url.rsplit("/", 1)[-1] if record.url else ""):
        m = _ARXIV_RE.match(cand.strip())
        if m and (cand.lower().startswith("arxiv:") or "arxiv.org" in record.url):
            return m.group(1)
    return None


def _authors(names: Sequence[str]) -> str:
    # BibTeX splits authors on " and "; one inside a name would split it wrongly.
    clean = [escape_latex(re.sub(r"\s+and\s+", " & ", n.strip())) for n in names if n and n.strip()]
    return " and ".join(clean)


def bib_entry(record: LiteratureRecord) -> str:
    key = bib_key(record.id)
    fields = [("title", "{" + escape_latex(record.title.strip()) + "}")]
    authors = _authors(record.authors)
    if authors:  # unknown authors are left out, not invented ("Anonymous")
        fields.append(("author", authors))
    if record.year:
        fields.append(("year", str(record.year)))
    aid = arxiv_id(record)
    if aid:
        kind = "misc"
        fields += [("eprint", aid), ("archivePrefix", "arXiv")]
        if record.categories:
            fields.append(("primaryClass", record.categories[0]))
        fields.append(("url", record.url or f"https://arxiv.org/abs/{aid}"))
    else:
        kind = "article" if record.venue else "misc"
        if record.venue:
            fields.append(("journal", escape_latex(record.venue)))
        if record.id.lower().startswith("doi:"):
            fields.append(("doi", record.id.split(":", 1)[1]))
        if record.url:
            fields.append(("url", record.url))
    # Double braces around the title keep its capitalisation under plainnat.
    body = ",\n".join(f"  {name} = {{{val}}}" for name, val in fields)
    # nanoresearch_id is provenance for audits; BibTeX styles ignore unknown fields.
    return f"@{kind}{{{key},\n{body},\n  nanoresearch_id = {{{record.id}}}\n}}\n"


def build_bib(records: Iterable[LiteratureRecord]) -> tuple[str, dict[str, LiteratureRecord]]:
    """(bib text, key -> record); duplicate ids collapse to one entry."""
    by_key: dict[str, LiteratureRecord] = {}
    for r in records:
        by_key.setdefault(bib_key(r.id), r)
    return "\n".join(bib_entry(r) for r in by_key.values()), by_key


def write_bib(records: Iterable[LiteratureRecord], path: Path) -> dict[str, LiteratureRecord]:
    text, by_key = build_bib(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return by_key


_ENTRY_RE = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", re.M)


def bib_keys(bib_text: str) -> list[str]:
    return [m.group(2) for m in _ENTRY_RE.finditer(bib_text) if m.group(1).lower() != "comment"]


@dataclass
class BibProblem:
    key: str
    reason: str


def verify_bib(bib_text: str, records: Iterable[LiteratureRecord]) -> list[BibProblem]:
    """Every entry must be exactly the one generated from a retrieved record: an extra
    key or an edited entry (a made-up or altered reference) is reported."""
    expected = {bib_key(r.id): bib_entry(r) for r in records}
    problems = []
    chunks = re.split(r"(?=^@)", bib_text, flags=re.M)
    for chunk in chunks:
        m = _ENTRY_RE.match(chunk.strip())
        if not m or m.group(1).lower() == "comment":
            continue
        key = m.group(2)
        if key not in expected:
            problems.append(BibProblem(key, "not a retrieved paper (no Stage I record has this key)"))
        elif chunk.strip() != expected[key].strip():
            problems.append(BibProblem(key, "entry differs from the retrieved record"))
    return problems
