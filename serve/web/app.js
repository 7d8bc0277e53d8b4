// nanoresearch web page: plain JS over the /api/v1 routes, no build step.
// The token lives in localStorage and goes out only as an Authorization header. Artifacts
// are fetched with the header and shown the safe way (files.js): no model-written file is
// ever opened as a same-origin document. Stage outputs: stages.js and paper.js.
"use strict";

const API = "/api/v1";
const PHASES = [
  { id: "ideation", title: "Stage I · Ideation", blurb: "Literature, hypothesis and experiment blueprint" },
  { id: "experiment", title: "Stage II · Experiment", blurb: "Code, runs, debugging and analysis" },
  { id: "writing", title: "Stage III · Writing", blurb: "LaTeX paper, compilation and review" },
];
const ACTIVE = new Set(["created", "running", "waiting_feedback"]);
const ICON = { done: "✓", running: "●", failed: "✕", pending: "○", skipped: "↷" };

const state = { token: localStorage.getItem("nr_token") || "", user: null, projects: [],
  pid: null, status: null, artifacts: [], view: null, sig: "", timer: null, drafts: {}, sent: {} };

// ------------------------------------------------------------------ helpers
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

const $ = (id) => document.getElementById(id);

async function api(path, opts = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${state.token}` }, opts.headers || {});
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.json);
  }
  const res = await fetch(API + path, { method: opts.method || "GET", headers, body: opts.body });
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
  if (!res.ok) {
    const err = new Error((body && body.detail) || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

function notify(msg, kind = "info") {
  const n = $("notice");
  n.textContent = msg;
  n.className = `notice ${kind}`;
  clearTimeout(notify.t);
  notify.t = setTimeout(() => n.classList.add("hidden"), kind === "error" ? 8000 : 3500);
}

function hashParams() {
  return new URLSearchParams(location.hash.replace(/^#/, ""));
}

function setHashProject(pid) {
  history.replaceState(null, "", pid ? `#project=${encodeURIComponent(pid)}` : location.pathname);
}

