"""Standing requirements: feedback -> a verifiable form -> rule checks on the artifacts.

A researcher's "always report an efficiency table" or "use logistic regression as a
baseline" becomes a requirement memory (category "requirement", user-bound unless the text
says "this project") whose `form` says which artifact must show what:

    artifact  field      value                   checked by
    blueprint baselines  logistic regression     a baseline whose name matches
    blueprint metrics    f1                      a metric whose name matches
    blueprint ablations  1                       at least that many ablations
    blueprint seeds      5                       at least that many seeds
    paper     table      efficiency              a LaTeX table whose text names the subject
    paper     section    limitations             a section titled or opening with the subject
    paper     mentions   mean_std / significance / efficiency /   the section text shows it
                         worst_case / best_per_dataset / gain_attribution
    blueprint min_baselines / min_datasets  2    at least that many planned
    blueprint robustness gaussian noise,shift    a perturbed test set of each kind
    paper     mentions   robustness              the text gives a perturbed score (a number)

Planning, coding and writing retrieve them; the orchestrator enforces blueprint forms by
rule (so even the embedded model honours them), the writer enforces paper forms by rule
from the artifacts (`enforce_paper`: an efficiency table from the runs' recorded fit time
and memory, a limitations section, mean +- std, the significance test stated, each
method's worst seed, the best method per dataset, what each ablation arm changes) and the
orchestrator checks them after writing; every project records met/unmet/enforced in
`requirements.json`. Text that fits no form stays an ordinary
preference memory: nothing is claimed checkable that is not.
"""
from __future__ import annotations

import re
from typing import Iterable


from nanoresearch.types import Blueprint, DatasetSpec, MemoryEntry, MethodSpec, PaperDraft, RequirementCheck

_BASELINE = re.compile(
    r"(?:use|include|add|compare (?:against|with|to)|always compare (?:against|with|to))\s+"
    r"(?:an?\s+|the\s+)?([a-z0-9][a-z0-9 _+\-.]{1,40}?)\s+(?:as\s+)?(?:an?\s+|the\s+)?baseline", re.I)
_BASELINE2 = re.compile(r"baselines?\s*(?:like|such as|:)\s*([a-z0-9][a-z0-9 _+\-.]{1,40})", re.I)
_METRIC = re.compile(r"\breport\s+(?:the\s+)?([a-z0-9][a-z0-9 _\-@]{0,30}?)\s*"
                     r"(?:scores?|metric|too|as well|and\b|$|[.;,])", re.I)
_TABLE = re.compile(r"\b([a-z][a-z\-]{2,30})\s+table\b", re.I)
_SEEDS = re.compile(r"\b(?:at least\s+)?(\d+)\s+(?:random\s+)?seeds\b", re.I)
_SECTION = re.compile(r"\b(?:add|include|write|discuss)\s+(?:an?\s+|the\s+)?"
                      r"([a-z][a-z ]{2,30}?)\s+section\b", re.I)
# paper statements a researcher asks for in words: (what the feedback says, what the text must show)
_MENTIONS = {
    "mean_std": (r"mean and std|error bars|std over", r"\\pm|±|\bstd\b|standard deviation"),
    "significance": (r"significance|statistical test", r"significan|p-value|t-test|wilcoxon|confidence interval"),
    "efficiency": (r"efficiency (?:analysis|comparison)|training time|inference time|time and memory",
                   r"(?:time|seconds|runtime|latency|memory|efficien)[^.\n]{0,80}\d|\d[^.\n]{0,40}(?:seconds|\bs\b|ms|mb)"),
    "worst_case": (r"worst[- ]case|worst seed|minimum over seeds", r"worst[- ]case[^.\n]{0,160}\d"),
    "best_per_dataset": (r"best (?:configuration|method|model) (?:per|for each|on each) dataset",
                         r"\bbest (?:method|configuration|model)\b[^.\n]{0,120}\d"),
    "robustness": (r"robust\w* (?:to|against|under)|(?:noise|shift)s? (?:robustness|and shift)",
                   r"(?:noise|shift|dropout|perturb)[^.\n]{0,160}\d"),
    "gain_attribution": (r"which (?:part|component)s? causes?|attribut\w* the gain|explain the gain",
                         r"(?:ablat|without|removing)[^.\n&]{0,200}\d"),
}
_MIN_COUNT = {"baselines": r"strong baselines|more baselines", "datasets": r"more datasets|several datasets"}
_NOT_A_METHOD = {"strong", "stronger", "more", "simple", "simpler", "weak", "several", "standard",
                 "good", "better", "other", "new", "strong baselines"}
