// Artifacts in the page, safely. Model-written files never become a same-origin document:
// images go into <img> (an SVG there runs no script), the paper PDF into a viewer only
// after its magic bytes say PDF, text into a <pre> as textContent, and everything else is
// downloaded as application/octet-stream. The server adds CSP sandbox + nosniff and
// serves html/svg/js as text/plain attachments (serve/web_security.py).
"use strict";

const IMAGE_TYPES = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp" };
const TEXT_EXT = new Set(["json", "jsonl", "tex", "bib", "py", "txt", "log", "csv", "md", "yaml",
  "yml", "sh", "sbatch", "toml", "cfg", "bbl", "html", "htm", "svg", "xml", "js"]);
const blobCache = new Map();  // "pid/rel" -> object URL, revoked when the project changes

function ext(rel) {
  const m = /\.([A-Za-z0-9]+)$/.exec(rel);
  return m ? m[1].toLowerCase() : "";
}

function artifactUrl(rel) {
  const enc = rel.split("/").map(encodeURIComponent).join("/");
  return `${API}/projects/${encodeURIComponent(state.pid)}/artifacts/${enc}`;
}

async function fetchBuf(url) {
  const res = await fetch(url, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!res.ok) throw new Error((await res.json().catch(() => ({}))).detail || res.statusText);
  return res.arrayBuffer();
}

function fetchArtifact(rel) {
  return fetchBuf(artifactUrl(rel));
}

// an object URL with a type the page chose (never the server's), for <img> or the PDF viewer
async function safeObjectUrl(rel, type, url) {
  const key = `${state.pid}/${url || rel}`;
  if (blobCache.has(key)) return blobCache.get(key);
  const buf = await fetchBuf(url || artifactUrl(rel));
  if (type === "application/pdf" && new TextDecoder().decode(buf.slice(0, 5)) !== "%PDF-") {
    throw new Error(`${rel} is not a PDF`);
  }
  const made = URL.createObjectURL(new Blob([buf], { type }));
  blobCache.set(key, made);
  return made;
}

function forgetBlobs() {
  for (const url of blobCache.values()) URL.revokeObjectURL(url);
  blobCache.clear();
}

function artifactImage(rel, alt) {
  const img = h("img", { class: "figure-img", alt: alt || rel, "data-path": rel });
  const type = IMAGE_TYPES[ext(rel)];
  if (type) {
    safeObjectUrl(rel, type).then((u) => { img.src = u; })
      .catch((e) => img.replaceWith(h("p", { class: "muted small" }, `figure not loaded: ${e.message}`)));
  }
  return img;
}

// the paper as page images (rendered by the server with pdftoppm): readable in any browser
function paperPages(pdfRel) {
  const box = h("div", { class: "paper-pages", id: "paper-pages" }, h("p", { class: "muted small" }, "Rendering pages…"));
  const base = `${API}/projects/${encodeURIComponent(state.pid)}/paper/pages`;
  api(`/projects/${encodeURIComponent(state.pid)}/paper/pages`).then(({ pages }) => {
    box.replaceChildren(...Array.from({ length: pages }, (_, i) => {
      const img = h("img", { class: "paper-page", alt: `page ${i + 1}` });
      safeObjectUrl(`page-${i + 1}`, "image/png", `${base}/${i + 1}`).then((u) => { img.src = u; });
      return img;
    }));
  }).catch((e) => box.replaceChildren(h("p", { class: "muted small" },
    `Page previews unavailable (${e.message}); open the PDF viewer below.`)));
  return box;
}

function pdfViewer(rel) {
  const frame = h("iframe", { class: "pdf-viewer", id: "pdf-viewer", title: "The paper (PDF)", "data-path": rel });
  safeObjectUrl(rel, "application/pdf").then((u) => { frame.src = u; })
    .catch((e) => frame.replaceWith(h("p", { class: "muted small" }, `PDF not loaded: ${e.message}`)));
  return frame;
}

async function downloadArtifact(rel) {
  try {
    const buf = await fetchArtifact(rel);
    const url = URL.createObjectURL(new Blob([buf], { type: "application/octet-stream" }));
    const a = h("a", { href: url, download: rel.split("/").pop() });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    notify(`Download failed: ${e.message}`, "error");
  }
}

async function showText(rel) {
  try {
    const text = new TextDecoder().decode(await fetchArtifact(rel));
    const pre = h("pre", { class: "viewer-text" });
    pre.textContent = text.length > 400000 ? `${text.slice(0, 400000)}\n... (cut; download for all)` : text;
    openViewer(rel, pre);
  } catch (e) {
    notify(`Could not open ${rel}: ${e.message}`, "error");
  }
}

function openViewer(title, body) {
  const close = () => box.remove();
  const box = h("div", { class: "viewer", id: "viewer", onclick: (e) => { if (e.target === box) close(); } },
    h("div", { class: "viewer-card" },
      h("div", { class: "viewer-head" }, h("code", {}, title),
        h("span", {}, h("button", { class: "btn ghost small", onclick: () => downloadArtifact(title) }, "Download"),
          h("button", { class: "btn ghost small", onclick: close }, "Close"))),
      body));
  document.body.append(box);
}

function openArtifactPath(rel) {
  if (IMAGE_TYPES[ext(rel)]) openViewer(rel, artifactImage(rel));
  else if (TEXT_EXT.has(ext(rel))) showText(rel);
  else downloadArtifact(rel);
}

// a link that opens an artifact the safe way (the href is for copying, not navigating)
function fileLink(rel, label) {
  return h("a", { class: "file-link artifact-link", href: artifactUrl(rel), "data-path": rel,
    onclick: (e) => { e.preventDefault(); openArtifactPath(rel); } }, label || rel);
}

function allFiles(arts, phase) {
  if (!arts.length) return null;
  return h("details", { class: "all-files", "data-phase": phase },
    h("summary", {}, `All files (${arts.length})`),
    h("ul", { class: "file-list" }, ...arts.map((a) => h("li", {}, fileLink(a, a.split("/").slice(1).join("/") || a)))));
}
