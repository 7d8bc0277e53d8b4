"""Related work that is related: which retrieved records the paper may cite, grouped in
themes, each theme one sentence that says what the group does and how this study differs.

Relevance = 0.5 lexical + 0.5 embedding similarity between the study (question, methods,
datasets) and a record (title weighted over abstract). The threshold was calibrated on a
hand-labelled set of records from the offline library (tests/actors/relevance_labels.json;
test_writing_related.py records precision and recall). A record is citable only when its
reference is complete (authors, title, year, venue or arXiv id, URL): an incomplete
reference is omitted, never printed with empty fields.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from nanoresearch.embeddings import HashEmbedder
from nanoresearch.literature.text import tokenize
from nanoresearch.types import LiteratureRecord

THRESHOLD = 0.38  # calibrated on the labelled set (max F1 over 80 records, 5 questions): see the test
# words of a question that say nothing about its topic
_GENERIC = set(tokenize("does do change changes which best better improve improves match matches "
                        "outperform model models method methods approach using based study data "
                        "learning machine performance result results effect effects how much "
                        "whether compare comparison versus over when what new proposed task"))

THEMES: list[tuple[str, str, str]] = [
    # (name, pattern over title+abstract, sentence stem: what the group does)
    ("preprocessing", r"scal(?:e|ing)|standardi[sz]|normali[sz]|preprocess|transformation",
     "study how preprocessing such as feature scaling changes what a model learns"),
    ("application", r"diagnos|cancer|disease|clinical|medical|patient|churn|fraud|credit",
     "apply classifiers to the same kind of prediction problem"),
    ("classifiers", r"support vector|svm|nearest neighbo|k-?nn|logistic|random forest|boost|classifier",
     "propose or compare the classifiers this study evaluates"),
    ("forecasting", r"forecast|time series|autoregress|seasonal", "forecast time series with statistical "
                                                                   "or learned models"),
    ("graphs", r"graph|node|link prediction|network", "learn from graph structure"),
    ("text", r"text|language|token|n-gram|tweet", "classify text"),
    ("vision", r"image|pixel|vision|convolution", "classify images"),
    ("audio", r"audio|speech|speaker|acoustic", "classify audio"),
    ("other", r".", "address related problems"),
]


@dataclass
class Scored:
    record: LiteratureRecord
    score: float
    lexical: float
    dense: float


_SYNONYMS = {"k-NN": "nearest neighbour neighbors", "SVM": "support vector machine",
             "standardisation": "feature scaling standardization normalization"}


def study_groups(question: str, methods: Sequence[str], datasets: Sequence[str],
                 factor: str = "") -> list[str]:
    """Facets of the study a related record can share: each method, the data, the factor."""
    groups = [f"{m} {_SYNONYMS.get(m, '')}" for m in methods]
    groups += [d.replace("_", " ") for d in datasets]
    if factor:
        groups.append(f"{factor} {_SYNONYMS.get(factor, '')}")
    rest = set(tokenize(question)) - _GENERIC - {t for g in groups for t in tokenize(g)}
    # the question's own topic words are a facet too when it names fewer than two methods
    # ("late fusion ... modality ... noise"): the data alone would rank any classifier paper
    return groups + ([" ".join(sorted(rest))] if rest and len(methods) < 2 else [])


def _lexical(groups: Sequence[str], r: LiteratureRecord) -> float:
    """Share of the study's facets the record touches (title 1, abstract only 0.5); the
    best facet of a record counts double, so one strong shared facet is not diluted."""
    title, abstract = set(tokenize(r.title)), set(tokenize(r.abstract[:800]))
    hits = []
    for g in groups:
        toks = set(tokenize(g)) - _GENERIC
        hits.append(1.0 if toks & title else 0.5 if len(toks & abstract) >= min(2, len(toks)) else 0.0)
    return min(1.0, (sum(hits) + max(hits, default=0)) / (len(hits) + 1)) if hits else 0.0


def score_records(groups: Sequence[str], records: Sequence[LiteratureRecord],
                  embedder: Any = None) -> list[Scored]:
    """Relevance of each record to the study's facets, best first."""
    if not records:
        return []
    emb = embedder or HashEmbedder(512)
    study = " ".join(groups)
    vecs = np.asarray(emb.embed([study, *(f"{r.title}. {r.title}. {r.abstract[:400]}" for r in records)]))
    dense = np.clip(vecs[1:] @ vecs[0], 0.0, 1.0)
    out = []
    for r, d in zip(records, dense):
        lex = _lexical(groups, r)
        out.append(Scored(r, round(0.5 * lex + 0.5 * float(d), 4), round(lex, 4), round(float(d), 4)))
    return sorted(out, key=lambda s: -s.score)


def complete_reference(r: LiteratureRecord) -> bool:
    """Authors, title, year, venue or arXiv id, and a URL: else the reference is omitted."""
    arxiv = r.id.startswith("arxiv:") or "arxiv.org" in r.url
    return bool(r.authors and r.title.strip() and r.year and (r.venue.strip() or arxiv) and
                (r.url.strip() or arxiv))


def select_citable(groups: Sequence[str], records: Sequence[LiteratureRecord], *, threshold: float = THRESHOLD,
                   limit: int = 12, embedder: Any = None) -> tuple[list[Scored], dict[str, int]]:
    """(records above the threshold with complete references, counts of what was left out)."""
    scored = score_records(groups, records, embedder)
    keep = [s for s in scored if s.score >= threshold and complete_reference(s.record)]
    counts = {"retrieved": len(records), "below_threshold": sum(s.score < threshold for s in scored),
              "incomplete_reference": sum(s.score >= threshold and not complete_reference(s.record)
                                          for s in scored), "cited": min(len(keep), limit)}
    return keep[:limit], counts


def themes(cited: Sequence[LiteratureRecord]) -> list[tuple[str, str, list[LiteratureRecord]]]:
    """Group records by the first theme whose pattern they match: (name, stem, records)."""
    groups: dict[str, list[LiteratureRecord]] = {}
    for r in cited:
        text = f"{r.title} {r.abstract[:400]}".lower()
        name = next(n for n, pat, _ in THEMES if re.search(pat, text))
        groups.setdefault(name, []).append(r)
    return [(n, stem, groups[n]) for n, _, stem in THEMES if n in groups]
