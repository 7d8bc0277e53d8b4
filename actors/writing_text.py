"""Turning model prose into safe LaTeX, deciding when it is unusable, and the
deterministic repair of a section that does not compile.

A tiny model drifts into Markdown, repeats itself, switches language or echoes the
prompt; a strong one may write LaTeX. Both pass through the same gate: Markdown is
stripped, "[n]" source numbers become \\citep{key}, text is escaped except whitelisted
markup, and text that is still unusable is rejected with a reason (the caller then uses
the artifact-built fallback and records it).
"""
from __future__ import annotations

import re
from typing import Sequence

from nanoresearch.latex import escape_model_text, strip_markdown
from nanoresearch.latex.prose import near_duplicate

_STOPWORDS = {"the", "of", "and", "to", "in", "a", "is", "we", "that", "for", "on", "with", "this",
              "are", "as", "by", "be", "our", "it", "an", "which", "from", "than", "or", "at"}
_DANGEROUS = re.compile(r"\\(?:input|include|write|immediate|openout|openin|read|def|edef|gdef|let|"
                        r"catcode|csname|newcommand|renewcommand|usepackage|documentclass|"
                        r"begin\{document\}|end\{document\}|section|subsection|end\{document\})")
SAFE_COMMANDS = {"cite", "citep", "citet", "citealp", "citeauthor", "citeyear", "emph", "textbf",
                 "textit", "ref", "label", "pm", "times", "leq", "geq", "approx", "alpha", "beta",
                 "gamma", "delta", "lambda", "mu", "sigma", "theta", "epsilon", "%", "&", "_", "#",
                 "$", "{", "}", "textbackslash", "textasciicircum", "textasciitilde", "textless",
                 "textgreater", "begin", "end", "centering", "small", "includegraphics", "caption",
                 "toprule", "midrule", "bottomrule", "linewidth", "textwidth", "columnwidth",
                 "hline", "url", "footnote", "mathrm", "frac", "log", "exp", "sum", "le", "ge",
                 "to", "infty", "cdot", "ldots", "dots", "quad", "text", "mathbf", "sqrt"}


def cite_numbers(text: str, keys: Sequence[str], cmd: str = "\\citep") -> str:
    """'[1]', '[1, 3]', '[1-2]' -> \\citep{k1,k3}; numbers with no source are dropped."""
    def repl(m: re.Match) -> str:
        nums: list[int] = []
        for part in re.split(r"\s*,\s*", m.group(1)):
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                nums += list(range(a, b + 1)) if 0 < b - a < 10 else []
            else:
                nums.append(int(part))
        chosen = [keys[n - 1] for n in dict.fromkeys(nums) if 1 <= n <= len(keys)]
        return f" {cmd}{{{','.join(chosen)}}}" if chosen else ""
    return re.sub(r"\s*\[(\d+(?:\s*[,\-]\s*\d+)*)\]", repl, text)


def unusable_reason(text: str, min_words: int = 12) -> str | None:
    """Why `text` cannot go into a paper, or None if it can."""
    words = re.findall(r"[A-Za-z']+", text)
    if len(words) < min_words:
        return f"too short ({len(words)} words)"
    letters = re.sub(r"[\s\d\W_]", "", text)
    if letters and sum(c.isascii() for c in letters) / len(letters) < 0.9:
        return "not in English (non-Latin script)"
    lower = [w.lower() for w in words]
    if sum(w in _STOPWORDS for w in lower) / len(lower) < 0.12:
        return "does not read as English prose"
    if len(set(lower)) / len(lower) < 0.35:
        return "repetitive"
    if re.search(r"(?:def |import |\{\s*\"|</?\w+>|```)", text):
        return "contains code or markup"
    return None


def _heading_like(line: str, section_title: str) -> bool:
    ln = line.strip().rstrip(":")
    return ln.lower() == section_title.lower() or (len(ln.split()) <= 4 and not ln.endswith((".", "!", "?")))


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _echoes(line: str, prompt_lines: Sequence[str]) -> bool:
    """A line that mostly repeats a prompt line ("Hypothesis: ...", the title)."""
    toks = _tokens(line)
    if not toks:
        return True
    return any(len(toks & p) / len(toks) >= 0.7 for p in map(_tokens, prompt_lines) if len(p) >= 3)


