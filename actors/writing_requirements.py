"""Standing requirements on the paper, enforced by rule from the artifacts (so the embedded
model honours them too): the writer reads the paper forms the planner put at the head of
its plan ("[standing requirement] paper table: efficiency") or that the caller passes,
builds what each needs from the runs (storage/requirements.py checks and applies it), and
records per form whether it was already met, enforced, or cannot be (and why) in
writing/provenance.json. Every number these sentences print is a mean, min, max or
difference of means of the runs' records, so it traces in the number check.
"""
from __future__ import annotations

import re
import statistics
from collections import defaultdict
from typing import Sequence

from actors.writing_context import fmt_num, read_coding_notes
from nanoresearch.latex import escape_latex
from nanoresearch.latex.tables import lower_is_better
from nanoresearch.scaffolds.build import technique_pairs
from nanoresearch.types import PaperDraft, Plan
from storage.requirements import check_paper, enforce_paper, form_key

_STEP = re.compile(r"^\[standing requirement\]\s+paper\s+(\w+):\s*(.+?)\s*$")


def paper_forms(plan: Plan | None, extra: Sequence[dict] = ()) -> list[dict]:
    """The paper forms from the plan's rule-added steps plus any passed directly."""
    forms = [dict(f) for f in extra if f.get("artifact") == "paper"]
    for step in (plan.steps if plan else []):
        m = _STEP.match(step)
        if m:
            forms.append({"artifact": "paper", "field": m.group(1), "value": m.group(2).lower()})
    out, seen = [], set()
    for f in forms:
        if form_key(f) not in seen:
            seen.add(form_key(f))
            out.append(f)
    return out


def material(inp) -> dict[str, tuple[str, str] | str]:
    """What each supported form needs, built from the artifacts (or why it cannot be)."""
    out: dict[str, tuple[str, str] | str] = {}
    if inp.efficiency:
        eff = (inp.efficiency_sentence() + "\n\n" + inp.efficiency_table()).strip()
        out["table:efficiency"] = out["mentions:efficiency"] = ("results", eff)
    else:
        out["table:efficiency"] = out["mentions:efficiency"] = (
            "the runs recorded no fit time or memory per method (this domain's harness does not measure them)")
    out["section:limitations"] = ("limitations", inp.fallback("limitations"))
    seeds = len({m.seed for m in inp.metrics})
    if seeds >= 2 and inp.metrics:
        out["mentions:mean_std"] = ("results", f"Every number in Table~\\ref{{tab:results}} is a mean $\\pm$ "
                                               f"standard deviation over {seeds} seeds.")
    else:
        out["mentions:mean_std"] = f"{seeds} seed(s) ran: no standard deviation exists"
    has_p = any(c.p_value is not None for c in inp.analysis.comparisons) or any(
        r.p_value is not None for r in inp.ranks)
    if has_p:
        out["mentions:significance"] = ("results", "Significance is tested with a two-sided paired t-test over "
                                                   "the seeds each pair of methods shares; the p-values are "
                                                   "given with each comparison above.")
    else:
        out["mentions:significance"] = "no comparison had two or more paired seeds: no significance test was run"
    for key, build in (("worst_case", worst_case_text), ("best_per_dataset", best_per_dataset_text),
                       ("gain_attribution", ablation_text), ("robustness", robustness_text)):
        got = build(inp)
        out[f"mentions:{key}"] = ("results", got[1]) if got[0] else got[1]
    return out


def _scores(inp) -> dict[str, dict[str, list[float]]]:
    """dataset -> method -> the primary metric's test values over seeds."""
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for m in inp.metrics:
        if m.metric == inp.primary:
            out[m.dataset][m.method].append(m.value)
    return out


def worst_case_text(inp) -> tuple[bool, str]:
    """The worst seed of every method next to its mean (min for higher-is-better metrics)."""
    e, scores, low = escape_latex, _scores(inp), lower_is_better(inp.primary)
    out = []
    for ds, by_method in scores.items():
        n = max(len(v) for v in by_method.values())
        if n < 2:
            continue
        parts = [f"{e(meth)} {fmt_num(max(v) if low else min(v))} (mean {fmt_num(statistics.fmean(v))})"
                 for meth, v in by_method.items()]
        out.append(f"Worst case over the {n} seeds on {e(ds)} ({e(inp.primary)}, "
                   f"{'highest' if low else 'lowest'} seed): {'; '.join(parts)}.")
    return (True, " ".join(out)) if out else (False, "every method ran one seed: there is no worst case to report")


