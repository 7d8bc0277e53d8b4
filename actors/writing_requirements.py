"""Standing requirements on the paper, enforced by rule from the artifacts (so the embedded
model honours them too): the writer reads the paper forms the planner put at the head of
its plan ("[standing requirement] paper table: efficiency") or that the caller passes,
builds what each needs from the runs (storage/requirements.py checks and applies it), and
records per form whether it was already met, enforced, or cannot be (and why) in
writing/provenance.json.
"""
from __future__ import annotations

import re
from typing import Sequence

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
    return out


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
