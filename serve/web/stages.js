// What each stage produced, rendered from GET /projects/{id}/view (nanoresearch/project_view.py).
// Stage I: question, papers, hypotheses with novelty, blueprint, critiques. Stage II: code,
// runs, debug attempts, results table, figures, analysis. Stage III lives in paper.js.
// Every part is optional: a stage that has not written it yet shows nothing for it.
"use strict";

function block(title, id, ...kids) {
  const body = kids.flat().filter(Boolean);
  if (!body.length) return null;
  return h("div", { class: "out", id }, h("div", { class: "label" }, title), ...body);
}

function fold(title, open, ...kids) {
  return h("details", { class: "fold", open: open || null }, h("summary", {}, title), ...kids);
}

function table(head, rows, cls) {
  return h("table", { class: `tbl ${cls || ""}` },
    h("thead", {}, h("tr", {}, ...head.map((x) => h("th", {}, x)))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((x) => h("td", {}, x === null || x === undefined ? "" : x))))));
}

function num(x, d = 3) {
  return typeof x === "number" ? (Math.abs(x) >= 1000 ? x.toFixed(0) : x.toFixed(d)) : "";
}

function safeHref(url) {  // only http(s) links from model-written records
  return /^https?:\/\//i.test(url || "") ? url : null;
}

// ------------------------------------------------------------------ Stage I
function renderIdeationOut(v) {
  const topic = state.status.topic || {};
  const ide = v.ideation;
  const pr = v.planning;
  return [
    block("Research question", "out-question", h("p", { class: "question" }, topic.problem_statement || "")),
    ide ? renderPapers(ide.papers || [], new Set(v.cited_paper_ids || [])) : null,
    ide ? renderHypotheses(ide) : null,
    pr ? renderBlueprint(pr.blueprint) : null,
    pr ? renderCritiques(pr) : null,
  ];
}

function renderPapers(papers, cited) {
  if (!papers.length) return null;
  const sorted = [...papers].sort((a, b) => (cited.has(b.id) - cited.has(a.id)));
  const rows = sorted.map((p) => h("li", { class: `paper-ref${cited.has(p.id) ? " cited" : ""}` },
    safeHref(p.url) ? h("a", { href: safeHref(p.url), target: "_blank", rel: "noopener noreferrer" }, p.title) : p.title,
    h("span", { class: "muted small" }, ` ${p.year || ""}${p.venue ? " · " + p.venue : ""}`),
    cited.has(p.id) ? h("span", { class: "chip flat tiny" }, "cited") : null));
  const label = cited.size ? `Papers (${cited.size} cited of ${papers.length} retrieved)` : `Papers retrieved (${papers.length})`;
  return block(label, "out-papers", h("ol", { class: "papers" }, ...rows.slice(0, 12)),
    rows.length > 12 ? fold(`${rows.length - 12} more`, false, h("ol", { class: "papers", start: 13 }, ...rows.slice(12))) : null);
}

function renderHypotheses(ide) {
  const hs = ide.hypotheses || [];
  if (!hs.length) return null;
  return block(`Hypotheses (${hs.length})`, "out-hypotheses", ...hs.map((x) => {
    const chosen = x.id === ide.selected_hypothesis_id;
    const nv = x.novelty;
    return h("div", { class: `hyp${chosen ? " chosen" : ""}`, "data-chosen": chosen ? "1" : null },
      h("div", { class: "hyp-head" }, chosen ? h("span", { class: "chip tiny chosen-tag" }, "chosen") : null,
        h("strong", {}, x.statement)),
      x.motivation ? h("div", { class: "small" }, x.motivation) : null,
      x.expected_effect ? h("div", { class: "small muted" }, `Expected: ${x.expected_effect}`) : null,
      h("div", { class: "hyp-meta small" },
        nv ? h("span", { class: `chip flat tiny ${nv.novel ? "good" : "weak"}` },
          `${nv.novel ? "novel" : "not novel"} · ${num(nv.score, 2)}`) : h("span", { class: "chip flat tiny" }, "novelty not checked"),
        h("span", { class: "muted" }, ` feasibility ${num(x.feasibility, 2)} · alignment ${num(x.alignment, 2)} · score ${num(x.score, 2)}`)),
      nv && nv.rationale ? h("div", { class: "small muted" }, nv.rationale) : null);
  }));
}

function renderBlueprint(bp) {
  const names = (xs) => (xs || []).map((x) => x.name).join(", ");
  const rows = [
    ["Title", bp.title], ["Datasets", names(bp.datasets)], ["Baselines", names(bp.baselines)],
    ["Method", `${bp.proposed_method.name}${bp.proposed_method.description ? " — " + bp.proposed_method.description : ""}`],
    ["Metrics", `${(bp.metrics || []).join(", ")} (primary: ${bp.primary_metric})`],
    ["Ablations", names(bp.ablations) || "none"], ["Seeds", (bp.seeds || []).join(", ")],
    ["Budget", bp.compute_budget ? `${bp.compute_budget.cpus} CPU, ${bp.compute_budget.gpus} GPU, ${bp.compute_budget.minutes} min` : ""],
  ];
  return block("Blueprint", "out-blueprint", h("table", { class: "tbl kv" },
    h("tbody", {}, ...rows.map(([k, x]) => h("tr", {}, h("th", {}, k), h("td", {}, x))))));
}

