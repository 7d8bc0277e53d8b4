"""Prose gates: sentences that say nothing, internal text that must never reach the
body of a paper (verdict codes, fallbacks, provenance, summaries of the system's own
decisions), and claims nobody recorded (claims.py). All run on model text and on
artifact-built text alike; what they remove is
reported, and the provenance goes to writing/provenance.json and the appendix instead.

    filler_reason("Feature-based decision-making is a method that uses data analysis to "
                  "make decisions based on data analysis.")   -> "circular: repeats 'data analysis'"
    leak_reason("verdict refuted: worse than the best baseline")  -> "internal text: 'verdict refuted'"
"""
from __future__ import annotations

import re
from typing import Callable

# system vocabulary: an artifact's field names and the pipeline's own decisions
_LEAKS = re.compile(
    r"\bverdict\s*(?:refuted|supported|inconclusive|:)|\bsummary:\s|\bdeterministic \(|"
    r"\bmodel summary rejected\b|\bfallback\b|\bfell back\b|\bscaffold\b|\bprovenance\b|"
    r"\bcoding_notes\b|\bmetrics\.json\b|\bruns\.json\b|\bcites no result\b|\bmethod slot\b|"
    r"\bseeded mode\b|\bllm\+repaired\b|\brule issue\(s\)|\bnot in the offline catalog\b|"
    r"\bno usable model output\b|\bmodel output unusable\b|\bthe (?:embedded|small) model\b|"
    r"\bdropped \(allowed|\bread leniently\b|\bstructured[_ ]retries\b", re.I)
_EMPTY = [
    re.compile(r"^(?:this|the) (?:paper|section|study|work) (?:is|was) (?:about|written)\b", re.I),
    re.compile(r"\bis (?:a|an) (?:method|approach|technique) that (?:uses|is used)\b.*\bto\b", re.I),
    re.compile(r"^(?:in (?:this|the) (?:section|paragraph),? )?we (?:will )?(?:discuss|describe|present) "
               r"(?:the )?(?:section|paragraph|following)\.?$", re.I),
    re.compile(r"\b(?:plays an important role|is (?:very )?important (?:for|in) many)\b", re.I),
    # the paper describing itself in the third person ("The paper's main message is that ...")
    re.compile(r"^(?:the|this) (?:paper|study|work|article)['’]s (?:main |key |central )?(?:message|"
               r"introduction|section|conclusion|hypothesis|contribution|method|results?|focus)s?\b", re.I),
    # remarks on the paper's own presentation (tab_02: "The results are presented in a clear
    # and concise manner, with no unnecessary formatting.", "The paper concludes with a discussion ...")
    re.compile(r"\b(?:presented|written|organi[sz]ed|structured) in a (?:clear|concise|clear and concise|"
               r"logical|well-organi[sz]ed)\b|\bno unnecessary formatting\b", re.I),
    re.compile(r"^(?:the|this) (?:paper|study|work|article|section) (?:concludes|ends|closes) with\b", re.I),
]
# praise no measurement can back ("a groundbreaking finding that challenges the long-held ...")
_HYPE = re.compile(
    r"\b(?:ground-?breaking|revolutioni[sz]\w*|paradigm shift|long-held (?:assumption|belief)|"
    r"paves? the way|sheds? (?:new )?light|game-?chang\w+|not only impressive|highlights? the potential|"
    r"new perspective on|state-of-the-art results)\b", re.I)
_STOP = set("a an the of to in on for and or with by is are was were be that this it as at from "
            "which we our its their these those can may".split())


def _content_words(sentence: str) -> list[str]:
    return [w for w in re.findall(r"[a-z][a-z\-]+", sentence.lower()) if w not in _STOP]


def _listed(s: str, gram: str) -> bool:
    """The repeated phrase only begins items of an enumeration ("SVM, random forest, SVM
    without augmentation and random forest without augmentation"): names of arms, not a
    sentence defining a thing by itself."""
    raw = re.split(r",\s*(?:and\s+)?|\s+and\s+", s)
    hits = [x for x in raw if gram in " ".join(_content_words(x))]
    return len(raw) >= 3 and len(hits) > 1 and all(
        len(_content_words(x)) <= 5 and not re.search(r"\b(?:which|that|is|are|means|uses?|used)\b", x, re.I)
        for x in hits[1:])


