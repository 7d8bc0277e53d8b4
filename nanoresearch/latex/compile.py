r"""Compile a paper directory to PDF without ever losing a good PDF.

latexmk runs in a scratch copy of the paper directory; only a run that exits 0 *and*
produces a PDF replaces `paper.pdf` (atomically), so a failed retry leaves the last good
version in place. The log is parsed into structured errors (file, line, message) that
the writer maps back to the section file at fault.

The text is partly model-written, so TeX is treated as untrusted code: latexmk gets a
minimal environment (no API keys, HOME = the build dir), kpathsea's `openin_any=p` /
`openout_any=p` (no absolute paths, no `..`, no dot files: `\input{/etc/passwd}` and
friends are refused), no shell escape, no rc files (`-norc`: a `latexmkrc` would be perl),
and, where bubblewrap works, a sandbox that sees only /usr, the TeX configuration and the
scratch build dir, without network. `CompileResult.sandboxed` records which it was.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from nanoresearch.artifacts import PAPER_TEX
from nanoresearch.errors import UserError
from nanoresearch.progress import ProgressChannel, channel_near
from nanoresearch.types import LatexPass

log = logging.getLogger(__name__)

# file the templates need -> Debian package that ships it (for a clear install hint)
REQUIRED_TEX_FILES = {
    "article.cls": "texlive-latex-base", "natbib.sty": "texlive-latex-base",
    "plainnat.bst": "texlive-latex-base", "graphicx.sty": "texlive-latex-base",
    "hyperref.sty": "texlive-latex-base", "geometry.sty": "texlive-latex-base",
    "amsmath.sty": "texlive-latex-base", "times.sty": "texlive-latex-base",
    "url.sty": "texlive-latex-base", "booktabs.sty": "texlive-latex-recommended",
    "microtype.sty": "texlive-latex-recommended", "caption.sty": "texlive-latex-recommended",
    "xcolor.sty": "texlive-latex-recommended", "float.sty": "texlive-latex-recommended",
}
_TOOLS = {"latexmk": "latexmk", "pdflatex": "texlive-latex-base", "bibtex": "texlive-binaries",
          "kpsewhich": "texlive-binaries"}


@dataclass
class LatexError:
    message: str
    file: str | None = None  # relative to the paper dir, e.g. "sections/results.tex"
    line: int | None = None
    context: str = ""  # the offending source line as TeX printed it (after "l.<n>")

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file else ""
        return f"{where}{self.message}" + (f" (near: {self.context.strip()})" if self.context else "")


@dataclass
class CompileResult:
    ok: bool
    pdf_path: Path | None
    errors: list[LatexError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    log_tail: str = ""
    seconds: float = 0.0
    pages: int | None = None
    sandboxed: bool = False  # ran inside bubblewrap (else: restricted TeX only)


_INSTALL_OK = False


def check_tex_installation() -> None:
    """Raise UserError naming the Debian packages to install when a tool or a package
    file the templates use is missing (checked once per process once it passes)."""
    global _INSTALL_OK
    if _INSTALL_OK:
        return
    missing = {pkg for tool, pkg in _TOOLS.items() if shutil.which(tool) is None}
    if not missing:
        for name, pkg in REQUIRED_TEX_FILES.items():
            out = subprocess.run(["kpsewhich", name], capture_output=True, text=True, timeout=30)
            if not out.stdout.strip():
                missing.add(pkg)
    if missing:
        raise UserError("LaTeX is incomplete: install the Debian packages "
                        f"`apt-get install {' '.join(sorted(missing))}` (missing files the paper "
                        "templates need), then rerun the writing stage")
    _INSTALL_OK = True


# build leftovers are never copied: a stale .aux/.bbl/.fdb_latexmk makes latexmk skip
# or fail on steps it must run again
_BUILD_OUTPUTS = shutil.ignore_patterns("*.aux", "*.log", "*.bbl", "*.blg", "*.fls", "*.out",
                                        "*.fdb_latexmk", "*.synctex.gz", ".*.tmp", "reviews", "history")


def _ignore_for(root: Path):
    """Build outputs everywhere; PDFs only at the top (the previous paper.pdf), so PDF
    figures under figures/ are copied into the scratch build."""
    def ignore(dirpath: str, names: list[str]) -> set[str]:
        skip = set(_BUILD_OUTPUTS(dirpath, names))
        if Path(dirpath) == root:
            skip |= {n for n in names if n.lower().endswith(".pdf")}
        return skip
    return ignore


_FILE_LINE_RE = re.compile(r"^(?P<file>\.?/?[^:\n]+\.(?:tex|sty|cls|bbl)):(?P<line>\d+): (?P<msg>.+)$", re.M)
_BANG_RE = re.compile(r"^! (?P<msg>.+)$", re.M)
_LNUM_RE = re.compile(r"^l\.(?P<line>\d+) (?P<ctx>.*)$", re.M)
_MISSING_RE = re.compile(r"File `(?P<f>[^']+)' not found")


def parse_log(text: str) -> list[LatexError]:
    """Errors from a pdflatex log written with -file-line-error (falls back to the
    classic "! message ... l.<n>" form)."""
    errors: list[LatexError] = []
    for m in _FILE_LINE_RE.finditer(text):
        ctx = _LNUM_RE.search(text, m.end())
        errors.append(LatexError(m.group("msg").strip(), _norm(m.group("file")),
                                 int(m.group("line")), ctx.group("ctx") if ctx else ""))
    if not errors:
        for m in _BANG_RE.finditer(text):
            ctx = _LNUM_RE.search(text, m.end())
            errors.append(LatexError(m.group("msg").strip(), None,
                                     int(ctx.group("line")) if ctx else None, ctx.group("ctx") if ctx else ""))
    for e in errors:
        miss = _MISSING_RE.search(e.message)
        if miss and miss.group("f").endswith((".sty", ".cls")):
            e.message += (f" - install the Debian package that ships {miss.group('f')} "
                          "(usually texlive-latex-extra or texlive-science)")
    return errors


def _tool_errors(work: Path, stem: str, out: str, rc: int) -> list[LatexError]:
    """No TeX error in the log: the failure came from bibtex or latexmk itself."""
    blg = work / f"{stem}.blg"
    if blg.exists():
        lines = blg.read_text(errors="replace").splitlines()
        msgs = [f"bibtex: {ln.strip()} {lines[i + 1].strip() if i + 1 < len(lines) else ''}"
                for i, ln in enumerate(lines) if "I was expecting" in ln or "I couldn't" in ln
                or ln.startswith("Repeated entry")]
        if msgs:
            return [LatexError(m, "references.bib") for m in msgs]
    summary = out.split("Collected error summary", 1)[-1].strip().splitlines()
    return [LatexError(summary[-1].strip() if summary and summary[-1].strip() else f"latexmk exited {rc}")]


def _norm(path: str) -> str:
    return path[2:] if path.startswith("./") else path


def _pages(log_text: str) -> int | None:
    m = re.search(r"Output written on .*?\((\d+) pages?", log_text)
    return int(m.group(1)) if m else None


BUILD_MOUNT = "/build"
# read-only inside the LaTeX sandbox: the TeX tree, its config and generated formats
_TEX_RO = ("/etc/texmf", "/var/lib/texmf", "/etc/alternatives", "/etc/ld.so.cache", "/etc/fonts",
           "/etc/perl")


def latex_env(home: str) -> dict[str, str]:
    """The whole environment TeX gets: nothing inherited (API keys, tokens), and
    kpathsea's paranoid file access (these variables override texmf.cnf)."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "TEXMFVAR": f"{home}/.texmf-var",
            "TEXMFCONFIG": f"{home}/.texmf-config", "openin_any": "p", "openout_any": "p",
            "shell_escape": "f", "max_print_line": "10000"}  # unwrapped log lines parse reliably


