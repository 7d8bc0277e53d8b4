// A running project: the live panel (current step, recent events, tokens/s of the last
// model call, the run's output tail) and the banner when it waits for feedback at a stage
// gate. Reads the typed events of GET /projects/{id} (ProjectStatusReport.events).
// Uses h/state/fmtDuration/ACTIVE from app.js.
"use strict";

function waitingBanner(st) {
  const phase = st.waiting_feedback_for;
  if (!phase) return null;
  const left = st.feedback_deadline ? Math.max(0, st.feedback_deadline - Date.now() / 1000) : null;
  return h("div", { class: "banner waiting", id: "waiting-banner" },
    h("strong", {}, "Waiting for your feedback: "),
    `the ${phase} stage is finished. Tell it what to change before the next stage`,
    left !== null ? ` (it goes on by itself in ${fmtDuration(Date.now() / 1000 - left)})` : "",
    ". ",
    h("button", { class: "btn primary small", onclick: () => { const t = $(`feedback-${phase}`); if (t) { t.scrollIntoView({ block: "center" }); t.focus(); } } },
      "Write feedback"));
}

// what is happening right now: the running step, tokens/s of the last generation, run output
function liveProgress(st) {
  if (!ACTIVE.has(st.status)) return null;
  const evs = st.events || [];
  const open = new Map();
  for (const e of evs) {
    if (e.kind === "step_started") open.set(`${e.phase}/${e.step}`, e);
    if (e.kind === "step_finished" || e.kind === "step_skipped") open.delete(`${e.phase}/${e.step}`);
  }
  const cur = [...open.values()].pop();
  const rate = [...evs].reverse().find((e) => e.kind === "token_rate");
  const out = [...evs].reverse().find((e) => e.kind === "run_output");
  return h("section", { class: "live card", id: "live" },
    h("div", { class: "label" }, "Live"),
    h("div", { class: "live-row" },
      st.status === "waiting_feedback" ? h("span", { id: "live-step" }, `paused after ${st.waiting_feedback_for}: waiting for your feedback`)
        : cur ? h("span", { id: "live-step" }, h("span", { class: "pulse" }, "●"), ` ${cur.phase} · ${cur.step.replace(/_/g, " ")} for ${fmtDuration(cur.at)}`)
          : h("span", { class: "muted" }, "starting…"),
      rate ? h("span", { class: "chip flat", id: "live-rate", title: "the last model call" },
        `${rate.tokens_per_s} tokens/s · ${rate.agent}${rate.model ? ` (${rate.model})` : ""}`) : null),
    out ? h("pre", { class: "code live-tail", id: "live-tail" }, out.tail) : null,
    h("ul", { class: "events small muted" }, ...evs.filter((e) => e.kind !== "token_rate").slice(-6).map((e) =>
      h("li", {}, `${new Date(e.at * 1000).toLocaleTimeString()} ${e.kind.replace(/_/g, " ")} ${e.phase || ""} ${e.step || ""}${e.duration_s ? ` (${e.duration_s} s)` : ""}`))));
}
