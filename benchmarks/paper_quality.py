"""Paper quality over the benchmark tasks: does each paper answer its question, cite only
related work, and say each thing once, with no filler, no internal text and complete
references? Counts per paper, a table, then one JSON line.

    # run the tasks (written as researchers write them: display-name domains, module-path
    # datasets) through the CLI on the embedded model, then measure each paper
    python -m benchmarks.paper_quality --tasks tab_03,ts_01 --data-dir /tmp/pq
    # measure projects that already ran (no model calls)
    python -m benchmarks.paper_quality --measure-only --data-dir /tmp/pq

A task whose project already finished (writing/result.json exists) is not run again
(`--rerun` forces it), so an interrupted sweep resumes where it stopped; each measured
row is appended to <data-dir>/paper_quality.jsonl and the summary written to
<data-dir>/paper_quality.json.

The full cycle on the embedded model takes minutes per task on 2 cores; `--fast` sets
`budgets.review_rounds=0` (no revision rounds: the first draft is what is measured, and
revision only rewrites sections through the same gates).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from actors.planning_design import design_issues, named_methods
from actors.writing_related import THRESHOLD, complete_reference, score_records, study_groups
from nanoresearch import artifacts as A
from nanoresearch.datasets import feature_blocks, get_catalog
from nanoresearch.latex import cited_keys
from nanoresearch.latex.bib import bib_key
from nanoresearch.latex.claims import claim_reason, comparison_reason, primary_means
from nanoresearch.latex.prose import filler_reason, leak_reason, repeated_sentences, split_sentences, title_reason
from nanoresearch.latex.tables import lower_is_better
from nanoresearch.scaffolds import techniques
from nanoresearch.scaffolds.build import named_blocks
from nanoresearch.types import (CodingNotes, IdeationResult, PlanningResult, ResearchTopic, RunsRecord,
                                RunStatus, WritingResult)

TASKS = Path(__file__).parent / "tasks"
DISPLAY = {"timeseries": "Time Series", "graph": "Graph ML", "cv": "CV", "nlp": "NLP",
           "tabular": "Tabular", "audio": "Audio", "multimodal": "Multimodal"}
COLUMNS = ("design", "title", "cited_rel", "cited", "repeated", "filler", "leaks", "claims", "incomplete_refs",
           "pdf")


def as_researcher_writes(task: dict) -> dict:
    """The task with a display-name domain and module-path datasets."""
    cat = get_catalog()
    refs = [cat[d].source.split(" (")[0] if d in cat and not cat[d].source.startswith("sklearn") else d
            for d in task["datasets"]]
    return dict(task, domain=DISPLAY.get(task["domain"], task["domain"]), datasets=refs)


def run_task(qid: str, data_dir: Path, fast: bool, overrides: list[str] = ()) -> int:
    task = as_researcher_writes(json.loads((TASKS / f"{qid}.json").read_text()))
    path = data_dir / "tasks" / f"{qid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(task, indent=1))
    cmd = [sys.executable, "-m", "nanoresearch_cli", "run", "--no-ray", "--task", str(path), "--project", qid]
    if (data_dir / "projects" / qid / A.PROJECT.path).exists():  # interrupted: continue from its last step
        cmd = [sys.executable, "-m", "nanoresearch_cli", "resume", "--no-ray", qid]
    cmd += ["--set", "budgets.review_rounds=0"] if fast else []
    for kv in overrides:  # e.g. providers.embedded_engine=transformers
        cmd += ["--set", kv]
    env = dict(os.environ, NANORESEARCH_HOME=str(data_dir))
    with open(data_dir / f"{qid}.log", "a") as log:
        return subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def _body(paper: Path) -> tuple[str, list[str]]:
    """(abstract, section bodies) of the paper as compiled, the provenance appendix excluded."""
    tex = A.read_path(A.PAPER_TEX.at(paper), A.PAPER_TEX) or ""
    m = re.search(r"\\begin\{abstract\}(.*?)\\end\{abstract\}", tex, re.S)
    secs = [p.read_text().split("\n", 1)[-1] for p in sorted((paper / "sections").glob("*.tex"))
            if p.stem != "provenance"]
    return (m.group(1) if m else ""), secs


def measure(project: Path, topic: ResearchTopic) -> dict:
    paper = project / "writing"
    row: dict = {"task": project.name}
    plan: PlanningResult | None = A.read(project, A.PLANNING)
    bp = plan.blueprint if plan else None
    ran = _ran_methods(project)
    issues = design_issues(bp, topic) if bp else ["no blueprint"]
    if bp and bp.design and bp.design.kind == "factorial":
        issues += [f"arm {a!r} did not run" for a in bp.design.arms if a not in ran]
    if bp and bp.design and bp.design.unrealised:  # stated in the paper's limitations, but not answered
        issues += [f"unrealised: {u}" for u in bp.design.unrealised]
    if bp and bp.design and bp.design.kind in ("scaling", "robustness", "capacity") and not bp.design.unrealised:
        want = {"scaling": "train_fraction=", "capacity": "capacity:"}.get(bp.design.kind, "perturbed:")
        if not any(sp.startswith(want) for sp in _ran_splits(project)):
            issues.append(f"the {bp.design.kind} conditions ({want}...) did not run")
    issues += _arm_issues(project, bp, ran) if bp else []
    row["design"], row["design_issues"] = not issues, issues
    abstract, secs = _body(paper)
    texts = [abstract, *secs]
    sentences = [s for t in texts for s in split_sentences(re.sub(r"\\begin\{(table|figure)\*?\}.*?\\end\{\1\*?\}", " ", t, flags=re.S))]
    row["repeated"] = len(repeated_sentences(texts))
    row["filler"] = sum(bool(filler_reason(s)) for s in sentences)
    row["leaks"] = sum(bool(leak_reason(s)) for s in sentences)
    ide = project / A.IDEATION.path
    papers = IdeationResult.model_validate_json(ide.read_text()).papers if ide.exists() else []
    means, metric = _primary_means(project, bp)
    row["claims"] = sum(bool(claim_reason(s, papers, " ".join([topic.problem_statement, topic.background]))
                             or comparison_reason(s, means, lower_is_better(metric), metric))
                        for s in sentences)
    res: WritingResult | None = A.read(project, A.WRITING)
    row["title_issue"] = title_reason(res.draft.title) if res else "no paper"
    row["title"] = row["title_issue"] is None
    row.update(_citations(project, texts, topic, bp))
    row["pdf"] = A.PAPER_PDF.at(paper).exists()
    return row


def _primary_means(project: Path, bp) -> tuple[dict[str, dict[str, float]], str]:
    """dataset -> method -> mean of the blueprint's primary metric on the test split."""
    rr: RunsRecord | None = A.read(project, A.RUNS)
    metric = bp.primary_metric if bp else ""
    records = [m for r in (rr.runs if rr else []) if r.status == RunStatus.SUCCEEDED for m in r.metrics]
    return primary_means(records, metric), metric


