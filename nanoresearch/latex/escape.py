"""LaTeX escaping for text we do not control (model output, paper titles, author names).

Model text is escaped character by character except for a small whitelist of markup that
is useful and cheap to verify (\\cite-family commands with plain keys, \\emph/\\textbf/
\\textit around escaped text, inline math built only from whitelisted commands).
Everything else becomes literal text, so no model can inject TeX: `$\\input{/etc/passwd}$`,
`\\InputIfFileExists`, `\\@@input`, `\\openin`, `\\read`, `\\write`, `\\catcode` and the
`^^5c` spelling of a backslash all come out as printed characters.

Non-ASCII text goes through pylatexenc (the maintained Unicode -> LaTeX table: accents
become `\\'e`, `\\H{o}`, `\\L{}`), so a name compiles under any input encoding; a
character with no LaTeX form is transliterated (NFKD) or dropped, never left to stop the
compile.
"""
from __future__ import annotations

import re
import unicodedata

from pylatexenc.latexencode import UnicodeToLatexEncoder

_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
    "#": r"\#", "^": r"\textasciicircum{}", "_": r"\_", "~": r"\textasciitilde{}",
    "%": r"\%", "<": r"\textless{}", ">": r"\textgreater{}",
}
# Typographic characters models emit often, written the way a typesetter would
# (pylatexenc's \textendash etc. are correct too, but these read better in the source).
_UNICODE_FALLBACK = {
    "\u2013": "--", "\u2014": "---", "\u2018": "`", "\u2019": "'", "\u201c": "``",
    "\u201d": "''", "\u2212": "-", "\u00b1": r"$\pm$", "\u00d7": r"$\times$",
    "\u2264": r"$\leq$", "\u2265": r"$\geq$", "\u2026": "...", "\u00a0": " ",
}


def _transliterate(ch: str) -> str:
    """pylatexenc's policy for characters without a LaTeX form (CJK, emoji)."""
    decomposed = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    return "".join(_SPECIALS.get(c, c) for c in decomposed if c.isprintable())


# "braces-all" writes {\\~a}: BibTeX splits names at a bare "~", and braced accents are
# also how BibTeX sorts and abbreviates accented names correctly.
_ENCODER = UnicodeToLatexEncoder(non_ascii_only=True, replacement_latex_protection="braces-all",
                                 unknown_char_policy=_transliterate, unknown_char_warning=False)

_CITE_RE = re.compile(r"\\(?:cite|citep|citet|citealp|citeauthor|citeyear)\*?"
                      r"(?:\[[^\]\n\\{}$%#^]{0,80}\]){0,2}\{[A-Za-z0-9_:.\-, ]{1,400}\}")
_STYLE_RE = re.compile(r"\\(emph|textbf|textit)\{([^{}\\$\n]*)\}")
_MATH_RE = re.compile(r"\$[^$\n]{1,200}\$")
_MATH_CMD_RE = re.compile(r"\\([A-Za-z]+|.)")
# Commands a paper's inline math needs; none reads, writes or redefines anything.
MATH_COMMANDS = frozenset("""
alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi
pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta
Lambda Xi Pi Sigma Upsilon Phi Psi Omega
pm mp times div cdot ast star circ bullet leq geq le ge neq ne approx sim simeq equiv propto
ll gg in notin subset subseteq supset supseteq cup cap setminus emptyset forall exists neg
land lor to rightarrow leftarrow Rightarrow Leftarrow leftrightarrow mapsto infty partial
nabla sum prod int oint lim limsup liminf max min arg argmax argmin log ln exp sin cos tan
det dim sup inf Pr mid parallel perp angle ldots cdots dots prime top
frac dfrac tfrac sqrt binom hat bar tilde vec dot ddot widehat widetilde overline underline
mathrm mathbf mathit mathcal mathbb mathsf mathtt boldsymbol text textrm operatorname
left right big Big bigl bigr Bigl Bigr langle rangle lfloor rfloor lceil rceil
quad qquad , ; ! | { } % # & _ $
""".split())


def escape_latex(text: str) -> str:
    """Literal text -> LaTeX source that typesets exactly that text."""
    out = []
    for ch in text:
        if ch in _SPECIALS:
            out.append(_SPECIALS[ch])
        elif ch in _UNICODE_FALLBACK:
            out.append(_UNICODE_FALLBACK[ch])
        elif ord(ch) < 128:
            out.append(ch if ch.isprintable() or ch in "\n\t" else " ")
        else:
            out.append(_ENCODER.unicode_to_latex(ch))
    return "".join(out)


def math_ok(math: str) -> bool:
    """`$...$` from a model is kept only when every control sequence is whitelisted,
    braces balance, and nothing can re-spell a command (`^^5c` is a backslash to TeX,
    `@` names internal macros, `#`/`%`/`&` change parsing)."""
    body = math[1:-1]
    if not body.strip() or "\\\\" in body or "^^" in body or re.search(r"[@#%&~]", body):
        return False
    if any(cmd not in MATH_COMMANDS for cmd in _MATH_CMD_RE.findall(body)):
        return False
    depth = 0
    for ch in re.sub(r"\\[{}]", "", body):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _keep(token: re.Match[str]) -> str | None:
    """The LaTeX to emit for a whitelisted token, or None to escape it as text."""
    text = token.group(0)
    if text.startswith("$"):
        return text if math_ok(text) else None
    style = _STYLE_RE.fullmatch(text)
    if style:  # the argument is text: escape it, keep the command
        return f"\\{style.group(1)}{{{escape_latex(style.group(2))}}}"
    return text


def escape_model_text(text: str, allow_markup: bool = True) -> str:
    """Escape model prose, keeping whitelisted markup (cites, emphasis, whitelisted inline
    math) when `allow_markup`."""
    if not allow_markup:
        return escape_latex(text)
    keep = re.compile("|".join(p.pattern for p in (_CITE_RE, _STYLE_RE, _MATH_RE)))
    out, pos = [], 0
    for m in keep.finditer(text):
        kept = _keep(m)
        if kept is None:
            continue
        out.append(escape_latex(text[pos:m.start()]))
        out.append(kept)
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
