"""The catalog registry: each entry is a DatasetCard plus the loader that builds it.

Loaders return a `DatasetBundle` whose arrays follow one convention per task kind, so
the per-domain experiment scaffolds can read any staged dataset of their domain:
  classification / regression : X (n, d) or images (n, h, w[, c]), y
  text classification         : text (n,) unicode, y
  image+text classification   : images (n, h, w, c) uint8, text (n,), y
  forecasting                 : series (T,) float64, time (T,)
  series classification       : X (n, channels, length) float32, y
  node classification         : edges (E, 2), y (n_nodes,), x (n_nodes, f)
  link prediction             : edges (E, 2)
Strings are stored as fixed-width unicode so staged .npz files load without pickle.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from nanoresearch.errors import UserError
from nanoresearch.types import DatasetCard

log = logging.getLogger(__name__)

DOMAINS = ("nlp", "cv", "multimodal", "tabular", "timeseries", "graph", "audio")


@dataclass
class DatasetBundle:
    name: str
    card: DatasetCard
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)  # class_names, feature_names, period...


Loader = Callable[[], DatasetBundle]


@dataclass
class _Entry:
    card: DatasetCard
    loader: Callable[[DatasetCard], DatasetBundle]


_REGISTRY: dict[str, _Entry] = {}


def register(card: DatasetCard):
    """Decorator: `@register(DatasetCard(...))` over `def load(card) -> DatasetBundle`."""
    def deco(fn: Callable[[DatasetCard], DatasetBundle]):
        if card.name in _REGISTRY:
            raise ValueError(f"dataset {card.name!r} registered twice")
        _REGISTRY[card.name] = _Entry(card, fn)
        return fn
    return deco


def _ensure_loaded() -> None:
    # the domain modules register on import; import them lazily so `registry` stays light
    from nanoresearch.datasets import (audio, graph, multimodal, tabular, text,  # noqa: F401
                                       timeseries, vision)


def get_catalog() -> dict[str, DatasetCard]:
    _ensure_loaded()
    return {name: e.card.model_copy() for name, e in sorted(_REGISTRY.items())}


def feature_blocks(names: list[str]) -> dict[str, list[int]]:
    """The named column blocks every listed dataset shares ({} when they differ or none has any)."""
    cat = get_catalog()
    cards = [cat[n] for n in names if n in cat]
    blocks = cards[0].feature_blocks if cards else {}
    return blocks if all(c.feature_blocks == blocks for c in cards) else {}


def resolve_name(name: str, domain: str | None = None) -> str:
    """Catalog key for a name as researchers write it (key, display name, module path such
    as `statsmodels.datasets.co2`); raises a UserError naming the closest entries. No
    loose fuzzy match: a different dataset is never substituted for the one named."""
    _ensure_loaded()
    if name in _REGISTRY:
        return name
    from nanoresearch.datasets.resolve import resolve_dataset

    return resolve_dataset(name, {k: e.card for k, e in _REGISTRY.items()}, domain).name


def _norm(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def load(name: str) -> DatasetBundle:
    """Load a catalog dataset offline (arrays in memory)."""
    key = resolve_name(name)
    entry = _REGISTRY[key]
    t0 = time.perf_counter()
    bundle = entry.loader(entry.card)
    log.info("loaded dataset %s in %.2fs", key, time.perf_counter() - t0)
    return bundle


def to_unicode(values) -> np.ndarray:
    """Object/str sequences -> fixed-width unicode (npz without pickle)."""
    return np.asarray([str(v) for v in values], dtype=np.str_)


def encode_labels(values) -> tuple[np.ndarray, list[str]]:
    classes, y = np.unique(np.asarray([str(v) for v in values]), return_inverse=True)
    return y.astype(np.int64), [str(c) for c in classes]


def subsample(n: int, k: int, seed: int = 0) -> np.ndarray:
    """Deterministic sorted subset of k of n indices (all when k >= n)."""
    if k >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