_KNOWN_METRICS = {"accuracy", "f1", "macrof1", "microf1", "weightedf1", "auc", "rocauc", "prauc", "mae",
                  "rmse", "mse", "ece", "recall", "precision", "r2", "mape", "smape", "logloss", "brier",
                  "balancedaccuracy", "top1accuracy", "top5accuracy", "nll", "perplexity"}
_FEWER_ABLATIONS = re.compile(r"\b(avoid|no|fewer|less|without|too many|many)\s+(\w+\s+)?ablations?", re.I)
_PROJECT_ONLY = re.compile(r"\b(this|the current) (project|paper|study|experiment)\b|\bhere\b", re.I)
_TABLE_TERMS = {"efficiency": ("efficien", "time", "runtime", "seconds", "latency", "throughput",
                               "memory", "speed")}
_ALIASES = {"logisticregression": ("logreg", "logistic"), "svm": ("linearsvc", "svc", "svm"),
            "randomforest": ("randomforest", "rf"), "naivebayes": ("multinomialnb", "naivebayes", "nb")}
STRESS_LEVEL = 1.0  # a perturbation one training std strong, the harsher of the design's two levels
_LEAD = re.compile(r"^(?:an?|the|always|also|please)\s+", re.I)


Check = RequirementCheck  # the record's row type lives in nanoresearch/types.py


def _clean(v: str) -> str:
    v = " ".join(v.strip(" .,;:").split())
    while _LEAD.match(v):
        v = _LEAD.sub("", v)
    return v.lower()


def _wants_ablations(text: str) -> bool:
    """Asks for ablations and nowhere for fewer; "avoid methods without ablations" is a
    double negative: it asks for them."""
    said = [t for t in re.split(r"(?<=[.;!?])\s+", text) if re.search(r"\bablations?\b", t, re.I)]
    fewer = [t for t in said if (m := _FEWER_ABLATIONS.search(t))
             and not (m.group(1).lower() == "without" and re.match(r"\s*(?:avoid|no)\b", t, re.I))]
    return bool(said) and not fewer


def _said(text: str, key: str) -> bool:
    return bool(re.search(_MENTIONS[key][0], text, re.I))


def robustness_kinds(text: str) -> list[str]:
    """The harness's perturbation kinds a robustness request names (noise when none)."""
    kinds = [k for k, rx in (("gaussian noise", r"\bnois"), ("shift", r"\bshift"),
                             ("feature dropout", r"\bmissing|dropout|corrupt")) if re.search(rx, text, re.I)]
    return kinds or ["gaussian noise"]


def parse_forms(text: str) -> list[dict[str, str]]:
    """Every verifiable form the feedback text states (may be several, may be none)."""
    forms: list[dict[str, str]] = []
    for rx in (_BASELINE, _BASELINE2):
        for m in rx.finditer(text):
            if (v := _clean(m.group(1))) not in _NOT_A_METHOD:
                forms.append({"artifact": "blueprint", "field": "baselines", "value": v})
    for m in _METRIC.finditer(text):
        v = _clean(m.group(1))
        if _norm(v) in _KNOWN_METRICS:  # "report mean and std" names no metric
            forms.append({"artifact": "blueprint", "field": "metrics", "value": v})
    for m in _TABLE.finditer(text):
        forms.append({"artifact": "paper", "field": "table", "value": _clean(m.group(1))})
    for m in _SEEDS.finditer(text):
        forms.append({"artifact": "blueprint", "field": "seeds", "value": m.group(1)})
    if _wants_ablations(text):
        forms.append({"artifact": "blueprint", "field": "ablations", "value": "1"})
    for m in _SECTION.finditer(text):
        forms.append({"artifact": "paper", "field": "section", "value": _clean(m.group(1))})
    if re.search(r"\blimitations?\b", text, re.I) and not any(f["field"] == "section" for f in forms):
        forms.append({"artifact": "paper", "field": "section", "value": "limitations"})
    if _said(text, "robustness"):  # perturbed test sets to run, and their scores in the text
        forms.append({"artifact": "blueprint", "field": "robustness", "value": ",".join(robustness_kinds(text))})
    for key in _MENTIONS:
        if _said(text, key):
            forms.append({"artifact": "paper", "field": "mentions", "value": key})
    for field, said in _MIN_COUNT.items():
        if re.search(said, text, re.I):
            forms.append({"artifact": "blueprint", "field": f"min_{field}", "value": "2"})
    out, seen = [], set()
    for f in forms:
        key = tuple(sorted(f.items()))
        if f["value"] and key not in seen:
            seen.add(key)
            out.append(f)
    return out


