"""Text helpers shared by the literature index, dedupe and the agents: one tokenizer so
that the index, queries and overlap scores all agree on what a "term" is."""
from __future__ import annotations

import hashlib
import re

_TOKEN = re.compile(r"[a-z0-9][a-z0-9\-\+]*[a-z0-9\+]|[a-z0-9]")
_WS = re.compile(r"\s+")

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just let me more most my myself no nor not now of off on once only or other our
ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself
yourselves via using use used based new novel propose proposed approach method methods
paper show shows work however while whether thus e g i e et al etc may might must one two
three within without across toward towards among per many much often well via via
""".split())


def stem(word: str) -> str:
    """A deliberately light stemmer (plurals only): heavier stemming merges ML terms
    that differ in meaning (e.g. "learning"/"learned" are fine, "network"/"networking"
    are not), and plurals are where most query/document mismatches come from."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    toks = _TOKEN.findall(text.lower())
    if keep_stopwords:
        return [stem(t) for t in toks]
    return [stem(t) for t in toks if t not in STOPWORDS and len(t) > 1]


def normalize_title(title: str) -> str:
    """Key for title-level dedupe across sources: case, punctuation and spacing removed."""
    return " ".join(re.findall(r"[a-z0-9]+", title.lower()))


def local_id(title: str) -> str:
    """Stable id for records with no arXiv id / DOI: a hash of the normalised title, so
    the same paper gets the same id on every machine and every index build."""
    return "local:" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:12]


def collapse(text: str) -> str:
    return _WS.sub(" ", text or "").strip()


def overlap(a: str, b: str) -> float:
    """Jaccard overlap of content terms: the embedding-free similarity fallback."""
    ta, tb = set(tokenize(a)), set(tokenize(b))
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


# Words a small model copies from a prompt's JSON example or schema instead of answering.
PLACEHOLDERS = frozenset({
    "", "...", "…", "short name", "one sentence", "string", "type", "items", "title", "array",
    "object", "query", "n/a", "na", "none", "null", "todo", "tbd", "x", "why", "arg",
    "why in one sentence", "a short search query", "method", "dataset", "baseline", "metric",
    "statement", "motivation", "reason", "message", "category",
})


def is_placeholder(text: str, extra: tuple[str, ...] = ()) -> bool:
    """True for template text (an example value, a schema word, ellipses), not content."""
    t = re.sub(r"[^a-z0-9 ]+", " ", str(text).lower())
    t = " ".join(t.split())
    return t in PLACEHOLDERS or t in {e.lower() for e in extra} or \
        bool(re.fullmatch(r"\s*<[^>]*>\s*", str(text)))
