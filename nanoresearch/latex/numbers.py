"""Find every number a reader would take as a claim in LaTeX source.

Numbers that are not claims are masked first (kept at the same offsets so locations stay
right): comments, citation/ref/label/graphics/url arguments, optional arguments, column
specs, lengths with units, \\multicolumn/\\cmidrule spans, identifiers with digits
("ResNet50", "CIFAR-10", "F1"), cross-references typed as words ("Table 2") and list
markers "(1)". What remains is parsed with its shown precision, percent/ratio/scientific
form, explicit sign and a preceding comparator ("p < 0.05").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

_MASK_PATTERNS = [
    r"(?<!\\)%[^\n]*",  # comments
    r"\\(?:cite|citep|citet|citealp|citeauthor|citeyear|nocite|ref|eqref|autoref|cref|Cref|"
    r"pageref|label|input|include|url|href|bibliography|bibliographystyle|usepackage|"
    r"documentclass|includegraphics|hypersetup|setlength|addtolength|vspace|hspace|"
    r"renewcommand|newcommand|setcounter|cmidrule|cline|resizebox|scalebox|fontsize|"
    r"arraystretch|tabcolsep)(?![A-Za-z])\*?(?:\([^)]*\))?(?:\[[^\]]*\])*(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\})*",
    r"\\begin\{(?:tabular\*?|tabularx|array|minipage|table\*?|figure\*?|multicols|adjustbox)\}(?:\[[^\]]*\])*(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\})*",
    r"\\multicolumn\{\d+\}\{[^{}]*\}",
    r"\\multirow\{\d+\}\{[^{}]*\}",
    r"(?<=\\\\)\[[^\]]*\]",  # \\[2pt]
    r"\\[a-zA-Z]+\*?\[[^\]]*\]",  # optional args of any other command
    r"\d+(?:\.\d+)?\s*(?:pt|mm|cm|in|em|ex|bp|sp)\b",
    r"-?\d*\.?\d+\s*\\(?:linewidth|textwidth|columnwidth|textheight|paperwidth|baselineskip)",
    r"(?:Table|Tab\.|Figure|Fig\.|Figs\.|Section|Sec\.|Eq\.|Equation|Appendix|Algorithm|Line|"
    r"Chapter|Step|Stage|Phase)(?:s)?(?:~|\s)+\d+(?:\.\d+)*(?:\s*(?:--?|and|,)\s*\d+)*",
    r"(?:^|(?<=[\s(]))\(\d\)(?=\s)",  # enumerations "(1) we ..."
    r"\b[A-Za-z][A-Za-z_]*(?:\\_|[-_])?\d+(?:(?:\\_|[.\-_])\d+)*[A-Za-z]*",  # identifiers: F1, CIFAR-10
    r"\d+(?:\.\d+)?[A-Za-z]{2,}[A-Za-z0-9]*",  # "2D", "3rd", "128dim"... but not "1.5x"
    r"\d+[dD]\b",
]
_MASK_RE = re.compile("|".join(f"(?:{p})" for p in _MASK_PATTERNS), re.M)

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_NUMBER_RE = re.compile(
    r"(?P<comp>(?:<|>|\\leq?|\\geq?|\\le\b|\\ge\b|\\textless\{\}|\\textgreater\{\}|\\approx|\\sim|"
    r"\bbelow|\babove|\bless than|\bgreater than|\bunder|\bover)\s*\$?\s*)?"
    r"(?P<sign>(?<![\d.])[+\-\u2212](?=\.?\d)|\$-\$|\$\+\$)?"
    r"(?P<num>" + _NUM + r")"
    r"(?P<sci>\s*(?:[eE](?P<exp1>[+\-]?\d+)|\$?\s*\\times\s*10\^\{?(?P<exp2>[+\-]?\d+)\}?\$?))?"
    r"(?P<mag>[kKMB](?![A-Za-z]))?"
    r"(?P<suffix>(?:\\,|~)?\s*(?:\\%|%|\\percent|\s+per cent|\}\{\\percent\}|\s+percent(?:age points)?|\s*pp\b)|"
    r"\s*(?:x(?![A-Za-z])|\$?\\times\$?(?!\s*10\^)|\u00d7|-fold|\s+times\b))?"
)
_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
          "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_WORD_VALUES = {w: i for i, w in enumerate(_UNITS)} | _TENS
# "one" is everywhere in prose ("one of the"); from two on a number word is a claim.
_WORD_RE = re.compile(
    r"\b(?P<w>" + "|".join(sorted(set(_WORD_VALUES) - {"zero", "one"}, key=len, reverse=True)) + r")"
    r"(?:[- ](?P<u>one|two|three|four|five|six|seven|eight|nine)\b)?\b"
    r"(?P<pct>\s+(?:percent|per cent)|\s*\\%)?", re.I)
_POW10_RE = re.compile(r"(?<![\d.])10\^\{?(?P<exp>[+\-]?\d+)\}?")
_RANGE_SEP = re.compile(r"^\s*(?:--|-|\u2013|to)\s*$")
_MAG = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9}


@dataclass
class NumberMention:
    text: str
    value: float
    decimals: int  # shown precision (digits after the point, adjusted for exponents)
    form: str  # "plain" | "percent" | "ratio" | "scientific"
    signed: bool
    comparator: str
    start: int
    end: int
    line: int = 0
    section: str = ""
    unit: str = ""  # a counted noun right after the number ("3 seeds" -> "seed")


# "3 features" must be a count of features, not any 3 in the artifacts (3 seeds).
UNIT_WORDS = {"seed", "sample", "feature", "dataset", "method", "baseline", "run", "class", "tree",
              "epoch", "fold", "paper", "metric", "layer", "parameter", "example", "instance",
              "image", "node", "edge", "step", "iteration", "trial", "repetition", "model", "estimator",
              "neighbor", "neighbour", "component", "cluster", "row", "column", "variable", "token"}


def _stem(word: str) -> str:
    w = word.lower()
    for suf, rep in (("sses", "ss"), ("ies", "y"), ("xes", "x"), ("ches", "ch"), ("s", "")):
        if w.endswith(suf) and len(w) > len(suf) + 2:
            return w[: -len(suf)] + rep
    return w


_MODIFIERS = {"random", "different", "independent", "distinct", "additional", "more", "fewer",
              "training", "test", "input", "numerical", "numeric", "categorical", "labelled", "labeled",
              "unique", "total", "benchmark", "tabular", "public", "real"}


def unit_after(src: str, end: int) -> str:
    """The counted noun right after a number ("3 seeds", "3 random seeds"), or ''."""
    words = re.findall(r"[A-Za-z]+", src[end:end + 40])[:2]
    if len(words) == 2 and words[0].lower() in _MODIFIERS:
        words = words[1:]
    head = _stem(words[0]) if words and re.match(r"^[\s~]*[A-Za-z]", src[end:end + 40]) else ""
    return head if head in UNIT_WORDS else ""


def mask_non_claims(src: str, names: Iterable[str] = ()) -> str:
    """Same-length copy of `src` with non-claim numbers blanked out."""
    def blank(m: re.Match) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))
    out = _MASK_RE.sub(blank, src)
    for name in sorted({n for n in names if n and re.search(r"\d", n)}, key=len, reverse=True):
        out = re.sub(re.escape(name), lambda m: " " * len(m.group(0)), out)
    return out


def _comparator(raw: str | None) -> str:
    if not raw:
        return ""
    r = raw.strip().strip("$").strip()
    if r in ("<", "\\textless{}", "below", "less than", "under", "\\le", "\\leq"):
        return "<" if r in ("<", "\\textless{}", "below", "less than", "under") else "<="
    if r in (">", "\\textgreater{}", "above", "greater than", "over", "\\ge", "\\geq"):
        return ">" if r in (">", "\\textgreater{}", "above", "greater than", "over") else ">="
    return "~"


def _mention(m: re.Match, src: str) -> NumberMention:
    num = m.group("num").replace(",", "")
    decimals = len(num.split(".")[1]) if "." in num else 0
    value = float(num)
    form = "plain"
    exp = m.group("exp1") or m.group("exp2")
    if exp is not None:
        value *= 10 ** int(exp)
        decimals -= int(exp)
        form = "scientific"
    if m.group("mag"):
        value *= _MAG[m.group("mag")]
        decimals -= {1e3: 3, 1e6: 6, 1e9: 9}[_MAG[m.group("mag")]]
    suffix = (m.group("suffix") or "").strip()
    if suffix:
        form = "percent" if ("%" in suffix or "per" in suffix or suffix == "pp") else "ratio"
    sign = m.group("sign") or ""
    if "-" in sign or "\u2212" in sign:
        value = -value
    start = m.start("sign") if sign else m.start("num")
    return NumberMention(text=src[start:m.end()].strip(), value=value, decimals=decimals,
                         form=form, signed=bool(sign), comparator=_comparator(m.group("comp")),
                         start=start, end=m.end(), line=src.count("\n", 0, start) + 1)


def _word_numbers(src: str, masked: str, section: str) -> list[NumberMention]:
    out = []
    for m in _WORD_RE.finditer(masked):
        value = _WORD_VALUES[m.group("w").lower()] + (_WORD_VALUES[m.group("u").lower()] if m.group("u") else 0)
        out.append(NumberMention(text=m.group(0).strip(), value=float(value), decimals=0,
                                 form="percent" if m.group("pct") else "plain", signed=False, comparator="",
                                 start=m.start(), end=m.end(), line=src.count("\n", 0, m.start()) + 1,
                                 section=section))
    return out


def find_numbers(src: str, names: Iterable[str] = (), section: str = "") -> list[NumberMention]:
    """Every claim-like number in `src`, in order. Range endpoints ("3-5", "3--5",
    "0.2 to 0.4") come out as two mentions, never as a negative second number."""
    masked = mask_non_claims(src, names)
    out: list[NumberMention] = []
    for m in _POW10_RE.finditer(masked):  # a bare "$10^{-4}$"; "2 \times 10^{-4}" is below
        if masked[:m.start()].rstrip().endswith("\\times"):
            continue
        exp = int(m.group("exp"))
        out.append(NumberMention(text=m.group(0), value=10.0 ** exp, decimals=-exp, form="scientific",
                                 signed=False, comparator="", start=m.start(), end=m.end(),
                                 line=src.count("\n", 0, m.start()) + 1, section=section))
        masked = masked[:m.start()] + " " * (m.end() - m.start()) + masked[m.end():]
    for m in _NUMBER_RE.finditer(masked):
        mention = _mention(m, src)
        prev = [n for n in out if n.end <= m.start()]
        if prev and mention.signed and _RANGE_SEP.match(masked[prev[-1].end:m.start("num")] or "x"):
            # "3-5" / "3--5" is a range, not minus five
            mention.value, mention.signed = abs(mention.value), False
            mention.start, mention.text = m.start("num"), src[m.start("num"):m.end()].strip()
        mention.section = section
        if mention.form in ("plain", "scientific"):
            mention.unit = unit_after(src, mention.end)
        out.append(mention)
    for w in _word_numbers(src, masked, section):
        w.unit = unit_after(src, w.end) if w.form == "plain" else ""
        out.append(w)
    return sorted(out, key=lambda n: n.start)