_STANDING = re.compile(r"\b(always|never|in general|generally|by default|from now on|in (the )?future|"
                       r"going forward|every (paper|project|time|study)|all (of )?my (papers|projects)|"
                       r"i (usually |generally )?(prefer|like|want|dislike|hate|expect))\b", re.I)


def standing_preference(text: str) -> bool:
    """Free-text feedback phrased as a standing preference ("I prefer short related-work
    sections", "never use accuracy alone") that does not limit itself to this project:
    kept for all the user's projects even when it has no verifiable form."""
    return bool(_STANDING.search(text)) and not _PROJECT_ONLY.search(text)


def requirement_memories(text: str, user_id: str, project_id: str,
                         conditions: dict[str, str] | None = None) -> list[MemoryEntry]:
    """One requirement memory per form: user-bound unless the text limits it to this project."""
    bound = project_id if _PROJECT_ONLY.search(text) else None
    return [MemoryEntry(user_id=user_id, project_id=bound, category="requirement",
                        content=f"requirement ({f['artifact']} {f['field']}: {f['value']}): {text[:300]}",
                        conditions=dict(conditions or {}), importance=0.9, form=f)
            for f in parse_forms(text)]


# ---------------------------------------------------------------------- checks
def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def name_matches(wanted: str, have: str) -> bool:
    w, h = _norm(wanted), _norm(have)
    if not w or not h:
        return False
    if w in h or h == w:
        return True
    return any(a in h for a in _ALIASES.get(w, ()))


def check_blueprint(form: dict[str, str], bp: Blueprint) -> tuple[bool | None, str]:
    if form.get("artifact") != "blueprint":
        return None, ""
    f, v = form["field"], form["value"]
    if f == "baselines":
        hit = [b.name for b in bp.baselines if name_matches(v, b.name)]
        return bool(hit), f"baselines {[b.name for b in bp.baselines]}"
    if f == "metrics":
        hit = [m for m in bp.metrics if name_matches(v, m)]
        return bool(hit), f"metrics {bp.metrics}"
    if f == "ablations":
        return len(bp.ablations) >= int(v), f"{len(bp.ablations)} ablation(s)"
    if f == "seeds":
        return len(bp.seeds) >= int(v), f"seeds {bp.seeds}"
    if f in ("min_baselines", "min_datasets"):
        have = bp.baselines if f == "min_baselines" else bp.datasets
        return len(have) >= int(v), f"{len(have)} {f[4:]}"
    if f == "robustness":
        levels = _stress_levels(bp)
        missing = [k for k in v.split(",") if not any(lv.startswith(k) for lv in levels)]
        return not missing, f"perturbed test sets {levels}" + (f"; none for {missing}" if missing else "")
    return None, f"unknown blueprint field {f!r}"


def _stress_levels(bp: Blueprint) -> list[str]:
    design = bp.design.levels if bp.design is not None and bp.design.kind == "robustness" else []
    return [lv for lv in [*design, *bp.stress_tests] if lv != "clean test set"]


def enforce_blueprint(form: dict[str, str], bp: Blueprint,
                      options: dict[str, list[str]] | None = None) -> Blueprint:
    """Change the blueprint by rule so it meets the form (a no-op when it already does).
    `options` lists, best first, what a count form may add: "datasets" (catalog entries of
    the blueprint's domain and task) and "baselines" (the scaffold's baseline names); a
    count form with too few options is met as far as they go and stays unmet on record."""
    met, _ = check_blueprint(form, bp)
    if met is not False:
        return bp
    f, v = form["field"], form["value"]
    if f in ("min_datasets", "min_baselines"):
        what = f[4:]
        have = bp.datasets if what == "datasets" else bp.baselines
        names = {_norm(x.name) for x in have}
        extra = [n for n in (options or {}).get(what, []) if _norm(n) not in names]
        extra = list(dict.fromkeys(extra))[:max(0, int(v) - len(have))]
        if not extra:
            return bp
        why = f"added by the researcher's standing requirement (at least {v} {what})"
        if what == "datasets":
            return bp.model_copy(update={"datasets": [*bp.datasets, *(DatasetSpec(name=n, notes=why)
                                                                     for n in extra)]})
        return bp.model_copy(update={"baselines": [*bp.baselines, *(MethodSpec(name=n, description=why)
                                                                   for n in extra)]})
    if f == "baselines":
        return bp.model_copy(update={"baselines": [*bp.baselines, MethodSpec(
            name=v, description="required by the researcher's standing requirement")]})
    if f == "metrics":
        return bp.model_copy(update={"metrics": [*bp.metrics, v]})
    if f == "ablations":
        return bp.model_copy(update={"ablations": [*bp.ablations, MethodSpec(
            name=f"{bp.proposed_method.name} without its key component",
            description="ablation required by the researcher's standing requirement")]})
    if f == "robustness":
        have = _stress_levels(bp)
        add = [f"{k} (level {STRESS_LEVEL:g})" for k in v.split(",") if not any(lv.startswith(k) for lv in have)]
        return bp.model_copy(update={"stress_tests": [*bp.stress_tests, *add]})
    if f == "seeds":
        n = int(v)
        return bp.model_copy(update={"seeds": sorted({*bp.seeds, *range(n)})[:max(n, len(bp.seeds))]})
    return bp


