"""The user's own library (BibTeX or JSONL), indexed in memory with the same BM25 code.

Ids follow the same scheme as every other source (arXiv id, then DOI, then a title hash)
so a paper the user imported and the same paper found on arXiv dedupe to one record.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from nanoresearch.errors import UserError
from nanoresearch.literature.bm25 import BM25Index
from nanoresearch.literature.local import Embedder, doc_tokens, rerank
from nanoresearch.literature.text import collapse, local_id
from nanoresearch.types import LiteratureRecord

log = logging.getLogger(__name__)
_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", re.M)
_FIELD = re.compile(r"(\w+)\s*=\s*", re.M)


def _braced(text: str, i: int) -> tuple[str, int]:
    """Read a {...} value with nested braces starting at text[i] == '{'."""
    depth, j = 0, i
    while j < len(text):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
        j += 1
    raise ValueError("unbalanced braces")


def _fields(body: str) -> dict[str, str]:
    out, pos = {}, 0
    while (m := _FIELD.search(body, pos)) is not None:
        key, i = m.group(1).lower(), m.end()
        if i >= len(body):
            break
        if body[i] == "{":
            val, pos = _braced(body, i)
        elif body[i] == '"':
            end = body.index('"', i + 1)
            val, pos = body[i + 1:end], end + 1
        else:
            val = re.match(r"[^,}\s]*", body[i:]).group(0)
            pos = i + len(val)
        out[key] = collapse(val.replace("{", "").replace("}", ""))
    return out


def parse_bibtex(text: str) -> list[dict[str, Any]]:
    entries = []
    starts = list(_ENTRY.finditer(text))
    for n, m in enumerate(starts):
        if m.group(1).lower() in ("comment", "string", "preamble"):
            continue
        end = starts[n + 1].start() if n + 1 < len(starts) else len(text)
        try:
            f = _fields(text[m.end():end])
        except ValueError as e:
            raise UserError(f"BibTeX entry {m.group(2)!r} is malformed ({e}); fix its braces") from None
        f["key"] = m.group(2)
        entries.append(f)
    return entries


def _to_record(f: dict[str, Any]) -> LiteratureRecord:
    title = collapse(str(f.get("title", "")))
    arxiv = f.get("arxiv_id") or f.get("eprint") or ""
    doi = f.get("doi") or ""
    rid = f.get("id") or (f"arxiv:{arxiv}" if arxiv else f"doi:{doi}" if doi else local_id(title))
    authors = f.get("authors") or f.get("author") or []
    if isinstance(authors, str):
        authors = [a.strip() for a in authors.split(" and ") if a.strip()]
    year = str(f.get("year") or f.get("published") or "")[:4]
    return LiteratureRecord(
        id=str(rid), title=title, abstract=collapse(str(f.get("abstract", ""))),
        authors=list(authors), year=int(year) if year.isdigit() else None,
        venue=str(f.get("venue") or f.get("journal") or f.get("booktitle") or ""),
        url=str(f.get("url") or ""), categories=list(f.get("categories") or []), source="user")


def load_user_library(path: str | Path) -> list[LiteratureRecord]:
    """BibTeX (.bib) or JSON Lines (.jsonl, one object per paper with at least `title`)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"user library {p} not found; set literature.user_library to a .bib or .jsonl file")
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".bib":
        raw = parse_bibtex(text)
    elif p.suffix.lower() in (".jsonl", ".json"):
        raw = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    raw.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise UserError(f"{p}:{n} is not valid JSON ({e.msg}); one object per line") from None
    else:
        raise UserError(f"user library {p} must end in .bib or .jsonl")
    records = [_to_record(f) for f in raw if str(f.get("title", "")).strip()]
    log.info("imported %d user records from %s (%d skipped without title)", len(records), p,
             len(raw) - len(records))
    return records


class UserLibrary:
    name = "user"

    def __init__(self, records: list[LiteratureRecord], embedder: Embedder | None = None):
        self.records = records
        self.embedder = embedder
        self.index = BM25Index.build(doc_tokens(r.title, r.abstract) for r in records)
        self.by_id = {r.id: r for r in records}

    @classmethod
    def from_file(cls, path: str | Path, embedder: Embedder | None = None) -> "UserLibrary":
        return cls(load_user_library(path), embedder)

    def get(self, paper_id: str) -> LiteratureRecord | None:
        return self.by_id.get(paper_id)

    def search(self, query: str, k: int = 10) -> list[LiteratureRecord]:
        hits = [self.records[i].model_copy(update={"score": s})
                for i, s in self.index.top(query, max(k, 50))]
        return rerank(query, hits, self.embedder, k)
