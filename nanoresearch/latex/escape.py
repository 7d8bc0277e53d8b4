"""LaTeX escaping for text we do not control (model output, paper titles, author names).

Model text is escaped character by character except for a small whitelist of markup that
is useful and cheap to verify (\\cite-family commands, \\emph/\\textbf/\\textit, inline
math with balanced dollars). Everything else becomes literal text, so a weak model cannot
inject arbitrary TeX; a strong model still gets citations, emphasis and math.
"""
from __future__ import annotations

import re
import unicodedata

_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
    "#": r"\#", "^": r"\textasciicircum{}", "_": r"\_", "~": r"\textasciitilde{}",
    "%": r"\%", "<": r"\textless{}", ">": r"\textgreater{}",
}
# pdflatex with T1 + utf8 handles Latin accents; everything else (CJK, emoji, math
# symbols typed as Unicode) would stop the compile, so it is transliterated or dropped.
_UNICODE_FALLBACK = {
    "\u2013": "--", "\u2014": "---", "\u2018": "`", "\u2019": "'", "\u201c": "``",
    "\u201d": "''", "\u2212": "-", "\u00b1": r"$\pm$", "\u00d7": r"$\times$",
    "\u2264": r"$\leq$", "\u2265": r"$\geq$", "\u2026": "...", "\u00a0": " ",
}
_CITE_RE = re.compile(r"\\(?:cite|citep|citet|citealp|citeauthor|citeyear)\*?(?:\[[^\]\n]*\]){0,2}\{[^{}\n]*\}")
_STYLE_RE = re.compile(r"\\(?:emph|textbf|textit)\{[^{}\\$\n]*\}")
_MATH_RE = re.compile(r"\$[^$\n]{1,200}\$")


def _latin_ok(ch: str) -> bool:
    try:
        return ord(ch) < 0x250 and unicodedata.category(ch)[0] in "LNPSZ"
    except (TypeError, ValueError):
        return False


def escape_latex(text: str) -> str:
    """Literal text -> LaTeX source that typesets exactly that text."""
    out = []
    for ch in text:
        if ch in _SPECIALS:
            out.append(_SPECIALS[ch])
        elif ch in _UNICODE_FALLBACK:
            out.append(_UNICODE_FALLBACK[ch])
        elif ord(ch) < 128 or _latin_ok(ch):
            out.append(ch if ch.isprintable() or ch in "\n\t" else " ")
        else:
            decomposed = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(escape_latex(decomposed) if decomposed else "")
    return "".join(out)


def _math_ok(math: str) -> bool:
    body = math[1:-1]
    depth = 0
    for ch in body:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0 and body.strip() != "" and "\\\\" not in body


def escape_model_text(text: str, allow_markup: bool = True) -> str:
    """Escape model prose, keeping whitelisted markup (cites, emphasis, balanced inline
    math) verbatim when `allow_markup`."""
    if not allow_markup:
        return escape_latex(text)
    keep = re.compile("|".join(p.pattern for p in (_CITE_RE, _STYLE_RE, _MATH_RE)))
    out, pos = [], 0
    for m in keep.finditer(text):
        token = m.group(0)
        if token.startswith("$") and not _math_ok(token):
            continue
        out.append(escape_latex(text[pos:m.start()]))
        out.append(token)
        pos = m.end()
    out.append(escape_latex(text[pos:]))
    return "".join(out)


def strip_markdown(text: str) -> str:
    """Small models answer in Markdown: drop fences, headings, bold markers and bullets."""
    text = re.sub(r"```[a-zA-Z]*", "", text)
    text = re.sub(r"^\s{0,3}#{1,6}\s*", "", text, flags=re.M)
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"^\s*[-*]\s+", "", text, flags=re.M)
    return text.strip()
