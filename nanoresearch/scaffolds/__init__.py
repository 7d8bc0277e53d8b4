"""Per-domain experiment scaffolds, kept as skills.

    files = scaffold_files("tabular")        # {"run.py": ..., "nr_common.py": ...}
    cfg = default_config("tabular", "classification", ["wine"], "My method")
    spec, source, notes = validate_fill("tabular", "classification", fill, "My method")
The templates live in `templates/` (plain Python, slots documented in each docstring);
they import only numpy/scipy/sklearn/matplotlib (+statsmodels for ETS) and read only the
staged files in their work dir.
"""
from __future__ import annotations

import copy
from importlib import resources

from nanoresearch.scaffolds.slots import (FREE_IMPORTS, METHOD_IMPORTS, MethodFill, check_code,
                                          validate_fill)
from nanoresearch.scaffolds.specs import BASELINE_KEYWORDS, DOMAIN_SPECS, task_spec
from nanoresearch.types import SkillEntry, SkillStage

__all__ = ["DOMAIN_SPECS", "FREE_IMPORTS", "METHOD_IMPORTS", "MethodFill", "check_code",
           "default_config", "match_baseline", "scaffold_files", "scaffold_skills", "task_spec",
           "validate_fill"]


def _template(name: str) -> str:
    return resources.files("nanoresearch.scaffolds.templates").joinpath(name).read_text()


def scaffold_files(domain: str) -> dict[str, str]:
    if domain not in DOMAIN_SPECS:
        raise KeyError(f"no scaffold for domain {domain!r}; have {sorted(DOMAIN_SPECS)}")
    return {"run.py": _template(DOMAIN_SPECS[domain]["template"]), "nr_common.py": _template("nr_common.py")}


def match_baseline(domain: str, task: str, name: str) -> str | None:
    """Family a blueprint baseline name really corresponds to in this scaffold, or None."""
    allowed = set(task_spec(domain, task)["families"]) | {"majority"}
    low = name.lower()
    for words, family in BASELINE_KEYWORDS:
        if any(w in low for w in words) and family in allowed:
            return family
    return None


def default_config(domain: str, task: str, datasets: list[str], method_name: str,
                   seeds: list[int] | None = None) -> dict:
    spec = task_spec(domain, task)
    method = copy.deepcopy(spec["method"])
    method["name"] = method_name
    return {"domain": domain, "task": task, "datasets": datasets, "seeds": seeds or [0, 1, 2],
            "data_dir": "data", "metrics": list(spec["metrics"]), "primary_metric": spec["metrics"][0],
            "baselines": copy.deepcopy(spec["baselines"]), "method": method, "ablations": []}


def scaffold_skills() -> list[SkillEntry]:
    """One coding skill per domain scaffold, to seed the skill bank."""
    out = []
    for domain, d in DOMAIN_SPECS.items():
        for task, spec in d["tasks"].items():
            out.append(SkillEntry(
                stage=SkillStage.CODING, domain=domain, name=f"seeded scaffold: {domain} {task}",
                trigger=f"{domain} {task} experiment",
                when_to_use=f"writing a {task} experiment on a {domain} dataset from the offline catalog",
                instructions=[
                    f"start from the {d['template']} scaffold; fill only the method slot",
                    f"choose a family from: {', '.join(spec['families'])}",
                    f"baselines: {', '.join(b['name'] for b in spec['baselines'])}",
                    f"report {', '.join(spec['metrics'])} over >= 3 seeds into metrics.json",
                    "keep it single-threaded (OMP_NUM_THREADS=1) and under 60 s",
                ],
                tags=["scaffold", domain, task], scope="global", confidence=0.8,
                id=f"sk-scaffold-{domain}-{task}"))
    return out
