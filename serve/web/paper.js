// Stage III: the paper in an inline viewer, the reviews of every round (scores and the
// changes they asked for) and what each revision changed. Reads the review rounds the
// writing stage writes (writing/reviews/round_<n>.json, via GET .../view).
"use strict";

function avg(xs) {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function renderWritingOut(v) {
  const w = v.writing;
  const rounds = Object.keys(v.review_rounds || {}).map(Number).sort((a, b) => a - b);
  return [
    v.pdf ? block("Paper", "out-paper",
      w ? h("div", {}, h("strong", { id: "paper-title" }, detex(w.draft.title)),
        w.draft.abstract ? h("p", { class: "small muted abstract" }, detex(w.draft.abstract)) : null) : null,
      paperPages(v.pdf),
      fold("Open in the browser's PDF viewer", false, pdfViewer(v.pdf)),
      h("div", { class: "row" }, h("button", { class: "btn primary small", id: "pdf-link", onclick: () => downloadArtifact(v.pdf) }, "Download PDF"),
        fileLink("writing/paper.tex", "LaTeX source"))) :
      (w ? block("Paper", "out-paper", h("p", { class: "muted small" }, "The paper did not compile; problems: ",
        (w.draft.problems || []).join("; ") || "none recorded")) : null),
    renderProvenance(v.extras && v.extras.provenance),
    rounds.length ? renderReviewRounds(v.review_rounds, rounds, v.revision_history) : null,
  ];
}

// who wrote each part of the paper (writing/provenance.json): the model, or rules from the artifacts
function renderProvenance(prov) {
  const secs = prov && prov.data && prov.data.sections;
  if (!secs || !Object.keys(secs).length) return null;
  const who = (src) => { const t = String(src);
    if (t.startsWith("kept previous")) return "kept from the previous round";
    return t.includes("model") ? (t.startsWith("model") ? "model-written" : "rules + model") : "rule-built"; };
  return block("Who wrote the paper", "out-provenance",
    table(["section", "written by", "detail"], Object.entries(secs).map(([name, src]) => [
      name.replace(/_/g, " "),
      h("span", { class: `chip flat prov-${who(src).replace(/[^a-z]+/g, "-")}` }, who(src)),
      h("span", { class: "muted small" }, String(src))])),
    prov.data.analysis_notes && prov.data.analysis_notes.length
      ? h("p", { class: "muted small" }, prov.data.analysis_notes.join("; ")) : null);
}

// LaTeX source text as a reader sees it (the abstract and title are stored as LaTeX)
function detex(s) {
  return String(s || "").replace(/\\pm/g, "±").replace(/\\times/g, "×").replace(/\\([_%&#$])/g, "$1")
    .replace(/\\(?:emph|textbf|textit|texttt)\{([^}]*)\}/g, "$1").replace(/\$/g, "").replace(/~/g, " ");
}

function renderReviewRounds(byRound, rounds, history) {
  const hist = new Map(((history && history.rounds) || []).map((r) => [r.round, r]));
  const last = byRound[rounds[rounds.length - 1]] || [];
  const meta = last.find((r) => r.is_meta) || last[last.length - 1];
  return block("Reviews", "reviews",
    meta ? h("div", { class: "review-summary" },
      h("span", { class: "score big" }, String(meta.overall)),
      h("span", { class: "muted" }, `final meta-review score out of 10 after ${rounds.length} round(s)`,
        history && history.best_round ? ` · kept the draft of round ${history.best_round}` : "")) : null,
    ...rounds.map((n, i) => fold(`Round ${n} · meta ${scoreOf(byRound[n])}/10 · reviewers ${avg(byRound[n].filter((r) => !r.is_meta).map((r) => r.overall)).toFixed(1)}`,
      i === rounds.length - 1,
      h("div", { class: "review-grid" }, ...byRound[n].map(renderReview)),
      renderRevision(hist.get(n)))));
}

function scoreOf(reviews) {
  const m = reviews.find((r) => r.is_meta);
  return m ? m.overall : "–";
}

function renderRevision(entry) {
  if (!entry) return null;
  const changed = (entry.revised_sections || []).filter(Boolean);
  return h("div", { class: "revision small" },
    h("div", { class: "label" }, "What happened next"),
    entry.stop ? h("div", {}, `Stopped: ${entry.stop}`) :
      h("div", {}, changed.length ? `Revised: ${changed.join("; ")}` : "Revised the draft for the requests above."),
    (entry.problems || []).length ? h("div", { class: "muted" }, `Open problems: ${entry.problems.join("; ")}`) : null);
}

function bullets(title, items, cls) {
  if (!items || !items.length) return null;
  return h("div", { class: `bullets ${cls}` }, h("div", { class: "label" }, title),
    h("ul", {}, ...items.map((x) => h("li", {}, x))));
}

function renderReview(r) {
  const sub = [["soundness", r.soundness], ["presentation", r.presentation],
    ["contribution", r.contribution], ["confidence", `${r.confidence}/5`]];
  return h("article", { class: `review${r.is_meta ? " meta" : ""}` },
    h("div", { class: "review-head" },
      h("strong", {}, r.is_meta ? "Meta-review" : `Reviewer ${r.reviewer_id}`),
      h("span", { class: "muted small" }, `round ${r.round}`),
      h("span", { class: `score ${r.overall >= 6 ? "good" : "weak"}` }, `${r.overall}/10`)),
    r.summary ? h("p", {}, r.summary) : null,
    h("div", { class: "subscores" }, ...sub.map(([k, v]) => h("span", { class: "chip flat" }, `${k} ${v}`))),
    bullets("Strengths", r.strengths, "pos"),
    bullets("Weaknesses", r.weaknesses, "neg"),
    bullets("Questions", r.questions, ""),
    bullets("Requested changes", r.revision_requests, "req"));
}