_TABLE_ENV = re.compile(r"\\begin\{table\*?\}(.*?)\\end\{table\*?\}", re.S)


def check_paper(form: dict[str, str], draft: PaperDraft) -> tuple[bool | None, str]:
    """Paper forms are checked on the section text (never on the preamble or package lines)."""
    if form.get("artifact") != "paper":
        return None, ""
    f, v = form["field"], form["value"]
    body = "\n".join(s.latex for s in draft.sections)
    if f == "table":
        terms = _TABLE_TERMS.get(v, (v,))
        tables = _TABLE_ENV.findall(body)
        hit = [t for t in tables if any(term in t.lower() for term in terms)]
        return bool(hit), f"{len(tables)} table(s), {len(hit)} about {v}"
    if f == "section":
        hit = [s.name for s in draft.sections
               if v in s.name.lower() or v in s.latex[:300].lower()]
        return bool(hit), f"sections {[s.name for s in draft.sections]}"
    if f == "mentions" and v in _MENTIONS:
        hit = re.search(_MENTIONS[v][1], body, re.I)
        return bool(hit), f"section text shows {v}: {hit.group(0)[:60]!r}" if hit else f"no {v} in the section text"
    return None, f"unknown paper field {f!r}"


def form_key(form: dict[str, str]) -> str:
    return f"{form.get('field')}:{form.get('value')}"


def enforce_paper(form: dict[str, str], draft: PaperDraft,
                  material: dict[str, tuple[str, str] | str]) -> tuple[bool, str]:
    """Change the draft by rule so it meets a paper form, from material the writer built
    from the artifacts: material[form_key] is (section name, LaTeX to append there; a
    missing section is added before the conclusion) or a string saying why it cannot be
    built. -> (enforced, how); (False, "met") when it already held."""
    from nanoresearch.types import Section

    met, _ = check_paper(form, draft)
    if met is not False:
        return False, "met" if met else "not a paper form"
    got = material.get(form_key(form))
    if not isinstance(got, tuple):
        return False, f"cannot: {got or 'no rule builds ' + form_key(form)}"
    name, latex = got
    sec = next((s for s in draft.sections if s.name == name), None)
    if sec is None:
        at = next((i for i, s in enumerate(draft.sections) if s.name in ("conclusion", "provenance")),
                  len(draft.sections))
        draft.sections.insert(at, Section(name=name, latex=latex))
    else:
        sec.latex = sec.latex.rstrip() + "\n\n" + latex
    ok, ev = check_paper(form, draft)
    return bool(ok), (f"added to {name}" if ok else f"cannot: added to {name} but still unmet ({ev})")


def enforced_ids(reqs: Iterable[MemoryEntry], records: Iterable[dict]) -> set[str]:
    """Ids of the requirements whose form the writer enforced (its provenance records)."""
    done = {form_key(r["form"]) for r in records if r.get("enforced")}
    return {m.id for m in reqs if m.form.get("artifact") == "paper" and form_key(m.form) in done}


def unique_forms(reqs: Iterable[MemoryEntry]) -> list[MemoryEntry]:
    """One requirement per form (the earliest), however often it was said."""
    seen, out = set(), []
    for m in sorted(reqs, key=lambda m: m.created_at):
        key = tuple(sorted(m.form.items()))
        if m.form and key not in seen:
            seen.add(key)
            out.append(m)
    return out


def check_all(reqs: Iterable[MemoryEntry], bp: Blueprint | None = None,
              draft: PaperDraft | None = None, enforced: set[str] = frozenset()) -> list[Check]:
    out = []
    for m in reqs:
        met, ev = (None, "")
        if bp is not None and m.form.get("artifact") == "blueprint":
            met, ev = check_blueprint(m.form, bp)
        elif draft is not None and m.form.get("artifact") == "paper":
            met, ev = check_paper(m.form, draft)
        out.append(Check(memory_id=m.id, text=m.content, form=m.form, met=met, evidence=ev,
                         enforced=m.id in enforced))
    return out