def filler_reason(sentence: str) -> str | None:
    """Why a sentence says nothing (empty template or circular definition), else None."""
    s = re.sub(r"\\[a-zA-Z]+\{[^{}]*\}|~", " ", sentence).strip()
    if any(p.search(s) for p in _EMPTY):
        return "empty template sentence"
    if m := _HYPE.search(s):
        return f"unbacked praise: {m.group(0)!r}"
    words = _content_words(s)
    grams = [" ".join(words[i:i + 2]) for i in range(len(words) - 1)]
    rep = next((g for g in dict.fromkeys(grams) if grams.count(g) > 1 and not _listed(s, g)), None)
    measured = len(re.findall(r"\d\.\d", s)) >= 2  # a sentence of measured values repeats method names, not itself
    if rep and len(words) < 25 and not measured:
        return f"circular: repeats {rep!r}"
    m = re.match(r"^(?:the )?([\w\- ]{3,60}?) (?:is|are|means) ", s, re.I)
    if m:
        subj = set(_content_words(m.group(1)))
        rest = set(_content_words(s[m.end():]))
        if subj and len(subj & rest) >= max(1, len(subj) - 1) and len(rest - subj) < 4:
            return "circular: defines a term by itself"
    return None


def title_reason(title: str) -> str | None:
    """Why a title is unusable (a small model's degenerate repetition, a sentence, a run-on),
    else None."""
    words = re.findall(r"[A-Za-z0-9][\w\-]*", title)
    if not 3 <= len(words) <= 20:
        return f"{len(words)} words (a title has 3 to 20)"
    low = [w.lower() for w in words]
    grams = [" ".join(low[i:i + 3]) for i in range(len(low) - 2)]
    if len(set(grams)) < len(grams):
        return "repeats itself"
    if re.search(r"[-:;,]\s*$|\.\s+\S", title.strip()):
        return "not a title (trailing separator or several sentences)"
    return None


def leak_reason(sentence: str) -> str | None:
    m = _LEAKS.search(sentence)
    return f"internal text: {m.group(0).strip()!r}" if m else None


def split_sentences(text: str) -> list[str]:
    out = re.split(r"(?<=[.!?])\s+(?=[A-Z\\]|[a-z]-[A-Z])", text.strip())  # "k-NN ..." opens one too
    return [s for s in out if s.strip()]


def gate_prose(text: str, papers=(), facts: str = "") -> tuple[str, list[str]]:
    """Drop filler, internal-text and unbacked-claim sentences (nanoresearch/latex/claims.py:
    a venue/publication/award/date in no reference or project fact, a method family
    characterised contrary to the fact table) from prose (floats and tables untouched);
    returns (text, reasons). Paragraph breaks are kept."""
    from nanoresearch.latex.claims import claim_reason

    return drop_sentences(text, lambda s: leak_reason(s) or filler_reason(s) or claim_reason(s, papers, facts))


def drop_sentences(text: str, reason: Callable[[str], str | None], keep: int = 120) -> tuple[str, list[str]]:
    """Drop each prose sentence `reason` names a reason for (floats and tables untouched,
    paragraph breaks kept); returns (text, "why: sentence" per dropped sentence)."""
    reasons: list[str] = []
    paras = []
    for para in re.split(r"\n\s*\n", text):
        if re.search(r"\\begin\{(?:table|figure|tabular)", para):
            paras.append(para)
            continue
        kept = []
        for s in split_sentences(para):
            why = reason(s)
            if why:
                reasons.append(f"{why}: {s[:keep]}")
            else:
                kept.append(s)
        if kept:
            paras.append(" ".join(kept))
    return "\n\n".join(paras), reasons


NEAR = 0.8  # word-set overlap (Jaccard) at which two sentences say the same thing


def near_duplicate(a: set[str], b: set[str]) -> bool:
    """Two sentences' word sets (>= 6 words each) that overlap at NEAR or more: the same
    sentence with a word swapped ("The hypothesis is that X ..." / "The main message is that X ...").
    Sentences that differ in a number state different measurements (one comparison per
    baseline, per metric, per dataset) and are not duplicates."""
    if any(t.isdigit() for t in a ^ b):
        return False
    if sum(t.isdigit() for t in a) >= 3:  # measured values: the same numbers for two arms (tab_02's majority
        return False                      # class and an ablation that collapsed to it) are two measurements
    return len(a) >= 6 and len(b) >= 6 and len(a & b) >= NEAR * len(a | b)


def repeated_sentences(texts: list[str]) -> list[str]:
    """Sentences that occur more than once across the given texts (normalised), or
    again with a word or two changed (near_duplicate)."""
    seen: dict[str, int] = {}
    for t in texts:
        for s in split_sentences(re.sub(r"\\begin\{(table|figure)\*?\}.*?\\end\{\1\*?\}", " ", t, flags=re.S)):
            key = " ".join(re.findall(r"[a-z0-9]+", s.lower()))
            if len(key.split()) < 5:
                continue
            words = set(key.split())
            key = next((k for k in seen if k == key or near_duplicate(words, set(k.split()))), key)
            seen[key] = seen.get(key, 0) + 1
    return [k for k, n in seen.items() if n > 1]
