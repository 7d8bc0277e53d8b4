// "What it knows about you": the requirements you stated, what it learned from your
// projects (memories), the skills it may use and the versions of your planner adapter
// (trained by SDPO on your feedback), read from GET /knowledge; each memory and each of
// your own skills can be deleted, and an earlier adapter (or the base model) can be
// served again. The box filters what is listed.
// Uses h/api/state/notify from app.js.
"use strict";

const CATEGORY = { requirement: "your requirement", preference: "your preference",
  resource_limit: "your resources", decision: "decision", hypothesis: "hypothesis tried",
  validated_config: "setup that worked", failed_direction: "did not work", outcome: "outcome",
  fact: "fact" };
let knowledge = null;

function knowledgeItem(title, body, meta, onDelete) {
  return h("li", { class: "k-item" },
    h("div", { class: "k-row" }, h("div", { class: "k-title" }, title),
      onDelete ? h("button", { class: "btn ghost tiny k-delete", title: "Delete", onclick: onDelete }, "✕") : null),
    body ? h("div", { class: "small" }, body) : null,
    meta ? h("div", { class: "muted small" }, meta) : null);
}

function memoryItem(m) {
  const where = m.project_id ? `project ${m.project_id}` : "all projects";
  return knowledgeItem(m.content, "", `${CATEGORY[m.category] || m.category} · ${where}`,
    () => forget(`/memories/${encodeURIComponent(m.id)}`, "memory"));
}

function skillItem(s, own) {
  return knowledgeItem(s.name, s.when_to_use || s.trigger,
    `${s.stage} · used ${s.usage_count}× · ${s.success_count} success(es)`,
    own ? () => forget(`/skills/${encodeURIComponent(s.id)}`, "skill") : null);
}

function adapterItem(a, current) {
  const served = a.version === current;
  const metrics = Object.entries(a.metrics || {}).map(([k, v]) => `${k} ${Number(v).toPrecision(3)}`).join(", ");
  const when = new Date(a.created_at * 1000).toLocaleString();
  return h("li", { class: "k-item" },
    h("div", { class: "k-row" },
      h("div", { class: "k-title" }, `v${a.version}${served ? " (served to you)" : ""}`),
      served || a.status === "failed" || a.status === "training" ? null :
        h("button", { class: "btn ghost tiny", onclick: () => serveAdapter(a.version) }, "serve this one")),
    h("div", { class: "muted small" },
      `${a.status} · ${a.parent_version ? `from v${a.parent_version}` : "first update"} · ${when}` +
      (metrics ? ` · ${metrics}` : "")));
}

function adapterGroup(adapters, current) {
  const undo = current === null || current === undefined ? null :
    h("li", { class: "k-item" }, h("button", { class: "btn ghost tiny", onclick: () => serveAdapter(null) },
      `undo v${current} (serve its parent, or the base model)`));
  const items = adapters.slice().reverse().map((a) => adapterItem(a, current));
  return group(`Your planner adapter (${current ? `v${current} served` : "base model served"})`,
    "adapter-list", undo ? [undo, ...items] : items, false);
}

function group(label, id, items, open = true) {
  return h("details", { class: "k-group", open: open || null },
    h("summary", { class: "label" }, `${label} (${items.length})`),
    h("ul", { class: "k-list", id }, ...(items.length ? items : [h("li", { class: "muted small" }, "none")])));
}

function renderKnowledge() {
  if (!knowledge) return;
  const q = ($("k-query").value || "").trim().toLowerCase();
  const hit = (...xs) => !q || xs.join(" ").toLowerCase().includes(q);
  const req = knowledge.requirements.filter((m) => hit(m.content, m.category));
  const mem = knowledge.memories.filter((m) => hit(m.content, m.category));
  const own = knowledge.skills.filter((s) => hit(s.name, s.when_to_use, s.trigger, s.stage));
  const shared = knowledge.shared_skills.filter((s) => hit(s.name, s.when_to_use, s.trigger, s.stage));
  $("knowledge-results").replaceChildren(
    group("Your requirements", "requirement-list", req.map(memoryItem)),
    group("What it learned", "memory-list", mem.map(memoryItem)),
    group("Your skills", "skill-list", own.map((s) => skillItem(s, true))),
    group("Shared skills it may use", "shared-skill-list", shared.map((s) => skillItem(s, false)), false),
    adapterGroup(knowledge.adapters || [], knowledge.current_adapter));
}

async function loadKnowledge() {
  if (!state.user) return;
  try {
    knowledge = await api("/knowledge");
    renderKnowledge();
  } catch (e) {
    notify(`Could not load what it knows: ${e.message}`, "error");
  }
}

async function forget(path, what) {
  if (!confirm(`Delete this ${what}? It will no longer be used for your projects.`)) return;
  try {
    await api(path, { method: "DELETE" });
    notify(`The ${what} was deleted.`, "ok");
  } catch (e) {
    notify(`Delete failed: ${e.message}`, "error");
  }
  await loadKnowledge();
}

async function serveAdapter(version) {
  const what = version === null ? "the previous adapter (or the base model)" : `adapter v${version}`;
  if (!confirm(`Serve ${what} to your planner from its next call?`)) return;
  try {
    const r = await api("/adapters/rollback", { method: "POST",
      json: version === null ? {} : { to_version: version } });
    notify(r.current_version ? `Adapter v${r.current_version} is served.` : "The base model is served.", "ok");
  } catch (e) {
    notify(`Could not change the adapter: ${e.message}`, "error");
  }
  await loadKnowledge();
}

async function searchKnowledge(ev) {  // the box filters; a fresh load picks up new entries
  if (ev) ev.preventDefault();
  if (!state.user) { notify("Sign in first.", "error"); return; }
  await loadKnowledge();
}

document.addEventListener("DOMContentLoaded", () => {
  $("knowledge-form").addEventListener("submit", searchKnowledge);
  $("k-query").addEventListener("input", renderKnowledge);
});