function fmtDuration(a, b) {
  if (!a) return "";
  const s = ((b || Date.now() / 1000) - a);
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${(s / 3600).toFixed(1)} h`;
}

function fmtDate(ts) {
  return ts ? new Date(ts * 1000).toLocaleString() : "";
}

function pill(status) {
  return h("span", { class: `pill s-${status}` }, String(status || "").replaceAll("_", " "));
}

// ------------------------------------------------------------------ auth
async function signIn(token) {
  state.token = token.trim();
  try {
    state.user = await api("/me");
  } catch (e) {
    state.user = null;
    localStorage.removeItem("nr_token");
    renderWho();
    notify(`Sign-in failed: ${e.message}`, "error");
    return false;
  }
  localStorage.setItem("nr_token", state.token);
  renderWho();
  await Promise.all([loadProjects(), searchKnowledge()]);
  return true;
}

function signOut() {
  localStorage.removeItem("nr_token");
  Object.assign(state, { token: "", user: null, projects: [], pid: null, status: null });
  clearInterval(state.timer);
  setHashProject(null);
  renderWho();
  renderProjectList();
  $("knowledge-results").replaceChildren();
  $("project").replaceChildren(state.placeholder);
}

function renderWho() {
  const signed = !!state.user;
  $("token-form").classList.toggle("hidden", signed);
  $("whoami").classList.toggle("hidden", !signed);
  if (signed) {
    $("whoami-name").textContent = state.user.user_id;
    $("whoami-avatar").textContent = state.user.user_id.slice(0, 1).toUpperCase();
  }
}

// ------------------------------------------------------------------ project list
async function loadProjects() {
  if (!state.user) return;
  try {
    state.projects = await api("/projects");
  } catch (e) {
    notify(`Could not load projects: ${e.message}`, "error");
  }
  state.projects.sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
  renderProjectList();
}

function renderProjectList() {
  const list = $("project-list");
  if (!state.user) {
    list.replaceChildren(h("li", { class: "empty" }, "Sign in to see your projects."));
    return;
  }
  if (!state.projects.length) {
    list.replaceChildren(h("li", { class: "empty" }, "No projects yet: start one below."));
    return;
  }
  list.replaceChildren(...state.projects.map((p) => h("li", {
    class: `project-item${p.project_id === state.pid ? " active" : ""}`,
    "data-pid": p.project_id,
    onclick: () => openProject(p.project_id),
  }, h("div", { class: "pi-title" }, p.title || p.project_id),
     h("div", { class: "pi-meta" }, pill(p.status), h("span", { class: "muted" }, fmtDate(p.created_at))))));
}

// ------------------------------------------------------------------ one project
async function openProject(pid, quiet = false) {
  if (pid !== state.pid) {
    forgetBlobs();
    Object.assign(state, { pid, sig: "", view: null, drafts: {}, sent: {} });
    setHashProject(pid);
    renderProjectList();
  }
  const base = `/projects/${encodeURIComponent(pid)}`;
  try {
    const [status, arts, view] = await Promise.all([api(base), api(`${base}/artifacts`), api(`${base}/view`)]);
    Object.assign(state, { status, artifacts: arts.artifacts, view });
  } catch (e) {
    if (!quiet) notify(`Could not open project: ${e.message}`, "error");
    return;
  }
  const sig = JSON.stringify([state.status, state.artifacts, state.view]);
  if (sig !== state.sig) {  // re-render only on change, so typing in a feedback box survives polls
    state.sig = sig;
    const open = openFolds();
    renderProject();
    restoreFolds(open);
  }
  schedulePoll();
}

// the <details> a reader opened stay open across re-renders (keyed by their summary text)
function openFolds() {
  return new Set([...document.querySelectorAll("#project details[open] > summary")].map((s) => s.textContent));
}

function restoreFolds(open) {
  for (const s of document.querySelectorAll("#project details > summary")) {
    if (open.has(s.textContent)) s.parentElement.open = true;
  }
}

function schedulePoll() {
  clearInterval(state.timer);
  if (state.status && ACTIVE.has(state.status.status)) {
    state.timer = setInterval(() => { openProject(state.pid, true); loadProjects(); }, 3000);
  }
}

function renderProject() {
  const st = state.status;
  const topic = st.topic || {};
  const canCancel = ACTIVE.has(st.status);
  const canResume = ["cancelled", "failed", "budget_exceeded"].includes(st.status);
  const head = h("div", { class: "project-head" },
    h("div", { class: "ph-main" },
      h("div", { class: "eyebrow" }, topic.domain || "general", " · ",
        h("code", { class: "pid" }, st.project_id)),
      h("h1", { id: "project-title" }, topic.problem_statement || st.project_id),
      topic.background ? h("p", { class: "muted" }, topic.background) : null),
    h("div", { class: "ph-side" }, pill(st.status),
      canCancel ? h("button", { class: "btn ghost small", onclick: () => control("cancel") }, "Cancel") : null,
      canResume ? h("button", { class: "btn primary small", onclick: () => control("resume") }, "Resume") : null));
  const error = st.error ? h("div", { class: "banner error" }, st.error) : null;
  const timeline = h("ol", { class: "timeline", id: "timeline" }, ...PHASES.map(renderStage));
  $("project").replaceChildren(...[head, waitingBanner(st), error, liveProgress(st), timeline].filter(Boolean));
}

function stageState(phase) {
  const st = state.status;
  const steps = (st.manifests || {})[phase] || [];
  if (st.waiting_feedback_for === phase) return "waiting";
  if (st.phase_status && st.phase_status[phase]) return st.phase_status[phase];
  if (steps.some((s) => s.status === "failed")) return "failed";
  if (steps.some((s) => s.status === "running") || st.phase === phase) return "running";
  return steps.length ? "done" : "pending";
}

function renderStage(p) {
  const steps = (state.status.manifests || {})[p.id] || [];
  const s = stageState(p.id);
  const arts = state.artifacts.filter((a) => a.startsWith(`${p.id}/`));
  const outs = renderStageOut(p.id, state.view).filter(Boolean);
  return h("li", { class: `stage st-${s}`, id: `stage-${p.id}`, "data-phase": p.id },
    h("div", { class: "stage-dot" }, s === "done" ? "✓" : String(PHASES.indexOf(p) + 1)),
    h("div", { class: "stage-card" },
      h("div", { class: "stage-head" },
        h("div", {}, h("h3", {}, p.title), h("div", { class: "muted small" }, p.blurb)),
        pill(s === "waiting" ? "waiting_feedback" : s)),
      s === "waiting" ? renderFeedback(p.id, true) : null,
      ...outs,
      steps.length ? fold(`Steps (${steps.length})`, s === "running" || !outs.length, renderSteps(steps))
        : h("p", { class: "muted small" }, "Not started yet."),
      allFiles(arts, p.id),
      givenFeedback(p.id),
      s === "pending" || s === "waiting" ? null : renderFeedback(p.id, false)));
}

// what the user already told this stage (their feedback files, oldest first)
function givenFeedback(phase) {
  const items = ((state.view && state.view.feedback) || {})[phase] || [];
  if (!items.length) return null;
  return h("div", { class: "out given-feedback" }, h("div", { class: "label" }, `Your feedback (${items.length})`),
    h("ul", { class: "small" }, ...items.map((f) => h("li", {}, f.text,
      h("span", { class: "muted" }, ` · ${f.source} · ${fmtDate(f.created_at)}`)))));
}

function renderSteps(steps) {
  return h("ul", { class: "steps" }, ...steps.map((s) => h("li", { class: `step ss-${s.status}` },
    h("span", { class: "step-icon", title: s.status }, ICON[s.status] || "•"),
    h("span", { class: "step-name" }, s.name.replace(/_/g, " ")),
    h("span", { class: "step-time muted" }, fmtDuration(s.started_at, s.finished_at)),
    s.error ? h("div", { class: "step-error" }, s.error) : null)));
}

function renderFeedback(phase, waiting) {
  const ta = h("textarea", { id: `feedback-${phase}`, rows: 3, class: "feedback-text",
    placeholder: waiting ? "What should change before the next stage? (e.g. add a stronger baseline)"
      : "Feedback on this stage (it trains your planner)",
    oninput: (e) => { state.drafts[phase] = e.target.value; } });
  ta.value = state.drafts[phase] || "";
  const sent = state.sent[phase];
  const form = h("form", { class: `feedback${waiting ? " waiting" : ""}`, "data-phase": phase,
    onsubmit: (e) => { e.preventDefault(); sendFeedback(phase, ta); } },
    h("label", { for: `feedback-${phase}`, class: "label" }, waiting ? "Your feedback (awaited)" : "Feedback"),
    ta,
    h("div", { class: "feedback-foot" },
      sent ? h("span", { class: "ok small" }, `✓ sent ${sent}`) : h("span"),
      h("button", { type: "submit", class: `btn ${waiting ? "primary" : "ghost"} small` },
        waiting ? "Send & continue" : "Send feedback")));
  if (waiting) return form;
  // finished stages keep their box folded so the timeline stays readable
  const open = !!(state.drafts[phase] || sent);
  return h("details", { class: "feedback-fold", open, ontoggle: (e) => { if (e.target.open) ta.focus(); } },
    h("summary", {}, sent ? `Feedback sent ${sent}` : "Give feedback on this stage"), form);
}

async function sendFeedback(phase, ta) {
  const text = ta.value.trim();
  if (!text) { notify("Write some feedback first.", "error"); return; }
  try {
    await api(`/projects/${encodeURIComponent(state.pid)}/feedback?source=web`,
      { method: "POST", json: { phase, text } });
  } catch (e) {
    notify(`Feedback not sent: ${e.message}`, "error");
    return;
  }
  state.drafts[phase] = "";
  state.sent[phase] = new Date().toLocaleTimeString();
  state.sig = "";
  notify(`Feedback on the ${phase} stage sent.`, "ok");
  await openProject(state.pid, true);
}

async function control(action) {
  try {
    await api(`/projects/${encodeURIComponent(state.pid)}/${action}`, { method: "POST" });
    notify(`Project ${action === "cancel" ? "cancelled" : "resumed"}.`, "ok");
  } catch (e) {
    notify(`${action} failed: ${e.message}`, "error");
  }
  state.sig = "";
  await Promise.all([openProject(state.pid, true), loadProjects()]);
}

// ------------------------------------------------------------------ start-up
async function createProject(ev) {
  ev.preventDefault();
  const datasets = $("np-datasets").value.split(",").map((s) => s.trim()).filter(Boolean);
  const topic = { problem_statement: $("np-statement").value.trim(), domain: $("np-domain").value, datasets };
  await startProject(() => api("/projects", { method: "POST", json: topic }));
  $("new-project").reset();
}

async function uploadTask(ev) {
  const file = ev.target.files[0];
  if (!file) return;
  const type = /\.ya?ml$/i.test(file.name) ? "application/x-yaml" : "application/json";
  await startProject(() => api("/projects/upload",
    { method: "POST", body: file, headers: { "Content-Type": type } }));
  ev.target.value = "";
}

async function startProject(call) {
  if (!state.user) { notify("Sign in first.", "error"); return; }
  try {
    const res = await call();
    notify("Project started.", "ok");
    await loadProjects();
    await openProject(res.project_id);
  } catch (e) {
    notify(`Could not start the project: ${e.message}`, "error");
  }
}

async function init() {
  state.placeholder = $("placeholder");  // kept: renderProject replaces it, sign-out restores it
  $("token-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token-input").value); });
  $("signout").addEventListener("click", signOut);
  $("refresh").addEventListener("click", () => { loadProjects(); if (state.pid) openProject(state.pid); });
  $("new-project").addEventListener("submit", createProject);
  $("np-file").addEventListener("change", uploadTask);
  const params = hashParams();
  if (params.get("token")) {  // a `#token=` link signs in once; the fragment never reaches the server
    state.token = params.get("token");
  }
  const pid = params.get("project");
  setHashProject(pid);  // drop the token from the address bar and history
  if (state.token && await signIn(state.token) && pid) await openProject(pid);
}

document.addEventListener("DOMContentLoaded", init);
