"""Claim gate: sentences that state something about the world the project cannot back.

Two kinds, both by rule (so small-model prose and templates pass the same gate):
- provenance claims: a venue, publication, award or date ("published in JMLR", "won the
  best paper award", "introduced in 1995") that appears in neither the references (venue,
  title, year, id) nor the project's own facts;
- method-family claims: a sentence that characterises a method the scaffolds implement
  contrary to a small fact table ("k-NN is based on a linear model", "random forest is a
  boosting method").

    claim_reason("k-NN is based on a linear model.")  -> "contradicts the method facts (k-NN is
                                                         instance-based (non-parametric), not linear)"
"""
from __future__ import annotations

import re
from typing import Sequence

# venues people name; a sentence naming one must find it in the references or the facts
VENUES = ("JMLR", "Journal of Machine Learning Research", "NeurIPS", "NIPS", "ICML", "ICLR", "AAAI",
          "IJCAI", "KDD", "SIGKDD", "CVPR", "ICCV", "ECCV", "ACL", "EMNLP", "NAACL", "COLING", "TPAMI",
          "TKDE", "Machine Learning Journal", "Nature", "Science", "PNAS", "AISTATS", "UAI", "COLT",
          "ICASSP", "Interspeech", "WWW", "SIGIR", "WSDM", "ICDM", "SDM", "ECML", "TMLR", "Neural Computation",
          "Pattern Recognition", "Bioinformatics", "The Lancet", "JAMA", "IEEE Transactions")
_VENUE_RX = re.compile(r"\b(?:" + "|".join(re.escape(v) for v in VENUES) + r")\b")
_PUBLISHED = re.compile(r"\b(?:published|appeared|presented|accepted|introduced|proposed|reported)\s+"
                        r"(?:in|at|to|by)\s+(?:the\s+)?((?:[A-Z][\w\-&]*\.?\s*){1,6})")
_AWARD = re.compile(r"\b(?:best[- ]paper|test[- ]of[- ]time|award(?:ed|s)?|prize|won the)\b", re.I)
# a year in a date context ("in 1995", "since 2012", "(2019)"), not a count ("1900 samples")
_YEAR = re.compile(r"(?:\b(?:in|since|from|until|by|during|year|around|circa|before|after)\s+|\()"
                   r"(1[89]\d\d|20\d\d)(?!\d|\.\d|\s*(?:samples|examples|rows|images|records|features|points))")

# what each method family is, and words that characterise it otherwise
_M = {
    "k-NN": (r"\bk-?nn\b|\bk[- ]nearest[- ]neighbou?rs?\b|\bnearest[- ]neighbou?r (?:classifier|method|model)",
             "instance-based (non-parametric)",
             r"linear|parametric|tree|ensemble|neural|boost|bagg|margin|kernel machine|generative|probabilistic model"),
    "logistic regression": (r"\blogistic regression\b", "a linear, probabilistic classifier",
                            r"non-?linear|non-?parametric|instance-based|nearest|tree|ensemble|boost|bagg|"
                            r"neural network|unsupervised|clustering|generative"),
    "SVM": (r"\bsvms?\b|\bsupport[- ]vector (?:machines?|classifiers?)", "margin-based (kernel)",
            r"probabilistic|generative|tree|ensemble|boost|bagg|instance-based|nearest|neural network|"
            r"unsupervised|clustering"),
    "random forest": (r"\brandom forests?\b", "a bagged tree ensemble",
                      r"linear|boost|single (?:decision )?tree|neural|instance-based|nearest|kernel|margin|"
                      r"unsupervised|clustering"),
    "gradient boosting": (r"\bgradient[- ]boost\w*|\bboosted trees\b", "a boosted tree ensemble",
                          r"linear|bagg|random forest|neural|instance-based|nearest|kernel|margin|unsupervised"),
    "decision tree": (r"\bdecision trees?\b", "a single tree of axis-aligned splits",
                      r"linear|ensemble|boost|bagg|neural|instance-based|nearest|kernel|margin"),
    "naive Bayes": (r"\bnaive bayes\b", "a probabilistic, generative classifier",
                    r"discriminative|tree|ensemble|boost|bagg|nearest|instance-based|margin|neural|kernel"),
    "MLP": (r"\bmlps?\b|\bmulti-?layer perceptrons?\b", "a feed-forward neural network",
            r"linear model|linear classifier|tree|ensemble|boost|bagg|instance-based|nearest|kernel|generative"),
    "ridge regression": (r"\bridge regression\b", "a linear model with an L2 penalty",
                         r"non-?linear|tree|ensemble|boost|bagg|instance-based|nearest|neural|unsupervised"),
    "linear regression": (r"\blinear regression\b", "a linear model",
                          r"non-?linear|tree|ensemble|boost|bagg|instance-based|nearest|neural|classifier"),
}
# "<M> is/are (a/an) ... <term>", "<M> is based on / uses / relies on ... <term>", "<M>, a ... <term>"
_CHAR = r"(?:\s+(?:is|are|was|were|acts as|works as)\s+(?:based on\s+|built on\s+)?|\s+(?:uses|relies on|builds|fits|learns)\s+|\s*,\s+(?=an?\s))"


