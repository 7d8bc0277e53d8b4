"""OpenAlex, arXiv and Semantic Scholar clients: request building and response parsing.

Ids are normalised so the same paper dedupes across sources: an arXiv id wins (OpenAlex
and S2 expose it through the arXiv DOI 10.48550/arXiv.<id> or externalIds), then a DOI,
then the service's own id.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from nanoresearch.literature.http_base import HttpSource, MalformedResponse
from nanoresearch.literature.text import collapse, tokenize
from nanoresearch.types import LiteratureRecord

_ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(.+)$", re.I)
_ARXIV_VERSION = re.compile(r"v\d+$")


def _doi_id(doi: str | None) -> str | None:
    if not doi:
        return None
    doi = re.sub(r"^https?://(dx\.)?doi\.org/", "", doi.strip(), flags=re.I)
    m = _ARXIV_DOI.match(doi)
    return f"arxiv:{m.group(1)}" if m else f"doi:{doi.lower()}"


def _json_obj(body: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as e:
        raise MalformedResponse(f"{source} returned invalid JSON ({e.msg} at char {e.pos}); "
                                f"body starts {body[:120]!r}") from None
    if not isinstance(data, dict):
        raise MalformedResponse(f"{source} returned JSON {type(data).__name__}, expected an object")
    return data


def rebuild_abstract(inverted: dict[str, list[int]] | None) -> str:
    """OpenAlex ships abstracts as {word: [positions]}; put the words back in order."""
    if not inverted:
        return ""
    slots: dict[int, str] = {}
    for word, positions in inverted.items():
        for p in positions:
            slots[int(p)] = word
    return " ".join(slots[i] for i in sorted(slots))


class OpenAlexSource(HttpSource):
    name = "openalex"
    default_base_url = "https://api.openalex.org"

    def __init__(self, base_url: str | None = None, mailto: str | None = None, **kw: Any):
        super().__init__(base_url, **kw)
        self.mailto = mailto  # joins the polite pool: faster, more reliable responses

    def request(self, query: str, k: int) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"search": query, "per-page": min(k, 200)}
        if self.mailto:
            params["mailto"] = self.mailto
        return "/works", params

    def parse(self, body: str, k: int) -> list[LiteratureRecord]:
        data = _json_obj(body, self.name)
        if not isinstance(data.get("results"), list):
            raise MalformedResponse("openalex response has no 'results' list")
        out = []
        for w in data["results"][:k]:
            title = collapse(w.get("title") or w.get("display_name") or "")
            if not title:
                continue
            oa_id = str(w.get("id", "")).rsplit("/", 1)[-1]
            loc = w.get("primary_location") or {}
            out.append(LiteratureRecord(
                id=_doi_id(w.get("doi")) or f"openalex:{oa_id}", title=title,
                abstract=rebuild_abstract(w.get("abstract_inverted_index")),
                authors=[a["author"]["display_name"] for a in w.get("authorships") or []
                         if (a.get("author") or {}).get("display_name")],
                year=w.get("publication_year"),
                venue=((loc.get("source") or {}).get("display_name") or ""),
                url=loc.get("landing_page_url") or w.get("doi") or str(w.get("id", "")),
                source="openalex"))
        return out


_ATOM = {"a": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}


class ArxivSource(HttpSource):
    name = "arxiv"
    default_base_url = "https://export.arxiv.org"

    def __init__(self, base_url: str | None = None, **kw: Any):
        kw.setdefault("min_interval_s", 3.0)  # arXiv asks for one request every 3 s
        super().__init__(base_url, **kw)

    def request(self, query: str, k: int) -> tuple[str, dict[str, Any]]:
        terms = [t for t in tokenize(query) if t.isascii()][:6] or [query.strip()]
        return "/api/query", {"search_query": " AND ".join(f"all:{t}" for t in terms),
                              "start": 0, "max_results": k}

    def parse(self, body: str, k: int) -> list[LiteratureRecord]:
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            raise MalformedResponse(f"arxiv returned invalid Atom XML ({e}); "
                                    f"body starts {body[:120]!r}") from None
        if root.tag != f"{{{_ATOM['a']}}}feed":
            raise MalformedResponse(f"arxiv response root is {root.tag!r}, expected an Atom feed")
        out = []
        for e in root.findall("a:entry", _ATOM)[:k]:
            raw_id = (e.findtext("a:id", "", _ATOM) or "").strip()
            aid = _ARXIV_VERSION.sub("", raw_id.split("/abs/")[-1])
            title = collapse(e.findtext("a:title", "", _ATOM))
            if not aid or not title or title.lower() == "error":
                continue  # arXiv reports query errors as an entry titled "Error"
            cats = [c.get("term", "") for c in e.findall("a:category", _ATOM)]
            published = e.findtext("a:published", "", _ATOM)
            out.append(LiteratureRecord(
                id=f"arxiv:{aid}", title=title, abstract=collapse(e.findtext("a:summary", "", _ATOM)),
                authors=[collapse(a.findtext("a:name", "", _ATOM)) for a in e.findall("a:author", _ATOM)],
                year=int(published[:4]) if published[:4].isdigit() else None, venue="arXiv",
                url=f"https://arxiv.org/abs/{aid}", categories=[c for c in cats if c],
                source="arxiv"))
        return out


class SemanticScholarSource(HttpSource):
    name = "semantic_scholar"
    default_base_url = "https://api.semanticscholar.org"
    FIELDS = "title,abstract,authors,year,venue,externalIds,url"

    def __init__(self, base_url: str | None = None, api_key: str | None = None, **kw: Any):
        if api_key:
            kw["headers"] = {**(kw.get("headers") or {}), "x-api-key": api_key}
        super().__init__(base_url, **kw)

    def request(self, query: str, k: int) -> tuple[str, dict[str, Any]]:
        return "/graph/v1/paper/search", {"query": query, "limit": min(k, 100),
                                          "fields": self.FIELDS}

    def parse(self, body: str, k: int) -> list[LiteratureRecord]:
        data = _json_obj(body, self.name)
        if "data" not in data:
            if data.get("total") == 0:  # S2 omits "data" when nothing matched
                return []
            raise MalformedResponse("semantic_scholar response has no 'data' list")
        out = []
        for p in (data["data"] or [])[:k]:
            title = collapse(p.get("title") or "")
            if not title:
                continue
            ext = p.get("externalIds") or {}
            rid = (f"arxiv:{ext['ArXiv']}" if ext.get("ArXiv") else _doi_id(ext.get("DOI"))
                   or f"s2:{p['paperId']}")
            out.append(LiteratureRecord(
                id=rid, title=title, abstract=collapse(p.get("abstract") or ""),
                authors=[a["name"] for a in p.get("authors") or [] if a.get("name")],
                year=p.get("year"), venue=p.get("venue") or "", url=p.get("url") or "",
                source="semantic_scholar"))
        return out
