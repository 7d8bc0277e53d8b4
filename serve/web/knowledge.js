// "What the system knows about you": search your memories and the skills you can use.
// Uses h/api/state/notify from app.js.
"use strict";

function knowledgeItem(title, body, meta) {
  return h("li", { class: "k-item" }, h("div", { class: "k-title" }, title),
    body ? h("div", { class: "small" }, body) : null,
    meta ? h("div", { class: "muted small" }, meta) : null);
}

function renderKnowledge(memories, skills) {
  const mem = memories.map((m) => knowledgeItem(m.content, "",
    `${m.category.replaceAll("_", " ")} · ${m.project_id ? "project " + m.project_id : "all projects"}`));
  const sk = skills.map((s) => knowledgeItem(s.name, s.when_to_use || s.trigger,
    `${s.stage} · ${s.scope === "global" ? "shared skill" : "your skill"} · used ${s.usage_count}×`));
  $("knowledge-results").replaceChildren(
    h("div", { class: "label" }, `Memories (${memories.length})`),
    h("ul", { class: "k-list", id: "memory-list" }, ...(mem.length ? mem : [h("li", { class: "muted small" }, "none")])),
    h("div", { class: "label" }, `Skills (${skills.length})`),
    h("ul", { class: "k-list", id: "skill-list" }, ...(sk.length ? sk : [h("li", { class: "muted small" }, "none")])));
}

async function searchKnowledge(ev) {
  if (ev) ev.preventDefault();
  if (!state.user) { notify("Sign in first.", "error"); return; }
  const q = encodeURIComponent($("k-query").value.trim());
  try {
    const [memories, skills] = await Promise.all([api(`/memories?q=${q}&k=5`), api(`/skills?q=${q}&k=5`)]);
    renderKnowledge(memories, skills);
  } catch (e) {
    notify(`Search failed: ${e.message}`, "error");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("knowledge-form").addEventListener("submit", searchKnowledge);
});