def _negated(span: str) -> bool:
    return bool(re.search(r"\b(?:not|no|never|neither|nor|rather than|instead of)\b", span, re.I))


def method_claim_reason(sentence: str) -> str | None:
    """Why the sentence characterises a method family wrongly, else None."""
    for name, (pat, fact, wrong) in _M.items():
        for m in re.finditer(rf"(?:{pat})(?:\s+(?:classifiers?|methods?|models?|algorithms?))?{_CHAR}"
                             rf"((?:[\w\-()]+\s+){{0,5}}?)((?:{wrong})\w*)", sentence, re.I):
            if _negated(m.group(0)) or re.search(r"\b(?:unlike|in contrast to)\b[^,.;]*$",
                                                 sentence[:m.start()], re.I):
                continue
            if re.search(r"\b(?:and|or|than|versus|vs)\b", m.group(1), re.I):
                continue  # "k-NN is compared with a linear model": not a characterisation
            return f"contradicts the method facts ({name} is {fact}, not {m.group(2).lower()})"
    return None


def _allowed_text(papers: Sequence, facts: str) -> str:
    parts = [facts]
    for p in papers:
        parts += [str(getattr(p, a, "") or "") for a in ("title", "venue", "year", "id", "url", "abstract")]
    return " ".join(parts)


def provenance_claim_reason(sentence: str, papers: Sequence = (), facts: str = "") -> str | None:
    """Why the sentence claims a venue / publication / award / date nobody recorded."""
    allowed = _allowed_text(papers, facts)
    low = allowed.lower()
    for m in _VENUE_RX.finditer(sentence):
        if m.group(0).lower() not in low:
            return f"unbacked venue claim ({m.group(0)!r} is in no reference or project fact)"
    for m in _PUBLISHED.finditer(sentence):
        venue = m.group(1).strip().rstrip(".")
        if venue and venue.lower() not in low and not re.match(r"(?:Table|Figure|Section|This|Our|We)\b", venue):
            return f"unbacked publication claim ({venue!r} is in no reference or project fact)"
    if _AWARD.search(sentence) and not _AWARD.search(allowed):
        return f"unbacked award claim ({_AWARD.search(sentence).group(0)!r})"
    for y in _YEAR.findall(re.sub(r"\\cite\w*\{[^}]*\}", " ", sentence)):
        if y not in allowed:
            return f"unbacked date ({y} is the year of no reference or project fact)"
    return None


def claim_reason(sentence: str, papers: Sequence = (), facts: str = "") -> str | None:
    return method_claim_reason(sentence) or provenance_claim_reason(sentence, papers, facts)



