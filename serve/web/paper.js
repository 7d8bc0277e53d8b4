// The paper card: PDF link and the automated reviews (writing/reviews.json), rendered as
// score badges with strengths, weaknesses and revision requests. Uses h/state/pill from app.js.
"use strict";

function renderPaper() {
  const st = state.status;
  const pdfUrl = `${API}/projects/${encodeURIComponent(state.pid)}/paper`;
  const card = h("section", { class: "paper card", id: "paper" },
    h("div", { class: "stage-head" },
      h("div", {}, h("h2", {}, "Paper & reviews"),
        h("div", { class: "muted small" }, st.has_pdf ? "Compiled from the writing stage"
          : "The PDF appears once the writing stage compiles it")),
      st.has_pdf ? h("a", { class: "btn primary", id: "pdf-link", href: pdfUrl, onclick: openArtifact },
        "Open paper (PDF)") : null));
  if (state.reviews && state.reviews.length) card.append(renderReviews(state.reviews));
  else if (st.has_pdf) card.append(h("p", { class: "muted small" }, "No reviews yet."));
  return card;
}

function avg(xs) {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function renderReviews(reviews) {
  const overall = avg(reviews.map((r) => r.overall));
  return h("div", { class: "reviews", id: "reviews" },
    h("div", { class: "review-summary" },
      h("span", { class: "score big" }, overall.toFixed(1)),
      h("span", { class: "muted" }, `average overall score of ${reviews.length} review(s), out of 10`)),
    h("div", { class: "review-grid" }, ...reviews.map(renderReview)));
}

function bullets(title, items, cls) {
  if (!items || !items.length) return null;
  return h("div", { class: `bullets ${cls}` }, h("div", { class: "label" }, title),
    h("ul", {}, ...items.map((x) => h("li", {}, x))));
}

function renderReview(r) {
  const sub = [["soundness", r.soundness], ["presentation", r.presentation],
    ["contribution", r.contribution], ["confidence", `${r.confidence}/5`]];
  return h("article", { class: "review" },
    h("div", { class: "review-head" },
      h("strong", {}, `${r.is_meta ? "Meta-review" : "Reviewer"} ${r.reviewer_id}`),
      h("span", { class: "muted small" }, `round ${r.round}`),
      h("span", { class: `score ${r.overall >= 6 ? "good" : "weak"}` }, `${r.overall}/10`)),
    r.summary ? h("p", {}, r.summary) : null,
    h("div", { class: "subscores" }, ...sub.map(([k, v]) => h("span", { class: "chip flat" }, `${k} ${v}`))),
    bullets("Strengths", r.strengths, "pos"),
    bullets("Weaknesses", r.weaknesses, "neg"),
    bullets("Questions", r.questions, ""),
    bullets("Revision requests", r.revision_requests, "req"));
}