def latex_command(main: str) -> list[str]:
    return ["latexmk", "-norc", "-pdf", "-pdflatex=pdflatex -no-shell-escape %O %S",
            "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "-bibtex", main]


def sandbox_args(work: Path, env: dict[str, str]) -> list[str] | None:
    """The bubblewrap prefix that shows TeX only what it needs, or None when
    bubblewrap cannot run here (then restricted TeX alone holds the line)."""
    from nanoresearch.execution.sandbox import sandbox_problem

    bwrap = shutil.which("bwrap")
    if bwrap is None or sandbox_problem() is not None:
        return None
    args = [bwrap, "--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/lib", "/lib64", "/lib32", "/sbin"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    for path in _TEX_RO:
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
             "--bind", str(work), BUILD_MOUNT, "--chdir", BUILD_MOUNT,
             "--unshare-all", "--unshare-user", "--disable-userns", "--uid", "65534",
             "--gid", "65534", "--cap-drop", "ALL", "--die-with-parent", "--new-session",
             "--clearenv"]
    for k, v in env.items():
        args += ["--setenv", k, v]
    return args + ["--"]


_PASS = re.compile(r"^Run number (\d+) of rule '([^']+)'")


def _run_reporting_passes(cmd: list[str], work: Path, env: dict[str, str], timeout_s: float,
                          channel: ProgressChannel | None, t0: float) -> tuple[int, str]:
    """latexmk, its output read line by line so each pass (`Run number N of rule 'X'`)
    is reported as it starts; (returncode, output). -1 when it ran past `timeout_s`."""
    # TeX writes 8-bit characters raw: decode leniently
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="replace", env=env,
                            start_new_session=True)
    expired = threading.Event()

    def kill() -> None:  # the whole group: a pdflatex child would hold the pipe open
        expired.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    timer = threading.Timer(timeout_s, kill)
    timer.start()
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            m = _PASS.match(line)
            if m and channel is not None:
                channel.report(LatexPass(rule=m.group(2).split()[0], run=int(m.group(1)),
                                         elapsed_s=round(time.monotonic() - t0, 2)))
        rc = proc.wait()
    finally:
        timer.cancel()
    if expired.is_set():
        return -1, f"latexmk timed out after {timeout_s:.0f}s"
    return rc, "".join(lines)