# ---------------------------------------------------------------- comparisons vs the results
_COMPARATIVE = re.compile(
    r"\b(?:(higher|greater|larger)|(lower|smaller)|(better|superior to|outperform\w*|beats?|ahead of)|"
    r"(worse|inferior to|behind|underperform\w*|trails?))\b", re.I)
_NEGATION = re.compile(r"\b(?:not|no|never|neither|nor|cannot|unlike)\b|n't\b", re.I)


def _mentions(sentence: str, names: Sequence[str]) -> list[tuple[int, str]]:
    """(position, method) of each method the sentence names (longest names first, no overlap)."""
    low, taken, out = sentence.lower(), [], []
    for name in sorted(names, key=len, reverse=True):
        for m in re.finditer(r"(?<![\w-])" + re.escape(name.lower()) + r"(?![\w-])", low):
            if not any(a < m.end() and m.start() < b for a, b in taken):
                taken.append((m.start(), m.end()))
                out.append((m.start(), name))
    return sorted(out)


_METRIC_WORDS = re.compile(r"\b(?:accuracy|f1|macro[-_ ]f1|auc|roc|ap|average precision|mae|rmse|mse|r2|r\^2|"
                           r"precision|recall|mape|smape|time|seconds|memory|size|latency|variance|std|"
                           r"standard deviation|p-value|loss|parameters)\b", re.I)


def primary_means(records: Sequence, metric: str) -> dict[str, dict[str, float]]:
    """dataset -> method -> mean of `metric` on the test split over the metric records:
    what a sentence ranking methods is checked against."""
    vals: dict[str, dict[str, list[float]]] = {}
    for m in records:
        if m.metric == metric and m.split == "test":
            vals.setdefault(m.dataset, {}).setdefault(m.method, []).append(m.value)
    return {d: {k: sum(v) / len(v) for k, v in per.items()} for d, per in vals.items()}


def comparison_reason(sentence: str, means: dict[str, dict[str, float]], lower_better: bool,
                      metric: str = "") -> str | None:
    """Why a sentence that ranks one method against others contradicts the results, else None.
    `means`: dataset -> method -> mean of the primary `metric`. The claim is "A is
    higher/lower/better/worse than B (and C)": A is the first method named before the
    comparative, the rivals those named after it; it is false when it holds on no dataset.
    A negated sentence is left alone (the gate removes only what it can read)."""
    m = _COMPARATIVE.search(sentence)
    if not m or _NEGATION.search(sentence) or not means:
        return None
    prim = re.sub(r"[-_ ]", "", metric.lower())
    if any(re.sub(r"[-_ ]", "", w.lower()) != prim for w in _METRIC_WORDS.findall(sentence)):
        return None  # about another quantity (fit time, a second metric): not checkable here
    names = sorted({n for per in means.values() for n in per})
    named = _mentions(sentence, names)
    subj = [n for at, n in named if at < m.start()]
    rivals = [n for at, n in named if at > m.start() and (not subj or n != subj[0])]
    if not subj or not rivals:
        return None
    a = subj[0]
    higher, lower, better, worse = (g is not None for g in m.groups())
    if better or worse:
        higher, lower = (better, worse) if not lower_better else (worse, better)
    for b in rivals:
        holds = [per[a] > per[b] if higher else per[a] < per[b]
                 for per in means.values() if a in per and b in per]
        if holds and not any(holds):
            ds, per = next((d, p) for d, p in means.items() if a in p and b in p)
            return (f"contradicts the results: {a} ({per[a]:.3f}) is not {m.group(0).lower()} than "
                    f"{b} ({per[b]:.3f}) on {ds}")
    return None


def gate_comparisons(latex: str, means: dict[str, dict[str, float]], lower_better: bool,
                     metric: str = "") -> tuple[str, list[str]]:
    """Drop the sentences of prose whose ranking of methods the results contradict (floats
    untouched); returns (text, "why: sentence" per dropped sentence)."""
    from nanoresearch.latex.prose import drop_sentences

    if not means:
        return latex, []
    return drop_sentences(latex, lambda s: comparison_reason(s, means, lower_better, metric), keep=160)