def best_per_dataset_text(inp) -> tuple[bool, str]:
    """The best method by mean primary metric on each dataset."""
    e, scores, low = escape_latex, _scores(inp), lower_is_better(inp.primary)
    out = []
    for ds, by_method in scores.items():
        means = {meth: statistics.fmean(v) for meth, v in by_method.items() if v}
        if len(means) < 2:
            continue
        best = (min if low else max)(means, key=means.get)
        out.append(f"On {e(ds)}, the best method by mean {e(inp.primary)} is {e(best)} ({fmt_num(means[best])}).")
    return (True, " ".join(out)) if out else (False, "no dataset has two methods with results to rank")


def robustness_text(inp) -> tuple[bool, str]:
    """Each method's mean primary metric on the clean test set next to its mean under every
    perturbed test set that ran (split "perturbed:NAME")."""
    e, clean = escape_latex, _scores(inp)
    pert: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for m in inp.condition_metrics:
        if m.split.startswith("perturbed:") and m.metric == inp.primary:
            pert[(m.dataset, m.split.split(":", 1)[1])][m.method].append(m.value)
    out = []
    for (ds, name), by_method in pert.items():
        parts = [f"{e(meth)} from {fmt_num(statistics.fmean(clean[ds][meth]))} to {fmt_num(statistics.fmean(v))}"
                 for meth, v in by_method.items() if clean.get(ds, {}).get(meth)]
        if parts:
            out.append(f"Robustness on {e(ds)}: under {e(name)} on the test features, the mean {e(inp.primary)} "
                       f"moves from the clean test set to the perturbed one as follows: {'; '.join(parts)}.")
    return (True, " ".join(out)) if out else (False, "no perturbed test set ran")


def ablation_text(inp) -> tuple[bool, str]:
    """What removing each ablated component changes: the blueprint's ablation arms against
    the proposed method, the arms the coding agent ran them as (each varies the proposed
    method by one recorded change; a baseline that is such a variant stands in), and a technique arm against the
    plain arm whose configuration it copied (the coding notes record the pair; they differ
    in the technique alone)."""
    e, scores, notes = escape_latex, _scores(inp), read_coding_notes(inp.workspace_root)
    pairs = [(inp.method, a.name, "the component it removes") for a in inp.blueprint.ablations]
    pairs += [(inp.method, arm, f"that one change ({e(change)})")
              for arm, change in notes.get("ablation_arms", {}).items()
              if arm not in {a.name for a in inp.blueprint.ablations}]
    pairs += [(arm, plain, f"what {e(arm)} adds to it")
              for arm, plain in technique_pairs(notes.get("notes", [])).items()]
    out = []
    for ds, by_method in scores.items():
        for arm, abl, what in pairs:
            if by_method.get(arm) and by_method.get(abl):
                mf, ma = statistics.fmean(by_method[arm]), statistics.fmean(by_method[abl])
                out.append(f"Ablation on {e(ds)}: {e(abl)} reaches a mean {e(inp.primary)} of {fmt_num(ma)} "
                           f"against {fmt_num(mf)} for {e(arm)}, a difference of {fmt_num(mf - ma)} "
                           f"attributable to {what}.")
    if out:
        return True, " ".join(out)
    return False, ("the blueprint has no ablation and no technique arm" if not pairs else
                   "no ablation arm ran beside the arm it ablates")


def enforce(draft: PaperDraft, inp, forms: Sequence[dict]) -> list[dict]:
    """Apply every form to the draft; one record per form for the provenance."""
    if not forms:
        return []
    mat, out = material(inp), []
    for f in forms:
        before, _ = check_paper(f, draft)
        done, how = enforce_paper(f, draft, mat)
        after, ev = check_paper(f, draft)
        out.append({"form": dict(f), "met_before": before, "enforced": done, "met": after,
                    "how": how, "evidence": ev, "by": "rule"})
    return out