function renderCritiques(pr) {
  const cs = pr.critiques || [];
  if (!cs.length) return null;
  return block(`Reviewer's critique (${pr.passed ? "passed" : "not passed"} after ${cs.length} round(s))`, "out-critiques",
    ...cs.map((c) => h("div", { class: "critique" },
      h("div", {}, h("strong", {}, `Round ${c.round}`), " ", pill(c.passed ? "passed" : "issues")),
      c.summary ? h("div", { class: "small" }, c.summary) : null,
      (c.issues || []).length ? h("ul", { class: "small" }, ...c.issues.map((i) =>
        h("li", {}, h("span", { class: `chip flat tiny ${i.severity === "major" ? "weak" : ""}` }, i.category.replaceAll("_", " ")), " ", i.message))) : null)));
}

// ------------------------------------------------------------------ Stage II
function renderExperimentOut(v) {
  return [
    v.code ? renderCode(v.code, v.extras && v.extras.coding_notes) : null,
    (v.runs || []).length ? renderRuns(v.runs) : null,
    (v.debug || []).length ? renderDebug(v.debug) : null,
    v.analysis ? renderResults(v.analysis) : null,
    (v.figures || []).length ? block("Figures", "out-figures", ...v.figures.map((f) =>
      h("figure", { class: "figure" }, artifactImage(f.path, f.caption), h("figcaption", { class: "small muted" }, f.caption)))) : null,
    v.analysis ? block(`Analysis · verdict: ${v.analysis.verdict}`, "out-analysis",
      h("p", { class: "analysis-text" }, v.analysis.summary),
      (v.analysis.notes || []).length ? h("ul", { class: "small" }, ...v.analysis.notes.map((n) => h("li", {}, n))) : null) : null,
    v.extras && v.extras.tree ? block("Experiment tree", "out-tree", jsonView(v.extras.tree)) : null,
  ];
}

function renderCode(code, notes) {
  const files = Object.keys(code.files || {}).sort((a, b) => (a === code.entrypoint ? -1 : b === code.entrypoint ? 1 : a.localeCompare(b)));
  return block(`Code · ${code.mode} mode · version ${code.version}`, "out-code",
    ...files.map((f) => fold(`${f}${f === code.entrypoint ? " (entry point)" : ""}`, false,
      h("pre", { class: "code" }, code.files[f]))),
    notes ? fold("Coding notes (decisions and why)", false, jsonView(notes)) : null);
}

function renderRuns(runs) {
  return block(`Runs (${runs.length})`, "out-runs", table(["#", "status", "backend", "duration", "metrics", "failure"],
    runs.map((r) => [String(r.attempt), pill(r.status), r.backend, `${num(r.duration_s, 1)} s`,
      String((r.metrics || []).length), r.failure ? `${r.failure.category}: ${r.failure.message}`.slice(0, 200) : ""]), "runs"),
    ...runs.filter((r) => r.stdout_tail || r.stderr_tail).slice(-2).map((r) =>
      fold(`Output of run ${r.attempt}`, false, h("pre", { class: "code" }, [r.stdout_tail, r.stderr_tail].filter(Boolean).join("\n--- stderr ---\n")))));
}

function renderDebug(attempts) {
  return block(`Debug attempts (${attempts.length})`, "out-debug", ...attempts.map((d) =>
    fold(`Attempt ${d.attempt} · ${d.source}${d.resolved === true ? " · fixed it" : d.resolved === false ? " · did not fix" : ""}: ${d.summary}`.slice(0, 200), false,
      d.failure ? h("div", { class: "small step-error" }, d.failure) : null,
      d.diff ? h("pre", { class: "code diff" }, d.diff) : h("p", { class: "muted small" }, "no diff recorded"))));
}

function renderResults(rep) {
  const cs = rep.comparisons || [];
  if (!cs.length) return null;
  return block("Results", "out-results", table(["dataset", "metric", "method", "mean ± std", "baseline", "baseline mean", "Δ", "p", "seeds"],
    cs.map((c) => [c.dataset, c.metric, c.method, `${num(c.mean)} ± ${num(c.std)}`, c.baseline,
      `${num(c.baseline_mean)} ± ${num(c.baseline_std)}`, h("span", { class: c.delta >= 0 ? "ok" : "bad" }, num(c.delta)),
      c.p_value === null || c.p_value === undefined ? "" : num(c.p_value), String(c.n_seeds)]), "results"));
}

function jsonView(data) {
  const pre = h("pre", { class: "code" });
  pre.textContent = JSON.stringify(data, null, 2).slice(0, 20000);
  return pre;
}

function renderStageOut(phase, v) {
  if (!v) return [];
  if (phase === "ideation") return renderIdeationOut(v);
  if (phase === "experiment") return renderExperimentOut(v);
  return renderWritingOut(v);
}