def _keep_line(line: str, section_title: str, prompt_lines: Sequence[str]) -> bool:
    ln = line.strip()
    if not ln or _heading_like(ln, section_title):
        return False
    if re.match(r"^[A-Z][\w ]{0,30}:\s*\S", ln) and _echoes(ln.split(":", 1)[1], prompt_lines):
        return False  # "Research Question: <copied fact>"
    if not re.search(r"[.!?]$", ln) and len(ln.split()) < 12:
        return False  # a title-like fragment, not prose
    return not _echoes(ln, prompt_lines)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\[])", text) if s.strip()]


def _tidy(text: str) -> str:
    """Drop repeated sentences and a trailing sentence cut off by the token limit."""
    seen, out = set(), []
    for sent in _sentences(text):
        key = " ".join(sorted(_tokens(sent)))
        if key not in seen:
            seen.add(key)
            out.append(sent.strip())
    if out and not re.search(r"[.!?]\)?$", out[-1]):
        out.pop()
    return " ".join(out)


def drop_seen(text: str, seen: set[str]) -> str:
    """Remove sentences already used in earlier sections, or near-duplicates of them
    (small models open every section with the same sentence, a word swapped); remember
    the new ones in `seen`."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        kept = []
        for sent in _sentences(para):
            toks = _tokens(sent)
            key = " ".join(sorted(toks))
            if key not in seen and not any(near_duplicate(toks, set(k.split())) for k in seen):
                seen.add(key)
                kept.append(sent.strip())
        if kept:
            out.append(" ".join(kept))
    return "\n\n".join(out)


def clean_model_text(raw: str, keys: Sequence[str], section_title: str = "",
                     prompt_echo: Sequence[str] = ()) -> tuple[str | None, str]:
    """(LaTeX or None, reason): the model's section text made safe, or why not."""
    text = strip_markdown(raw or "")
    text = re.sub(r"^\s*(?:Section|Title|Abstract|Answer|Text)\s*:\s*", "", text, flags=re.I)
    paragraphs = []
    for para in re.split(r"\n\s*\n", text):
        lines = [ln for ln in para.splitlines() if _keep_line(ln, section_title, prompt_echo)]
        para = _tidy(" ".join(ln.strip() for ln in lines))
        if para:
            paragraphs.append(para)
    text = "\n\n".join(paragraphs)
    reason = unusable_reason(text)
    if reason:
        return None, reason
    latex = escape_model_text(cite_numbers(text, keys), allow_markup=True)
    return latex, "model"


def safe_model_latex(latex: str) -> str | None:
    """Model-written LaTeX (from the fix loop) is accepted only without commands that
    could read/write files or redefine things."""
    return None if _DANGEROUS.search(latex or "") else latex


def sanitize_latex(latex: str) -> str:
    """Deterministic repair: escape commands we do not know, and any $/brace that does
    not balance, leaving known markup (cites, emphasis, our floats) intact."""
    def cmd(m: re.Match) -> str:
        return m.group(0) if m.group(1) in SAFE_COMMANDS else "\\textbackslash{}" + m.group(1)
    out = re.sub(r"\\([A-Za-z]+)", cmd, latex)
    lines = []
    for ln in out.splitlines():
        if len(re.findall(r"(?<!\\)\$", ln)) % 2:
            ln = re.sub(r"(?<!\\)\$", r"\\$", ln)
        lines.append(_balance_braces(ln))
    return "\n".join(lines)


def _balance_braces(line: str) -> str:
    """Escape the braces that have no partner; matched groups stay as they are."""
    open_at: list[int] = []
    bad: set[int] = set()
    for i, ch in enumerate(line):
        if ch in "{}" and (i == 0 or line[i - 1] != "\\"):
            if ch == "{":
                open_at.append(i)
            elif open_at:
                open_at.pop()
            else:
                bad.add(i)
    bad.update(open_at)
    return "".join("\\" + ch if i in bad else ch for i, ch in enumerate(line))
