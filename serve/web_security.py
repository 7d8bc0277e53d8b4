"""Headers that keep model-written artifacts from running in the page's origin (issue 15 M2).

Experiments and the writing stage write files the page lets a user view: an `.html` or
`.svg` among them can carry script that, run same-origin, would read the API token. So:
- the page and its static files carry a strict Content-Security-Policy (scripts only from
  /static, no inline script, frames and images only from blob:/self) and `nosniff`;
- every artifact response carries `nosniff` and `CSP: sandbox` (opened directly, it runs
  in an opaque origin with no script), and active types (html, svg, js, xml) are served as
  `text/plain` attachments, never with their own content type;
- the page itself never opens an artifact as a blob URL of its server type: it shows
  images in <img>, the paper PDF (checked by its magic bytes) in a viewer, text in a <pre>,
  and downloads everything else as octet-stream (serve/web/files.js).
"""
from __future__ import annotations

import mimetypes

from fastapi import FastAPI, Request

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            "frame-src blob:; object-src 'none'; connect-src 'self'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")
ARTIFACT_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
ACTIVE_EXT = (".html", ".htm", ".xhtml", ".svg", ".svgz", ".xml", ".js", ".mjs", ".xsl", ".xslt")
INLINE_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp",
                "text/plain", "application/json", "text/csv"}
TEXT_EXT = (".json", ".jsonl", ".tex", ".bib", ".py", ".txt", ".log", ".csv", ".md", ".yaml",
            ".yml", ".sh", ".sbatch", ".cfg", ".toml", ".bbl", ".aux", ".out")


def artifact_headers(name: str) -> tuple[str, dict[str, str]]:
    """(media type, headers) for serving an artifact named `name`."""
    low = name.lower()
    quoted = name.replace('"', "").replace("\\", "")
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": ARTIFACT_CSP,
               "Cache-Control": "private, no-store"}
    if low.endswith(ACTIVE_EXT):
        headers["Content-Disposition"] = f'attachment; filename="{quoted}"'
        return "text/plain; charset=utf-8", headers
    if low.endswith(TEXT_EXT):
        media = "text/plain; charset=utf-8"
    else:
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    disposition = "inline" if media.split(";")[0] in INLINE_TYPES else "attachment"
    headers["Content-Disposition"] = f'{disposition}; filename="{quoted}"'
    return media, headers


def install_page_headers(app: FastAPI) -> None:
    """CSP + nosniff on the page and its static files; nosniff on every API answer."""

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        path = request.url.path
        if path == "/" or path.startswith("/static/"):
            response.headers["Content-Security-Policy"] = PAGE_CSP
            response.headers.setdefault("Referrer-Policy", "no-referrer")
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response
