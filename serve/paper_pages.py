"""The paper's pages as PNG images, so the page can show the paper in any browser (a
headless one, or one whose PDF viewer is off) without opening the PDF as a document.

pdftoppm (poppler-utils, installed by scripts/install_system.sh) renders every page once
per PDF version into a cache keyed by the PDF's path, size and mtime; a missing
pdftoppm is a clear 503 saying what to install, and the page falls back to its viewer.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from serve.api_deps import ApiError

DPI = 80  # a readable page at ~660 px wide; the PDF stays one click away for print quality
MAX_PAGES = 40
TIMEOUT_S = 60
_lock = threading.Lock()


def _cache_dir(pdf: Path) -> Path:
    st = pdf.stat()
    key = hashlib.sha256(f"{pdf.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / "nanoresearch-pages" / key


def render_pages(pdf: Path) -> list[Path]:
    """PNG files of the PDF's pages (rendered once per version), in page order."""
    out = _cache_dir(pdf)
    with _lock:
        done = sorted(out.glob("page-*.png"))
        if (out / ".done").exists():
            return done
        exe = shutil.which("pdftoppm")
        if exe is None:
            raise ApiError(503, "service_unavailable", "page previews need pdftoppm: install "
                           "poppler-utils (scripts/install_system.sh); the PDF itself is at .../paper")
        out.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([exe, "-png", "-r", str(DPI), "-l", str(MAX_PAGES), str(pdf), str(out / "page")],
                           check=True, timeout=TIMEOUT_S, capture_output=True, env={"PATH": "/usr/bin:/bin"})
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            raise ApiError(500, "run_failure", f"could not render the paper's pages: {e}") from None
        (out / ".done").touch()
        return sorted(out.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