def compile_pdf(paper_dir: Path, main: str = PAPER_TEX.name, timeout_s: float = 120.0,
                sandbox: bool | None = None) -> CompileResult:
    """latexmk in a scratch copy; on success the PDF atomically replaces
    `paper_dir/<main stem>.pdf`. On failure the previous PDF is untouched. `sandbox`:
    None runs inside bubblewrap when it works here, False never (tests), True requires it."""
    paper_dir = Path(paper_dir)
    stem = Path(main).stem
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nr-latex-") as tmp:
        work = Path(tmp) / "paper"
        shutil.copytree(paper_dir, work, ignore=_ignore_for(paper_dir))
        prefix = sandbox_args(work, latex_env(BUILD_MOUNT)) if sandbox is not False else None
        if sandbox and prefix is None:
            raise UserError("LaTeX sandbox requested but bubblewrap cannot run here: "
                            "apt-get install bubblewrap, or allow user namespaces")
        cmd = (prefix or []) + latex_command(main)
        env = latex_env(BUILD_MOUNT) if prefix else latex_env(str(work))
        rc, out = _run_reporting_passes(cmd, work, env, timeout_s, channel_near(paper_dir), t0)
        log_path = work / f"{stem}.log"
        log_text = log_path.read_text(errors="replace") if log_path.exists() else out
        if log_path.exists():
            shutil.copyfile(log_path, paper_dir / f"{stem}.log")
        pdf = work / f"{stem}.pdf"
        seconds = time.monotonic() - t0
        if rc == 0 and pdf.exists() and pdf.stat().st_size > 0:
            target = paper_dir / f"{stem}.pdf"
            staged = paper_dir / f".{stem}.pdf.tmp"
            shutil.copyfile(pdf, staged)
            os.replace(staged, target)
            warnings = re.findall(r"^(?:LaTeX|Package \w+) Warning: (.+)$", log_text, re.M)
            log.info("compiled %s in %.1fs", target, seconds)
            return CompileResult(True, target, [], warnings[:50], log_text[-2000:], seconds,
                                 _pages(log_text), sandboxed=prefix is not None)
        errors = parse_log(log_text) or _tool_errors(work, stem, out, rc)
        log.info("compile failed in %.1fs: %s", seconds, errors[0])
        return CompileResult(False, None, errors, [], log_text[-4000:], seconds,
                             sandboxed=prefix is not None)
