"""What the writer knows about a finished Stage II: the inputs bundled once, the facts it
may tell the model per section, and deterministic text built only from those artifacts.

The deterministic paragraphs are the fallback when the model's text is unusable, and the
backbone that must be in the paper whatever the model writes (the comparison sentences
of the results, the setup details, a citation for every retrieved paper).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from actors.planning_design import asks_effect, derive_design, named_methods
from actors.writing_design import Ranking, rankings
from actors.writing_related import select_citable, study_groups, themes
from actors import writing_tables as wt
from nanoresearch import artifacts as A
from nanoresearch.latex import EvidenceSet, bib_key, build_evidence, escape_latex, results_table
from nanoresearch.latex.claims import primary_means
from nanoresearch.latex.prose import title_reason
from nanoresearch.types import (AnalysisReport, Blueprint, DatasetCard, Hypothesis,
                                LiteratureRecord, MetricRecord, Plan, ResearchTopic,
                                SkillEntry, UserProfile)

SECTIONS: list[tuple[str, str]] = [
    ("introduction", "Introduction"), ("related_work", "Related Work"), ("method", "Method"),
    ("experimental_setup", "Experimental Setup"), ("results", "Results"),
    ("limitations", "Limitations"), ("conclusion", "Conclusion"),
]
SECTION_TITLES = dict(SECTIONS) | {"provenance": "Appendix: Provenance of the Text"}


def load_metrics(runs_metrics: Any) -> list[MetricRecord]:
    """Accepts MetricRecords, dicts, or a path to metrics.json (a list of records)."""
    if isinstance(runs_metrics, (str, Path)):
        runs_metrics = json.loads(Path(runs_metrics).read_text())
    return [m if isinstance(m, MetricRecord) else MetricRecord.model_validate(m) for m in runs_metrics or []]


def read_coding_notes(workspace_root: Path | str | None) -> dict:
    """experiment/code/coding_notes.json, or {} when the project has none."""
    root = Path(workspace_root) / "experiment" if workspace_root else None
    if root is None or not A.CODING_NOTES.at(root).is_file():
        return {}
    return json.loads(A.CODING_NOTES.at(root).read_text())


def fmt_num(x: float, digits: int = 3) -> str:
    """A number as LaTeX at fixed precision; tiny ones in scientific form."""
    if x != 0 and abs(x) < 10 ** -digits:
        exp = math.floor(math.log10(abs(x)))
        return f"${x / 10 ** exp:.1f} \\times 10^{{{exp}}}$"
    return f"{x:.{digits}f}"


def human_list(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _question(problem: str) -> str:
    """The research question as a clause: "Does X help?" -> "whether X helps" is hard to
    do well, so a question is quoted as a question and a statement is used as is."""
    p = problem.strip().rstrip(".")
    return f"the question: {p}" if p.endswith("?") else _lc_first(p) + "."


def _title_case(t: str) -> str:
    small = {"a", "an", "and", "of", "on", "the", "in", "for", "with", "to", "or", "by"}
    words = t.split(" ")
    return " ".join(w if (i and w.lower() in small) or not w[:1].islower() or "-" in w[:3]
                    else w[:1].upper() + w[1:] for i, w in enumerate(words))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _lc_first(s: str) -> str:
    """"Does X help?" -> "does X help?" inside a sentence, but keep "SVM ..." as is."""
    return s[:1].lower() + s[1:] if len(s) > 1 and s[1:2].islower() else s


@dataclass
class PaperInputs:
    topic: ResearchTopic
    profile: UserProfile
    hypothesis: Hypothesis
    blueprint: Blueprint
    papers: list[LiteratureRecord]
    analysis: AnalysisReport
    metrics: list[MetricRecord]
    cards: list[DatasetCard] = field(default_factory=list)
    plan: Plan | None = None
    skills: Sequence[SkillEntry] = ()
    workspace_root: Path | None = None
    evidence: EvidenceSet = field(init=False)
    retrieved: list[LiteratureRecord] = field(init=False)
    related_counts: dict[str, int] = field(init=False)
    ranks: list[Ranking] = field(init=False)
    efficiency: list[MetricRecord] = field(init=False)  # fit time / peak memory per method
    condition_metrics: list[MetricRecord] = field(init=False)  # learning-curve / perturbed scores
    required: list[dict] = field(default_factory=list)  # standing requirement forms on the paper
    claims_dropped: list[str] = field(default_factory=list)  # sentences the claim gate removed, with why

    def __post_init__(self) -> None:
        self.metrics, self.efficiency, self.condition_metrics = wt.split_metrics(self.metrics)
        # only relevant records with complete references are cited (writing_related.py)
        self.retrieved = list({p.id: p for p in self.papers}.values())
        design = self.design
        task = next((c.task for c in self.cards if c.name in self.datasets), "")
        groups = study_groups(self.topic.problem_statement, design.methods,
                              [f"{d} {task}" for d in self.datasets], design.factor)
        cited, self.related_counts = select_citable(groups, self.retrieved)
        self.papers = [s.record for s in cited]
        self.evidence = build_evidence(self.metrics, self.analysis, self.blueprint, self.cards, self.papers)
        self.ranks = rankings(design, self.metrics, self.blueprint.primary_metric)
        for r in self.ranks:  # the factorial numbers the results print must trace
            for lv, rows in r.order.items():
                for meth, v in rows:
                    self.evidence.add(v, f"mean {r.metric} of {meth} {lv} on {r.dataset}")
            if r.p_value is not None:
                self.evidence.add(r.p_value, f"interaction p-value on {r.dataset}", "p_value")
        wt.add_evidence(self.evidence, self.condition_records(), self.efficiency)
        # perturbed test sets a standing requirement added beside another design: their
        # scores are printed by the robustness sentence (writing_requirements)
        wt.add_evidence(self.evidence, wt.perturbed_records(self.condition_metrics), [])
        if self.design.kind == "capacity":  # the capacity answer prints its tolerance and sizes
            self.evidence.add(self.tolerance, "tolerance the question names")
            for a in self.capacity_answers():
                for k in ("size_ref", "size_level", "value", "ref"):
                    if a[k] is not None:
                        self.evidence.add(a[k], f"capacity answer {k} on {a['dataset']}")
        for lv in self.design.levels:  # "25% of the training split", "noise (level 0.5)": configuration
            for num, pct in re.findall(r"(\d+(?:\.\d+)?)(\s*%)?", lv):
                # "25%" traces as the share 0.25 only: a bare 25 ("a factor of 25") must not
                self.evidence.add(float(num) / 100 if pct else float(num), f"design level: {lv}")

    @property
    def claim_facts(self) -> str:
        """What the project itself states (the researcher's topic and the catalog cards; not
        model output): a venue, award or date may be claimed only if it is here or in a reference."""
        t = self.topic
        return " ".join([t.problem_statement, t.background, t.extra_context, *t.user_requirements,
                         *(f"{c.name} {c.source} {c.license} {c.description} {c.size}" for c in self.cards)])

    @property
    def primary_means(self) -> dict[str, dict[str, float]]:
        """dataset -> method -> mean of the primary metric (claims.comparison_reason checks against it)."""
        return primary_means(self.metrics, self.primary)

    # ------------------------------------------------------------------ conditions and costs
    @property
    def primary(self) -> str:
        have = list(dict.fromkeys(m.metric for m in self.metrics))
        return self.blueprint.primary_metric if self.blueprint.primary_metric in have else (have or [""])[0]

    def condition_records(self) -> list[MetricRecord]:
        return wt.condition_records(self.metrics, self.condition_metrics, self.design.kind, self.primary,
                                    self.efficiency)

    @property
    def tolerance(self) -> float:
        return wt.tolerance(self.topic.problem_statement, self.primary)

    def capacity_answers(self) -> list[dict]:
        if self.design.kind != "capacity":
            return []
        return wt.capacity_answers(self.metrics, self.condition_metrics, self.efficiency, self.primary,
                                   self.tolerance)

    def condition_table(self) -> str:
        recs = self.condition_records()
        if not recs:
            return ""
        what = {"scaling": "a model trained on a share of the training split (learning curve)",
                "capacity": f"{escape_latex(wt.capacity_base(self.condition_metrics))} with all features and "
                            f"refitted at each {escape_latex(self.design.factor.removeprefix('number of '))} "
                            "level, with its model size (kB) and fit time (s)",
                }.get(self.design.kind, "the clean and each perturbed test set")
        n = len({m.seed for m in recs})
        order = (list(dict.fromkeys(m.method for m in recs)) if self.design.kind == "capacity"  # level order
                 else [self.method, *self.baselines])
        return results_table(recs, label="tab:conditions", method_order=order,
                             keep_column_order=True, caption=(
            f"{escape_latex(self.primary)} per method for {what}: mean $\\pm$ standard deviation over "
            f"{n} seed{'s' if n != 1 else ''}; best mean per column in bold."))

    def condition_sentences(self) -> list[str]:
        out = wt.condition_sentences(self.metrics, self.condition_metrics, self.design.kind, self.primary)
        out += wt.capacity_sentences(self.capacity_answers(), self.primary, self.tolerance)
        return out + (["Table~\\ref{tab:conditions} gives every condition."] if out else [])

    def wants_efficiency(self) -> bool:
        """An efficiency table in the results when the question is about time, cost or
        memory (a standing requirement for one is enforced in finalize, and recorded so)."""

        said = re.search(r"\b(?:training[- ]time|time|cost|memory|efficien\w*|faster|slower|speed)\b",
                          self.topic.problem_statement, re.I)
        return bool(self.efficiency) and bool(said)

    def efficiency_table(self) -> str:
        return wt.efficiency_table(self.efficiency, [self.method, *self.baselines])

    def efficiency_sentence(self) -> str:
        return wt.efficiency_sentence(self.efficiency)

    @property
    def design(self):
        return self.blueprint.design or derive_design(self.topic)

    # ------------------------------------------------------------------ sources
    @property
    def keys(self) -> list[str]:
        return [bib_key(p.id) for p in self.papers]

    def sources_prompt(self) -> str:
        return "\n".join(f"[{i}] {p.title} ({p.year or 'n.d.'})" for i, p in enumerate(self.papers, 1))

    # ------------------------------------------------------------------ facts
    @property
    def method(self) -> str:
        return self.blueprint.proposed_method.name

    @property
    def datasets(self) -> list[str]:
        """The datasets the experiment actually reported on (blueprint order); the planned
        ones when there are no metrics yet."""
        planned = [d.name for d in self.blueprint.datasets]
        ran = {m.dataset for m in self.metrics}
        used = [d for d in planned if d in ran] + sorted(ran - set(planned))
        return used or planned

    @property
    def datasets_not_run(self) -> list[str]:
        ran = {m.dataset for m in self.metrics}
        return [d.name for d in self.blueprint.datasets if ran and d.name not in ran]

    @property
    def baselines(self) -> list[str]:
        return [b.name for b in self.blueprint.baselines]

    def code_provenance(self) -> list[str]:
        """What code actually ran (experiment/code/coding_notes.json, experiment/tree.json):
        the coding mode, who wrote the method, any fallback, the code search's selection."""
        n = read_coding_notes(self.workspace_root)
        if not n:
            return []
        root = Path(self.workspace_root) / "experiment"
        who = {"llm_files": f"written entirely by the coding model ({n.get('model') or 'configured model'})",
               "llm_code": "the coding model's method module inside the scaffold's fixed harness",
               "llm": "a scaffold model family chosen by the coding model",
               "default": "the scaffold's default model family"}.get(n.get("method_source", ""),
                                                                      "the scaffold's default model family")
        if n.get("method_family") and n.get("method_source") in ("llm", "default"):
            who += f" ({n['method_family'].replace('_', ' ')})"
        out = [f"The experiment code ran in {n.get('mode', 'seeded')} mode: {who}."]
        if n.get("fallback"):
            out.append(f"Fallback: {n['fallback']}.")
        tree = A.TREE.at(root)
        if tree.is_file():
            t = json.loads(tree.read_text())
            good = sum(1 for x in t.get("nodes", []) if x.get("status") == "good")
            out.append(f"The code was selected from {len(t.get('nodes', []))} code-search node(s) "
                       f"({good} working) by validation {t.get('primary_metric')}, never by test scores.")
        return out

    def comparison_facts(self) -> list[str]:
        out = []
        for c in self.analysis.comparisons:
            p = f", p-value {c.p_value:.3g}" if c.p_value is not None else ""
            out.append(f"On {c.dataset}, {c.method} has mean {c.metric} {c.mean:.3f} (std {c.std:.3f}) "
                       f"versus {c.baseline_mean:.3f} for {c.baseline}, a difference of {c.delta:+.3f}"
                       f" over {c.n_seeds} seeds{p}.")
        return out

    def facts(self, section: str) -> str:
        bp, hy = self.blueprint, self.hypothesis
        base = [f"Research question: {self.topic.problem_statement}", f"Hypothesis: {hy.statement}"]
        per = {
            "introduction": [f"Motivation: {hy.motivation}" if hy.motivation else "",
                             f"We compare {self.method} with {human_list(self.baselines)} on "
                             f"{human_list(self.datasets)}.", self._outcome_fact()],
            "related_work": [f"Background: {self.topic.background}" if self.topic.background else ""],
            "method": [f"Proposed method {self.method}: {bp.proposed_method.description}",
                       *[f"Baseline {b.name}: {b.description}" for b in bp.baselines],
                       *self.code_provenance()],
            "experimental_setup": [f"Datasets: {human_list(self.datasets)}", f"Metrics: {human_list(bp.metrics)}",
                                   f"Seeds: {len(bp.seeds)}", *[f"{c.name}: {c.size}" for c in self.cards if c.size]],
            "results": [*self.ranking_sentences(), *self.comparison_facts(), *self.condition_sentences()[:-1]],
            "limitations": [*self.design.unrealised, f"Only {len(self.datasets)} dataset(s) were used.",
                            *self.code_provenance()[1:2]]
            + ([f"Planned but not run: {human_list(self.datasets_not_run)}."] if self.datasets_not_run else []),
            "conclusion": [self._outcome_fact(), *(self.ranking_sentences()[-1:] or self.comparison_facts()[:1])],
            "abstract": [*self.ranking_sentences()[:2], *self.comparison_facts()[:1]],
        }
        return "\n".join(f"- {f}" for f in [*base, *per.get(section, [])] if f)

    def _outcome_fact(self) -> str:
        if self.ranks:
            return "Outcome: " + ("the best method changes with " if any(r.changed for r in self.ranks)
                                  else "the best method does not change with ") + self.design.factor + "."
        return f"Outcome: the hypothesis is {self.analysis.verdict}."

    # ------------------------------------------------------------------ deterministic text
    def comparison_sentences(self) -> list[str]:
        """One LaTeX sentence per analysis comparison in the metrics the question asks about
        (else the primary one; the table has the rest); every number is an artifact value."""
        out = []
        want = set(self.design.metrics or []) or {self.blueprint.primary_metric}
        for c in [c for c in self.analysis.comparisons if c.metric in want] or self.analysis.comparisons:
            p = f" ($p = {fmt_num(c.p_value, 3).strip('$')}$)" if c.p_value is not None else ""
            out.append(
                f"On {escape_latex(c.dataset)}, {escape_latex(c.method)} reaches a mean "
                f"{escape_latex(c.metric)} of {fmt_num(c.mean)} ($\\pm$ {fmt_num(c.std)}) against "
                f"{fmt_num(c.baseline_mean)} ($\\pm$ {fmt_num(c.baseline_std)}) for "
                f"{escape_latex(c.baseline)}, a difference of {'+' if c.delta >= 0 else '$-$'}"
                f"{fmt_num(abs(c.delta))} over {c.n_seeds} seeds{p}.")
        return out

    def verdict_sentence(self) -> str:
        if self.ranks:  # a factorial design is answered by the ranking change (headline), not a verdict
            return ""
        words = {"supported": "The results support the hypothesis",
                 "refuted": "The results do not support the hypothesis",
                 "inconclusive": "The results are inconclusive with respect to the hypothesis"}
        return f"{words[self.analysis.verdict]}."

    def cite_sentence(self, p: LiteratureRecord) -> str:
        names = [escape_latex(a.split()[-1]) for a in p.authors if a.split()]
        if len(names) > 2:
            who, verb = names[0] + " et~al.", "study"
        elif len(names) == 2:
            who, verb = f"{names[0]} and {names[1]}", "study"
        else:
            who, verb = (names[0] if names else "Prior work"), "studies"
        key, title = bib_key(p.id), escape_latex(p.title.rstrip("."))
        return f"{who} \\citep{{{key}}} {verb} {title}."

    def setup_details(self) -> str:
        bp = self.blueprint
        sizes = [f"{escape_latex(c.name)} ({escape_latex(c.size)})" for c in self.cards
                 if c.size and c.name in self.datasets]
        data = human_list(sizes) if sizes else human_list([escape_latex(d) for d in self.datasets])
        n_seeds = len({m.seed for m in self.metrics}) or len(bp.seeds)
        d = self.design
        if d.kind == "factorial":
            return (f"We evaluate on {data}. The design crosses {_plural(len(d.methods), 'classifier')} with "
                    f"{_plural(len(d.levels), 'preprocessing condition')}, for {len(d.arms)} configurations; "
                    f"we report {human_list([escape_latex(m) for m in bp.metrics])} on the test split, "
                    f"each configuration repeated with {n_seeds} random seeds.")
        return (f"We evaluate on {data}. We compare {escape_latex(self.method)} with "
                f"{human_list([escape_latex(b) for b in self.baselines])}, report "
                f"{human_list([escape_latex(m) for m in bp.metrics])} on the test split, and repeat every "
                f"run with {n_seeds} random seeds." + self.condition_setup())

    def _classification(self) -> bool:
        tasks = {c.task for c in self.cards if c.name in self.datasets}
        return "classification" in tasks or (not tasks and self.primary not in ("rmse", "mae", "r2", "mase", "smape"))

    def condition_setup(self) -> str:
        """How the scaling / robustness conditions were run (only those that ran)."""
        d, e = self.design, escape_latex
        ran = {m.split for m in self.condition_metrics}
        if d.kind == "scaling" and ran:
            shares = [lv.split(" of ")[0] for lv in d.levels if not lv.startswith("100%")]
            return (f" For the learning curve, every method is also trained on {human_list([e(x) for x in shares])} "
                    "of the training split (seeded subsets" + (", stratified by class" if self._classification() else "")
                    + ") and scored on the same test set.")
        if d.kind == "capacity" and ran:
            base = e(wt.capacity_base(self.condition_metrics))
            levels = [lv for lv in d.levels if "whitened" not in lv]
            white = " (each also with whitened components, scaled to unit variance)" if len(levels) < len(d.levels) else ""
            return (f" For the capacity curve, {base} is refitted on the same splits and seeds with "
                    f"{human_list([e(x) for x in levels])}{white}; its model size is the pickled size of the "
                    "fitted model and its feature extractor.")
        if d.kind == "robustness" and ran:
            return (" For robustness, every trained model is also scored on perturbed copies of the test "
                    f"features: {human_list([e(x) for x in d.levels[1:]])}; Gaussian noise has a standard "
                    "deviation of the level times each feature's standard deviation on the training split, "
                    "and a named modality limits the noise to that modality's features.")
        return ""

    # ------------------------------------------------------------------ design-aware text
    def effects(self) -> list[tuple[str, str, float, float]]:
        """(dataset, method, mean without, mean with) per method of a two-level factorial
        whose question asks for the factor's effect on each method."""
        if not asks_effect(self.topic.problem_statement):
            return []
        out = []
        for r in self.ranks:
            lo, hi = dict(r.order[r.levels[0]]), dict(r.order[r.levels[-1]])
            out += [(r.dataset, m, lo[m], hi[m]) for m in self.design.methods if m in lo and m in hi]
        return out

    def effect_sentences(self) -> list[str]:
        e, low = escape_latex, self.primary in ("rmse", "mae", "mse", "mape", "smape", "mase")
        out = []
        for ds in dict.fromkeys(x[0] for x in self.effects()):
            parts = [f"{'raises' if (b > a) != low else 'lowers' if b != a else 'leaves'} the mean {e(self.primary)} "
                     f"of {e(m)} {'from ' + fmt_num(a) + ' to ' + fmt_num(b) if b != a else 'at ' + fmt_num(a)}"
                     for d, m, a, b in self.effects() if d == ds]
            out.append(f"On {e(ds)}, {e(self.design.levels[-1].removeprefix('with '))} {human_list(parts)}.")
        return out

    def ranking_sentences(self) -> list[str]:
        """Factorial results: ranking per condition, whether the best changes, significance
        (after the factor's effect on each method, when that is what the question asks)."""
        e, out = escape_latex, list(self.effect_sentences())
        for r in self.ranks:
            for lv in r.levels:
                order = ", then ".join(f"{e(m)} ({fmt_num(v)})" for m, v in r.order[lv])
                out.append(f"On {e(r.dataset)} {e(lv)}, the ranking by mean {e(r.metric)} is {order}.")
            best = [r.order[lv][0][0] for lv in r.levels]
            p = (f" (interaction of the two leading methods with the condition: paired t-test over "
                 f"{r.n_seeds} seeds, $p = {fmt_num(r.p_value, 3).strip('$')}$)") if r.p_value is not None else ""
            if len(r.levels) == 2:
                out.append(f"The best method {'changes from ' + e(best[0]) + ' to ' + e(best[-1]) if r.changed else 'stays ' + e(best[0])}"
                           f" when {e(self.design.factor)} is applied{p}.")
                continue
            # several interventions: each against the untreated condition (the test is the last one's)
            for i, lv in enumerate(r.levels[1:], 1):
                head = e(lv[:1].upper() + lv[1:])
                change = (f"changes from {e(best[0])} ({e(r.levels[0])}) to {e(best[i])}" if best[i] != best[0]
                          else f"stays {e(best[0])}, as {e(r.levels[0])}")
                out.append(f"{head}, the best method {change}" + (p if i == len(r.levels) - 1 else "") + ".")
        return out

    def design_sentence(self) -> str:
        d, e = self.design, escape_latex
        data = human_list([e(x) for x in self.datasets])
        if d.kind == "factorial":
            if len(d.levels) > 2:
                return (f"We run each of {human_list([e(m) for m in d.methods])} in every condition "
                        f"({human_list([e(x) for x in d.levels])}) on {data}, and compare the rankings "
                        "across conditions.")
            return (f"We run each of {human_list([e(m) for m in d.methods])} {e(d.levels[0])} and "
                    f"{e(d.levels[-1])} on {data}, and compare the rankings of the two conditions.")
        extra = ""
        if d.kind == "scaling" and self.condition_metrics:
            extra = (" To trace a learning curve, every method is also trained on "
                     f"{human_list([e(x.split(' of ')[0]) for x in d.levels if not x.startswith('100%')])} "
                     "of its training data.")
        elif d.kind == "capacity" and self.condition_metrics:
            extra = (f" To answer it, {e(wt.capacity_base(self.condition_metrics))} is also refitted at "
                     f"{len(d.levels)} levels of the {e(d.factor.removeprefix('number of '))} axis.")
        elif d.kind == "robustness" and self.condition_metrics:
            extra = " Every trained model is also scored on perturbed copies of the test set."
        return (f"We compare {e(self.method)} with {human_list([e(b) for b in self.baselines])} on {data}.{extra}")

    def related_paragraph(self) -> str:
        """One sentence per theme of cited work: what the group does, how this study differs;
        says so when the library has too little."""
        c, e = self.related_counts, escape_latex
        if not self.papers:
            return (f"The offline library returned {_plural(c.get('retrieved', 0), 'record')} for this "
                    "question, none close enough to the question and methods to cite; we therefore "
                    "do not survey related work here.")
        differ = {"factorial": f"whereas this study measures whether {e(self.design.factor)} changes "
                               "the ranking of the methods it compares",
                  "scaling": "whereas this study measures how the gap between the methods changes with "
                             "the amount of training data",
                  "robustness": "whereas this study measures how the methods hold up on perturbed test sets",
                  "capacity": f"whereas this study measures how the score changes with the {e(self.design.factor)}",
                  }.get(self.design.kind if self.design.kind == "factorial" or self.condition_metrics else "",
                        "whereas this study runs a controlled comparison of "
                        f"{e(self.method)} against the baselines on the same data")
        out = []
        for _, stem, recs in themes(self.papers):
            keys = ",".join(bib_key(r.id) for r in recs)
            out.append(f"Prior work \\citep{{{keys}}} has set out to {stem}, {differ}.")
        if c.get("cited", 0) < 3:
            out.append("Little closely related work was found in the offline library.")
        return " ".join(out)

    def method_text(self) -> str:
        d, e = self.design, escape_latex
        if d.kind == "factorial":
            what = {"standardisation": "on features rescaled to zero mean and unit variance",
                    "quantile transformation": "on features mapped through their empirical quantiles to a "
                                               "standard normal distribution"}
            if d.factor == "shift augmentation":
                return (f"Each classifier ({human_list([e(m) for m in d.methods])}) is trained in two conditions: "
                        "on the training images as they are (without shift augmentation), and on the training "
                        "images plus a copy of each shifted by one pixel up, down, left and right, with zeros "
                        "shifted in (with shift augmentation); test images are never shifted. Hyperparameters "
                        "are the same in both conditions, so a difference between them is due to the "
                        "augmentation alone.")
            conds = [f"{'on the raw features' if lv.startswith('without') else what.get(lv[5:], e(lv))} ({e(lv)})"
                     for lv in d.levels]
            return (f"Each classifier ({human_list([e(m) for m in d.methods])}) is trained in "
                    f"{ {2: 'two', 3: 'three', 4: 'four'}.get(len(d.levels), len(d.levels))} conditions: "
                    f"{human_list(conds)}; every transformation is "
                    "estimated on the training split only. Hyperparameters are the same in every condition, so "
                    "a difference between conditions is due to the preprocessing alone.")
        desc = self.blueprint.proposed_method.description
        own = desc if desc and desc.strip() != self.hypothesis.statement.strip() else ""
        return (f"The proposed method, {e(self.method)}, " + (f"works as follows: {e(own.rstrip('.'))}. " if own
                else "is evaluated against the baselines under identical splits and seeds. ")
                + " ".join(f"The baseline {e(b.name)}: {e(b.description.rstrip('.'))}."
                           for b in self.blueprint.baselines if b.description)
                + self.technique_text())

    def technique_text(self) -> str:
        """What each arm that names a technique runs (the harness applies it by the same
        rule, and paper_quality's design check verifies it in the run config)."""
        from nanoresearch.scaffolds import techniques

        from nanoresearch.datasets import feature_blocks
        from nanoresearch.scaffolds.build import named_blocks

        blocks = feature_blocks(self.datasets)
        ran = {m.method for m in self.metrics}
        out = []
        for arm in dict.fromkeys([self.method, *(b.name for b in self.blueprint.baselines)]):
            said = techniques.describe(arm) if arm in ran else []
            cols = named_blocks(arm, blocks) if arm in ran else []
            if cols:
                n = sum(blocks[b][1] - blocks[b][0] for b in cols)
                said.append(f"only the {human_list(cols)} ({n} features) are used")
            if said:
                out.append(f" In {escape_latex(arm)}, {'; '.join(escape_latex(c) for c in said)}.")
        return "".join(out)

    def title_ok(self, title: str) -> bool:
        """A title may name only methods that ran."""
        bp = self.blueprint
        ran = " | ".join({m.method for m in self.metrics} | {self.method, bp.proposed_method.description})
        return set(named_methods(title)) <= set(named_methods(ran))

    def default_title(self) -> str:
        d, e = self.design, escape_latex
        data = human_list([e(x.replace("_", " ")) for x in self.datasets])
        if d.kind == "factorial" and asks_effect(self.topic.problem_statement):
            return _title_case(f"Does {e(d.factor)} Improve {human_list([e(m) for m in d.methods])} on {data}?")
        if d.kind == "factorial":
            return _title_case(f"Does {e(d.factor)} Change the Ranking of {human_list([e(m) for m in d.methods])} on {data}?")
        if not title_reason(self.blueprint.title) and not re.search(r"\d", self.blueprint.title):
            return e(self.blueprint.title)
        # the planner's title is unusable (a small model repeats itself, or it carries a
        # number no run backs, cv_02's "8x8" blocked its PDF): what ran, on what
        ran = list(dict.fromkeys(m.method for m in self.metrics if m.method != self.method))
        rivals = [b.name for b in self.blueprint.baselines if b.name in ran] or ran
        versus = f" versus {human_list([e(r) for r in rivals[:3]])}" if rivals else ""
        # a long method name (tab_01's 'Adapting the idea of "iLTM" to ...') makes a run-on
        # title: then the methods that ran, then the method alone, then its first 20 words
        tries = [f"{e(self.method)}{versus} on {data}",
                 *([f"{human_list([e(r) for r in rivals[:3]])} on {data}"] if rivals and len(self.method.split()) > 6
                   else [f"{human_list([e(r) for r in [self.method, *rivals][:4]])} on {data}"] if rivals else []),
                 f"{e(self.method)} on {data}"]
        for t in tries:
            if not title_reason(_title_case(t)):
                return _title_case(t)
        return _title_case(" ".join(tries[-1].split()[:20]))

    def headline(self, where: str) -> str:
        """The answer in one sentence, worded per place so no sentence is printed twice."""
        e = escape_latex
        for a in self.capacity_answers()[:1]:
            axis = e(self.design.factor.removeprefix("number of "))
            lead = "We find that" if where == "abstract" else "In answer to the question:"
            if a["within"]:
                return (f"{lead} {e(a['level'])} keep the mean {e(self.primary)} of {e(a['base'])} on {e(a['dataset'])} "
                        f"within {self.tolerance:g} of its score with all features.")
            return (f"{lead} no number of {axis} run keeps the mean {e(self.primary)} of {e(a['base'])} on "
                    f"{e(a['dataset'])} within {self.tolerance:g} of its score with all features.")
        gap = wt.condition_gap(self.metrics, self.condition_metrics, self.design.kind, self.primary)
        if gap:
            ds, a, b, g_ref, g_hard, hard = gap
            ref = "all training data" if self.design.kind == "scaling" else "the clean test set"
            if where == "abstract":
                return (f"We find that the gap in mean {e(self.primary)} between {e(a)} and {e(b)} on {e(ds)} "
                        f"is {g_ref:.3f} on {ref} and {g_hard:.3f} with {e(hard)}.")
            return (f"In answer to the question: with {e(hard)}, {e(a)} and {e(b)} differ by {g_hard:.3f} in mean "
                    f"{e(self.primary)} on {e(ds)}, against {g_ref:.3f} on {ref}.")
        for ds in list(dict.fromkeys(x[0] for x in self.effects()))[:1]:
            low = self.primary in ("rmse", "mae", "mse", "mape", "smape", "mase")
            eff = [(m, (b < a) if low else (b > a)) for d, m, a, b in self.effects() if d == ds]
            helped, rest = [e(m) for m, up in eff if up], [e(m) for m, up in eff if not up]
            what = ((f"improves {human_list(helped)}" + (f" but not {human_list(rest)}" if rest else ""))
                    if helped else f"improves none of {human_list(rest)}")
            if where == "abstract":
                return f"We find that {e(self.design.factor)} {what} in mean {e(self.primary)} on {e(ds)}."
            return f"In answer to the question: on {e(ds)}, {e(self.design.factor)} {what}."
        for r in self.ranks[:1]:
            best = [r.order[lv][0][0] for lv in r.levels]
            if where == "abstract":
                return (f"We find that {e(self.design.factor)} {'changes' if r.changed else 'does not change'} "
                        f"which method is best on {e(r.dataset)}.")
            return (f"In answer to the question: on {e(r.dataset)}, "
                    + (f"{e(self.design.factor)} moves the best method from {e(best[0])} to {e(best[-1])}."
                       if r.changed else f"{e(best[0])} remains the best method with and without {e(self.design.factor)}."))
        for c in self.analysis.comparisons[:1]:
            better = (c.delta >= 0) != (c.metric in ("rmse", "mae", "mse", "mape", "smape", "mase"))
            verb = "ahead of" if better else "behind"
            lead = "We find" if where == "abstract" else "In answer to the question, we find"
            return (f"{lead} {e(c.method)} {verb} {e(c.baseline)} on {e(c.dataset)} in {e(c.metric)} "
                    f"by {fmt_num(abs(c.delta))}.")
        return "No run produced a result to compare." if where == "abstract" else \
            "The experiment produced no comparison to answer the question with."

    def fallback(self, section: str) -> str:
        """A paragraph built only from the artifacts, for when the model's text is unusable."""
        hy = self.hypothesis
        e = escape_latex
        texts = {
            "abstract": f"We study {e(_question(self.topic.problem_statement))} {self.design_sentence()} "
                        + self.headline("abstract"),
            # with its background, so the question is not the abstract's sentence again
            "introduction": (f"{e(self.topic.background.strip().rstrip('.'))}; this paper therefore studies "
                             if self.topic.background.strip() else "This paper studies ")
                            + f"{e(_question(self.topic.problem_statement))} "
                            + (f"{e(hy.motivation.rstrip('.'))}. " if hy.motivation and not _restates(
                                hy.motivation, self.topic.background) else "")
                            + f"We test the hypothesis that {e(_lc_first(hy.statement.rstrip('.')))}.",
            "related_work": self.related_paragraph(),
            "method": self.method_text() + " " + " ".join(e(x) for x in self.code_provenance()),
            "experimental_setup": self.setup_details(),
            "results": " ".join([*(self.ranking_sentences() or self.comparison_sentences()),
                                 *self.condition_sentences()]) + " " + self.verdict_sentence(),
            "limitations": f"The study covers {_plural(len(self.datasets), 'dataset')} and a small compute budget, so "
                           "the conclusions may not transfer to larger data or models. "
                           + " ".join(e(n.rstrip(".")) + "." for n in self.design.unrealised)
                           + (f" Planned datasets that did not run: {human_list([e(x) for x in self.datasets_not_run])}."
                              if self.datasets_not_run else ""),
            "conclusion": self.headline("conclusion") + " Future work should extend the evaluation to more datasets "
                          "and preprocessing choices.",
        }
        return texts[section].strip()


def _restates(text: str, background: str) -> bool:
    """A hypothesis motivation that is the topic background again (mm_02's introduction
    said "Late fusion averages per-modality probabilities; ..." twice)."""
    norm = lambda x: " ".join(re.findall(r"[a-z0-9]+", x.lower()))  # noqa: E731
    first = norm(re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0])
    return bool(first) and first in norm(background)

