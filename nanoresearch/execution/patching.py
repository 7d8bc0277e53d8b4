"""Applying a model's patch to a code artifact, strictly.

A patch is either search/replace edits or whole files. Small models copy the search
text imperfectly (indentation, trailing spaces), so a search that is not found verbatim
is matched line by line ignoring surrounding whitespace, and the replacement is
re-indented to the matched line. Anything else - unknown file, unsafe path, text not
found, a result that does not parse, a no-op - raises `PatchError` with a reason the
model can act on.
"""
from __future__ import annotations

import ast
import difflib
import textwrap
from pathlib import PurePosixPath

from pydantic import BaseModel, Field


NEAR = 0.92  # similarity at which a single mistyped search line still names its line


class PatchError(ValueError):
    pass


class FileEdit(BaseModel):
    file: str = ""
    search: str
    replace: str = ""


class FixReply(BaseModel):
    """The debugging model's answer: one flat edit, several edits, or a whole file."""

    file: str = ""
    search: str = ""
    replace: str = ""
    content: str = Field(default="", description="the whole corrected file, instead of search/replace")
    edits: list[FileEdit] = Field(default_factory=list)
    diff: str = Field(default="", description="a unified diff over one or more files")
    reason: str = ""
    skills: list[str] = Field(default_factory=list,
                              description="ids of the known fixes offered that this patch follows")


def _safe_path(path: str) -> str:
    p = PurePosixPath(path.strip())  # "./run.py" normalises to "run.py"
    if not str(p) or p.is_absolute() or ".." in p.parts:
        raise PatchError(f"file {path!r} must be a relative path inside the code")
    return str(p)


def _locate_lines(text: str, search: str) -> tuple[int, int] | None:
    """Line span [i, j) whose stripped lines equal the search's stripped lines."""
    want = [ln.strip() for ln in search.strip("\n").splitlines() if ln.strip()]
    if not want:
        return None
    lines = text.splitlines()
    for i in range(len(lines) - len(want) + 1):
        window = [ln.strip() for ln in lines[i:i + len(want)]]
        if window == want:
            return i, i + len(want)
    if len(want) == 1:  # one line re-typed with a slip (a wrong bracket): the one close line
        close = [i for i, ln in enumerate(lines)
                 if difflib.SequenceMatcher(None, ln.strip(), want[0]).ratio() >= NEAR]
        if len(close) == 1:
            return close[0], close[0] + 1
    return None


def replace_once(text: str, search: str, replace: str) -> str:
    if not search.strip():
        raise PatchError("empty search text")
    if search in text:
        return text.replace(search, replace, 1)
    span = _locate_lines(text, search)
    if span is None:
        raise PatchError(f"search text not found in the file: {search.strip()[:120]!r}")
    lines = text.splitlines(keepends=True)
    first = lines[span[0]]
    indent = first[: len(first) - len(first.lstrip())]
    body = textwrap.dedent(replace.strip("\n"))
    new = "".join(indent + ln if ln.strip() else ln for ln in body.splitlines(keepends=True))
    if not new.endswith("\n"):
        new += "\n"
    return "".join(lines[: span[0]]) + new + "".join(lines[span[1]:])


def parses_all(files: dict[str, str]) -> None:
    for path, text in files.items():
        if path.endswith(".py"):
            try:
                ast.parse(text)
            except SyntaxError as e:
                raise PatchError(f"{path} does not parse after the patch: line {e.lineno}: {e.msg}") from None


def apply_reply(reply: FixReply, files: dict[str, str], default_file: str) -> tuple[dict[str, str], str]:
    """(new files, one-line summary). Raises PatchError."""
    new = dict(files)
    edits = list(reply.edits)
    if reply.search:
        edits.insert(0, FileEdit(file=reply.file, search=reply.search, replace=reply.replace))
    if reply.diff.strip():
        new = apply_unified_diff(new, reply.diff)
        summary = "diff over " + ", ".join(p for p in sorted(new) if new[p] != files.get(p))
    elif reply.content.strip():
        path = _safe_path(reply.file or default_file)
        new[path] = reply.content if reply.content.endswith("\n") else reply.content + "\n"
        summary = f"rewrote {path}"
    elif edits:
        for e in edits:
            path = _safe_path(e.file or reply.file or default_file)
            if path not in new:
                raise PatchError(f"file {path!r} is not part of the code; files: {sorted(files)}")
            new[path] = replace_once(new[path], e.search, e.replace)
        summary = "; ".join(f"{e.search.strip()[:60]!r} -> {e.replace.strip()[:60]!r}" for e in edits)
    else:
        raise PatchError("the reply has neither search/replace nor content")
    if new == files:
        raise PatchError("the patch changes nothing")
    parses_all(new)
    return new, summary


def _diff_hunks(diff: str) -> list[tuple[str, str, str]]:
    """[(path, old block, new block)] per hunk; '--- /dev/null' hunks create files."""
    out, path, old, new, in_hunk = [], None, [], [], False

    def flush():
        if path is not None and in_hunk:
            out.append((path, "".join(old), "".join(new)))

    for ln in diff.splitlines(keepends=True):
        if ln.startswith("+++ "):
            flush()
            path, old, new, in_hunk = ln[4:].strip().split("\t")[0], [], [], False
            path = path[2:] if path.startswith(("a/", "b/")) else path
        elif ln.startswith("--- "):
            continue
        elif ln.startswith("@@"):
            flush()
            old, new, in_hunk = [], [], True
        elif in_hunk and path is not None:
            tag, body = (ln[:1], ln[1:]) if ln[:1] in "+- " else (" ", ln)
            if ln.strip() == "\\ No newline at end of file":
                continue
            if tag in " -":
                old.append(body)
            if tag in " +":
                new.append(body)
    flush()
    return out


def apply_unified_diff(files: dict[str, str], diff: str) -> dict[str, str]:
    """Apply every hunk (multi-file); a hunk whose context is not found raises PatchError
    naming the file, the hunk number and the first missing line."""
    hunks = _diff_hunks(diff)
    if not hunks:
        raise PatchError("the diff has no hunks (need '--- a/f', '+++ b/f' and '@@' lines)")
    new = dict(files)
    for i, (raw, old, block) in enumerate(hunks, 1):
        path = _safe_path(raw)
        if not old.strip():
            if path in new and new[path].strip():
                raise PatchError(f"hunk {i} creates {path} but that file exists; give context lines")
            new[path] = block
            continue
        if path not in new:
            raise PatchError(f"hunk {i}: file {path!r} is not part of the code; files: {sorted(files)}")
        try:
            new[path] = replace_once(new[path], old, block)
        except PatchError:
            first = next((x for x in old.splitlines() if x.strip() and x.strip() not in new[path]),
                         old.strip().splitlines()[0])
            raise PatchError(f"hunk {i} of {path} does not apply: its context is not in the file "
                             f"(first missing line: {first.strip()[:120]!r})") from None
    return new


def unified_diff(old: dict[str, str], new: dict[str, str], limit: int = 3000) -> str:
    out = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path, ""), new.get(path, "")
        if a != b:
            out.extend(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                            fromfile=f"a/{path}", tofile=f"b/{path}", n=1))
    text = "".join(out)
    return text if len(text) <= limit else text[:limit] + "\n...[diff truncated]\n"