def _ran_splits(project: Path) -> set[str]:
    runs = project / A.RUNS.path
    if not runs.exists():
        return set()
    doc = json.loads(runs.read_text())
    return {m.get("split", "test") for r in doc.get("runs", []) if r.get("status") == "succeeded"
            for m in r.get("metrics", [])}


def _arm_issues(project: Path, bp, ran: set[str]) -> list[str]:
    """Arms that ran without the technique their name states (cv_01's "random Fourier
    features" arm was a plain logistic regression), and named baselines that never ran
    (tab_02's "class-weighted" baseline was merged into the unweighted one)."""
    try:  # the config as it last ran (after any debug patch), beside the coding notes
        cfg = json.loads((project / A.CODING_NOTES.rel()).parent.joinpath("config.json").read_text())
    except (OSError, ValueError):
        cfg = {}
    coding: CodingNotes | None = A.read(project, A.CODING_NOTES)
    notes = " ".join(coding.notes) if coding else ""
    out = []
    blocks = feature_blocks(cfg.get("datasets", []))
    arms = [*cfg.get("baselines", []), *([cfg["method"]] if cfg.get("method") else []), *cfg.get("ablations", [])]
    for spec in arms:
        if spec.get("name") in ran:
            out += [f"arm {spec['name']!r} names {t} but runs without it" for t in techniques.missing(spec)]
            want = sorted(blocks[b] for b in named_blocks(spec["name"], blocks))
            if want and spec.get("columns") != want:  # audio_02's "SVM on cepstrum means" ran on all 48 columns
                out.append(f"arm {spec['name']!r} names feature blocks {named_blocks(spec['name'], blocks)} "
                           "but runs on other columns")
    for b in bp.baselines if cfg else []:
        if b.name not in ran and f"baseline {b.name!r} is the same configuration as" not in notes:
            out.append(f"named baseline {b.name!r} did not run")
    return out


