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

from urllib.parse import quote

import bibtexparser
from bibtexparser.model import Entry, Field

from nanoresearch.latex.escape import escape_latex
from nanoresearch.types import LiteratureRecord

_URL_SAFE = ":/?@!&'()*+,;=-._~%"
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Crossref's recommended DOI characters: all of them typeset verbatim inside \\Url
_DOI_RE = re.compile(r"^10\.\d+(?:\.\d+)*/[-._;()/:A-Za-z0-9]+$")
_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,40}")
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
    clean = [bib_text(re.sub(r"\s+and\s+", " & ", n.strip())) for n in names if n and n.strip()]
    return " and ".join(clean)


def url_field(url: str) -> str | None:
    """A URL as plainnat typesets it (`\\url`, hyperref loaded): http(s) only, every
    character outside RFC 3986 percent-encoded, so no brace, backslash or space reaches
    TeX; `%` is written `\\%`, which hyperref's \\url reads as a percent sign."""
    url = url.strip()
    if not re.match(r"^https?://[^\s]+$", url, re.I):
        return None
    return _percent(url)


def _percent(text: str) -> str:
    return quote(_LONE_PERCENT.sub("%25", text), safe=_URL_SAFE).replace("%", r"\%")


def bib_text(text: str) -> str:
    """Text for a BibTeX value: LaTeX-escaped, and no lone brace (BibTeX counts `\\}` as
    a closing brace, so one escaped brace would end the field early)."""
    return escape_latex(text).replace(r"\{", r"\textbraceleft{}").replace(r"\}", r"\textbraceright{}")


def doi_field(doi: str) -> str | None:
    """A DOI (`10.<registrant>/<suffix>`) in Crossref's safe characters, else dropped
    (plainnat prints it with \\Url, which would show an escape literally)."""
    doi = doi.strip()
    return doi if _DOI_RE.match(doi) else None


def _token(value: str) -> str | None:
    """Identifier-like fields (primaryClass, eprint): kept only when they are plain."""
    return value if _TOKEN_RE.fullmatch(value or "") else None


def _fields(record: LiteratureRecord) -> tuple[str, list[tuple[str, str]]]:
    """(entry type, [(field, LaTeX value)]): every value escaped or validated here."""
    fields = [("title", "{" + bib_text(record.title.strip()) + "}")]
    authors = _authors(record.authors)
    if authors:  # unknown authors are left out, not invented ("Anonymous")
        fields.append(("author", authors))
    if record.year:
        fields.append(("year", str(int(record.year))))
    aid = arxiv_id(record)
    url = url_field(record.url) if record.url else None
    if aid:
        kind = "misc"
        fields += [("eprint", aid), ("archivePrefix", "arXiv")]
        primary = _token(record.categories[0]) if record.categories else None
        if primary:
            fields.append(("primaryClass", primary))
        fields.append(("url", url or f"https://arxiv.org/abs/{aid}"))
        return kind, fields
    kind = "article" if record.venue else "misc"
    if record.venue:
        fields.append(("journal", bib_text(record.venue)))
    doi = doi_field(record.id.split(":", 1)[1]) if record.id.lower().startswith("doi:") else None
    if doi:
        fields.append(("doi", doi))
    if url:
        fields.append(("url", url))
    return kind, fields


def _entry(record: LiteratureRecord) -> Entry:
    kind, fields = _fields(record)
    # nanoresearch_id is provenance for audits; BibTeX styles ignore unknown fields.
    fields.append(("nanoresearch_id", bib_text(record.id)))
    return Entry(kind, bib_key(record.id), [Field(k, v) for k, v in fields])


def _write(entries: Iterable[Entry]) -> str:
    lib = bibtexparser.Library()
    for e in entries:
        lib.add(e)
    fmt = bibtexparser.BibtexFormat()
    fmt.indent, fmt.block_separator = "  ", "\n"
    return bibtexparser.write_string(lib, bibtex_format=fmt)


def bib_entry(record: LiteratureRecord) -> str:
    """One BibTeX entry, written by bibtexparser (double braces around the title keep
    its capitalisation under plainnat)."""
    return _write([_entry(record)])


def build_bib(records: Iterable[LiteratureRecord]) -> tuple[str, dict[str, LiteratureRecord]]:
    """(bib text, key -> record); duplicate ids collapse to one entry."""
    by_key: dict[str, LiteratureRecord] = {}
    for r in records:
        by_key.setdefault(bib_key(r.id), r)
    return _write(_entry(r) for r in by_key.values()), by_key


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


def _parsed(bib_text: str) -> dict[str, tuple[str, dict[str, str]]]:
    lib = bibtexparser.parse_string(bib_text)
    return {e.key: (e.entry_type.lower(), {f.key: f.value for f in e.fields}) for e in lib.entries}


def verify_bib(bib_text: str, records: Iterable[LiteratureRecord]) -> list[BibProblem]:
    """Every entry must be exactly the one generated from a retrieved record: an extra
    key, an edited field (a made-up or altered reference) or an unparseable block is
    reported. Both sides are read by bibtexparser, so layout does not matter."""
    expected = _parsed(build_bib(records)[0])
    lib = bibtexparser.parse_string(bib_text)
    problems = [BibProblem("?", f"unparseable BibTeX block at line {b.start_line}")
                for b in lib.failed_blocks]
    for key, entry in _parsed(bib_text).items():
        if key not in expected:
            problems.append(BibProblem(key, "not a retrieved paper (no Stage I record has this key)"))
        elif entry != expected[key]:
            problems.append(BibProblem(key, "entry differs from the retrieved record"))
    return problems
