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

// one line per event, as a researcher reads it
function describeEvent(e) {
  const k = e.kind;
  if (k === "step_started") return `${e.phase}: ${e.step.replace(/_/g, " ")} step started`;
  if (k === "step_finished") return `${e.phase}: ${e.step.replace(/_/g, " ")} step ${e.status === "failed" ? "failed" : "finished"}${e.duration_s ? ` (${e.duration_s} s)` : ""}`;
  if (k === "step_skipped") return `${e.phase}: ${e.step.replace(/_/g, " ")} step already done`;
  if (k === "phase_started") return `${e.phase} stage started`;
  if (k === "phase_finished") return `${e.phase} stage finished`;
  if (k === "llm_call") return `${e.agent}: ${e.completion_tokens} tokens in ${e.duration_s.toFixed(1)} s${e.tokens_per_s ? ` · ${e.tokens_per_s} tokens/s` : ""}`;
  if (k === "literature_searched") return e.error ? `literature · ${e.source} failed: ${e.error}` : `literature · ${e.source}: ${e.scanned} records scanned, ${e.kept} kept`;
  if (k === "run_started") return `run attempt ${e.attempt} started (${e.backend})`;
  if (k === "run_finished") return `run attempt ${e.attempt} ${e.status}${e.duration_s ? ` in ${e.duration_s} s` : ""}`;
  if (k === "latex_pass") return `LaTeX · ${e.rule} pass ${e.run} (${e.elapsed_s.toFixed(1)} s)`;
  if (k === "training_step") return `SDPO step ${e.step}${e.steps ? `/${e.steps}` : ""} · loss ${e.loss.toFixed(4)}`;
  if (k === "coding_mode") return `coding mode ${e.mode}: ${e.why}`;
  if (k === "feedback_waiting") return `waiting for your feedback on ${e.phase}`;
  if (k === "feedback_received") return `feedback on ${e.phase}: ${e.text}`;
  if (k === "project_finished") return `project ${e.status}${e.error ? `: ${e.error}` : ""}`;
  return k.replace(/_/g, " ");
}

// the step running now: the newest step_started not yet finished, else the manifest's
function currentStep(st, evs) {
  const open = new Map();
  for (const e of evs) {
    if (e.kind === "step_started") open.set(`${e.phase}/${e.step}`, e);
    if (e.kind === "step_finished" || e.kind === "step_skipped") open.delete(`${e.phase}/${e.step}`);
  }
  const cur = [...open.values()].pop();
  if (cur) return { phase: cur.phase, step: cur.step, at: cur.at };
  for (const [phase, steps] of Object.entries(st.manifests || {})) {
    const s = (steps || []).find((x) => x.status === "running");
    if (s) return { phase, step: s.name, at: s.started_at };
  }
  return null;
}

// what is happening right now: the running step, tokens/s of the current generation, the
// running experiment and its output tail, the newest events of the step
function liveProgress(st) {
  if (!ACTIVE.has(st.status)) return null;
  const evs = st.events || [];
  const cur = currentStep(st, evs);
  const newest = (kind, pred) => [...evs].reverse().find((e) => e.kind === kind && (!pred || pred(e)));
  const call = newest("llm_call") || newest("token_rate");
  const started = newest("run_started");
  const ended = started && newest("run_finished", (e) => e.run_id === started.run_id);
  const runOut = started ? ["stdout", "stderr"].map((s) => newest("run_output", (e) => e.run_id === started.run_id && e.stream === s)).filter(Boolean) : [];
  const waiting = st.status === "waiting_feedback";
  return h("section", { class: "live card", id: "live" },
    h("div", { class: "label" }, "Live"),
    h("div", { class: "live-row" },
      waiting ? h("span", { id: "live-step" }, `paused after ${st.waiting_feedback_for}: waiting for your feedback`)
        : cur ? h("span", { id: "live-step" }, h("span", { class: "pulse" }, "●"), ` ${cur.phase} · ${cur.step.replace(/_/g, " ")} for ${fmtDuration(cur.at)}`)
          : h("span", { class: "muted" }, "starting…"),
      call && call.tokens_per_s ? h("span", { class: "chip flat", id: "live-rate", title: "the newest model generation" },
        `${call.tokens_per_s} tokens/s · ${call.agent}${call.model ? ` (${call.model})` : ""}`) : null),
    started && !waiting ? h("div", { class: "live-run small", id: "live-run" },
      ended ? `last run: attempt ${ended.attempt} ${ended.status} in ${ended.duration_s} s`
        : h("span", {}, h("span", { class: "pulse" }, "●"), ` experiment running: attempt ${started.attempt} for ${fmtDuration(started.at)}`)) : null,
    ...runOut.map((o) => h("pre", { class: `code live-tail ${o.stream}`, id: `live-tail-${o.stream}`, title: `the newest ${o.stream} lines` }, o.tail)),
    // instant model calls (a cache, a scripted model) would push the steps out of the list
    h("ul", { class: "events small muted", id: "live-events" }, ...evs.filter((e) => !["token_rate", "run_output"].includes(e.kind)
      && !(e.kind === "llm_call" && e.duration_s < 1)).slice(-8).map((e) =>
      h("li", {}, `${new Date(e.at * 1000).toLocaleTimeString()} ${describeEvent(e)}`))));
}