def _ran_methods(project: Path) -> set[str]:
    rr: RunsRecord | None = A.read(project, A.RUNS)
    return {m.method for r in (rr.runs if rr else []) if r.status == RunStatus.SUCCEEDED for m in r.metrics}


def _citations(project: Path, texts: list[str], topic: ResearchTopic, bp) -> dict:
    ide: IdeationResult | None = A.read(project, A.IDEATION)
    papers = ide.papers if ide else []
    by_key = {bib_key(p.id): p for p in papers}
    cited = [by_key[k] for k in dict.fromkeys(k for t in texts for k in cited_keys(t)) if k in by_key]
    methods = bp.design.methods if bp and bp.design else named_methods(topic.problem_statement)
    groups = study_groups(topic.problem_statement, methods, [d.name for d in bp.datasets] if bp else [],
                          bp.design.factor if bp and bp.design else "")
    rel = sum(s.score >= THRESHOLD for s in score_records(groups, cited))
    return {"cited": len(cited), "cited_rel": rel, "incomplete_refs": sum(not complete_reference(p) for p in cited)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=",".join(sorted(p.stem for p in TASKS.glob("*.json"))))
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/paper_quality"))
    ap.add_argument("--measure-only", action="store_true")
    ap.add_argument("--fast", action="store_true", help="no revision rounds (see the docstring)")
    ap.add_argument("--rerun", action="store_true", help="run tasks whose project already finished again")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V",
                    help="a setting for every task's run, e.g. providers.embedded_engine=transformers")
    args = ap.parse_args(argv)
    rows = []
    args.data_dir.mkdir(parents=True, exist_ok=True)
    for qid in [t for t in args.tasks.split(",") if t]:
        project = args.data_dir / "projects" / qid
        done = (project / A.WRITING.path).exists()
        if args.measure_only or (done and not args.rerun):
            rc = None if args.measure_only else "resumed"
        else:
            rc = run_task(qid, args.data_dir, args.fast, args.overrides)
        topic = ResearchTopic.model_validate_json((TASKS / f"{qid}.json").read_text())
        row = measure(project, topic) if project.exists() else {"task": qid, "design": False,
                                                                   "design_issues": ["no project"]}
        row["rc"] = rc
        rows.append(row)
        with open(args.data_dir / "paper_quality.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
    print(" | ".join(["task", *COLUMNS, "rc"]))
    for r in rows:
        print(" | ".join(str(r.get(c, "-")) for c in ["task", *COLUMNS, "rc"]))
    total = {c: sum(int(r.get(c) or 0) for r in rows) for c in COLUMNS}
    summary = {"benchmark": "paper_quality", "tasks": len(rows), **total,
               "design_failures": {r["task"]: r["design_issues"] for r in rows if not r["design"]}}
    (args.data_dir / "paper_quality.json").write_text(json.dumps({**summary, "rows": rows}, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
