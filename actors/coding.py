"""Coding agent: blueprint + coding plan -> a self-contained experiment codebase.

Modes (chosen from the model's declared capability, nanoresearch/coding/capability.py):
seeded (small models), method (the scaffold keeps data, splits, seeds and evaluation; the
model writes `build_model` in method.py) and free (freeform: the model writes every file
against the harness contract; `draft`/`improve` serve the code tree search). Three modes. Seeded: a per-domain scaffold (nanoresearch/scaffolds, also offered to the
skill bank via `scaffold_skills()`) runs everything; the model only fills the method slot
with a small JSON object, which is validated and replaced by the scaffold default (with
the reason recorded) when unusable. Free-form: a strong model writes every file as JSON
{path: content}; files that do not pass static checks make the agent fall back to the
seeded codebase. Either way the workspace gets data/ (staged), config.json, run.py,
run.sh, job.sbatch and coding_notes.json (every decision taken and why).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml
from pydantic import ValidationError

from actors.coding_free import FreeFormFiles, FreeformWriter
from nanoresearch import artifacts as A
from nanoresearch.datasets import feature_blocks, get_catalog, resolve_name, stage
from nanoresearch.errors import ModelError, StructuredOutputError, UserError
from nanoresearch.execution.workdir import write_files
from nanoresearch.llm.base import LLM
from nanoresearch.llm.structured import extract_json, generate_structured
from nanoresearch.scaffolds import (DOMAIN_SPECS, FREE_IMPORTS, METHOD_IMPORTS, MethodFill, check_code,
                                    default_config, match_baseline, scaffold_files,
                                    scaffold_skills, validate_fill)
from nanoresearch.scaffolds.build import (RUN_SH, ablation_changes, ablation_variants, align_technique_arm,
                                          capacity_base, choose_baselines, design_config, dumps, job_sbatch,
                                          map_metrics, mirror_arms, select_blocks)
from nanoresearch.scaffolds.slots import fill_model, to_fill
from nanoresearch.scaffolds.specs import feature_spec
from nanoresearch.scaffolds.templates.nr_common import FAMILIES
from nanoresearch.types import Blueprint, CodeArtifact, CodingNotes, DatasetCard, Plan, SkillEntry

log = logging.getLogger(__name__)
PROMPTS = yaml.safe_load((Path(__file__).parent / "prompts" / "coding.yaml").read_text())
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
MAX_DATASETS, MAX_SEEDS, MAX_ABLATIONS = 2, 5, 3

__all__ = ["CodingAgent", "FreeFormFiles", "scaffold_skills"]


class CodingAgent:
    """`write(blueprint, plan, skills, workspace_dir) -> CodeArtifact`; `last_notes` keeps
    the decisions of the last call (also written to coding_notes.json)."""

    def __init__(self, llm: LLM, catalog: dict[str, DatasetCard] | None = None,
                 budgets: Any = None, mode: Literal["seeded", "free", "method"] = "seeded",
                 partition: str | None = None, method_code: bool = False,
                 choice: dict[str, str] | None = None):
        self.llm = llm
        self.catalog = catalog or get_catalog()
        self.retries = int(getattr(budgets, "structured_retries", 2))
        self.mode = mode
        self.partition = partition
        # the model writes build_model() in method.py: method mode, or asked explicitly
        self.method_code = method_code or mode == "method"
        # how the mode was chosen ({requested, capability, model, why}): into coding_notes
        self.choice = dict(choice or {"requested": mode, "why": f"mode {mode} given to the agent"})
        self.writer = FreeformWriter(llm, self.retries)
        self.last_notes: dict[str, Any] = {}

    # ------------------------------------------------------------------ entry point
    def write(self, blueprint: Blueprint, plan: Plan | None, skills: list[SkillEntry],
              workspace_dir: Path, mode: Literal["seeded", "free", "method"] | None = None) -> CodeArtifact:
        workspace_dir = Path(workspace_dir)
        notes: list[str] = []
        domain, task, datasets = self._resolve_datasets(blueprint, notes)
        staged = {ds: stage(ds, workspace_dir / "data") for ds in datasets}
        cfg = self._base_config(blueprint, domain, task, datasets, notes)
        chosen = mode = mode or self.mode
        files, source = (self._free(blueprint, plan, skills, cfg, staged, notes) if mode == "free"
                         else (None, ""))
        if files is None:
            mode = "method" if mode == "method" or (mode == "free" and self.method_code) else "seeded"
            files, source = self._seeded(blueprint, plan, skills, cfg, notes)
            if mode == "method" and source != "llm_code":
                mode = "seeded"  # the model's method code was unusable: the family slot ran
        files.setdefault("config.json", dumps(cfg))
        files["run.sh"] = RUN_SH
        budget = blueprint.compute_budget
        files["job.sbatch"] = job_sbatch(f"nr-{blueprint.project_id or 'exp'}", budget.minutes,
                                         budget.memory_mb, self.partition)
        fallback = "" if mode == chosen else (
            f"{chosen} mode was chosen but {mode} ran: " + (notes[-1] if notes else "no usable answer"))
        if fallback:
            log.warning("coding agent: %s", fallback)
        self.last_notes = CodingNotes(
            mode=mode, requested_mode=self.choice.get("requested", chosen),
            capability=self.choice.get("capability", "small"), model=self.choice.get("model", ""),
            why=self.choice.get("why", ""), fallback=fallback, method_source=source,
            method_family="" if mode == "free" else str(cfg.get("method", {}).get("family", "")), domain=domain,
            task=task, datasets=datasets, files=sorted(files), notes=notes,
            ablation_arms={} if mode == "free" else ablation_changes(
                domain, task, cfg["method"], cfg.get("ablations", []), cfg.get("baselines", [])),
        ).model_dump(mode="json")
        files[A.CODING_NOTES.name] = dumps(self.last_notes)
        # a reused work dir may hold links planted by an earlier run: never write through them
        write_files(workspace_dir, files, executable=("run.sh",))
        log.info("coding agent wrote %d files (%s mode, method from %s) to %s", len(files), mode,
                 source, workspace_dir)
        return CodeArtifact(files=files, entrypoint="run.py", mode=mode)

    # ------------------------------------------------------------------ datasets / config
    def _resolve_datasets(self, bp: Blueprint, notes: list[str]) -> tuple[str, str, list[str]]:
        names: list[str] = []
        for spec in bp.datasets:
            try:
                key = resolve_name(spec.name, bp.domain if bp.domain in DOMAIN_SPECS else None)
            except UserError:
                notes.append(f"dataset {spec.name!r} is not in the offline catalog; dropped")
                continue
            if key != spec.name:
                notes.append(f"dataset {spec.name!r} resolved to catalog entry {key!r}")
            names.append(key)
        if not names:
            domain = bp.domain if bp.domain in DOMAIN_SPECS else "tabular"
            names = [DOMAIN_SPECS[domain]["default_dataset"]]
            notes.append(f"no catalog dataset in the blueprint; using {names[0]!r} ({domain})")
        first = self.catalog[names[0]]
        keep = [n for n in dict.fromkeys(names)
                if (self.catalog[n].domain, self.catalog[n].task) == (first.domain, first.task)]
        if len(keep) < len(set(names)):
            notes.append(f"kept datasets of one domain/task ({first.domain}/{first.task}): {keep}")
        if len(keep) > MAX_DATASETS:
            notes.append(f"kept the first {MAX_DATASETS} datasets to stay within the time budget")
        return first.domain, first.task, keep[:MAX_DATASETS]

    def _base_config(self, bp: Blueprint, domain: str, task: str, datasets: list[str],
                     notes: list[str]) -> dict:
        seeds = list(dict.fromkeys(bp.seeds))[:MAX_SEEDS] or [0, 1, 2]
        if len(seeds) < 3:
            notes.append(f"only {len(seeds)} seed(s): no significance test will be possible")
        cfg = default_config(domain, task, datasets, bp.proposed_method.name, seeds)
        cfg["title"] = bp.title
        cfg["metrics"], cfg["primary_metric"] = map_metrics(domain, task, bp.metrics, bp.primary_metric, notes)
        cfg["baselines"] = choose_baselines(domain, task, [b.name for b in bp.baselines if
                                                           b.name != bp.proposed_method.name],
                                            lambda n: match_baseline(domain, task, n), notes)
        if bp.design is not None:  # learning curves / perturbed test sets / capacity levels the question asks for
            cfg.update(design_config(bp.design.kind, bp.design.levels, domain))
        if cfg.get("capacity"):
            base = capacity_base(cfg["baselines"], [*bp.design.methods, *(b.name for b in bp.baselines)],
                                 lambda n: match_baseline(domain, task, n))
            if base:
                cfg["capacity_base"] = base
            notes.append(f"capacity curve: {base or 'the proposed method'} refitted at "
                         f"{', '.join(c['name'] for c in cfg['capacity'])}")
        if bp.stress_tests:  # a standing robustness requirement: perturbed test sets beside the design
            extra = design_config("robustness", bp.stress_tests, domain).get("test_perturbations", [])
            have = {p["name"] for p in cfg.get("test_perturbations", [])}
            cfg["test_perturbations"] = [*cfg.get("test_perturbations", []),
                                         *(p for p in extra if p["name"] not in have)]
            notes.append(f"perturbed test sets {[p['name'] for p in extra]} (a standing requirement)" if extra else
                         f"the {domain} harness runs no perturbed test sets: {bp.stress_tests} were not run")
        return cfg

    # ------------------------------------------------------------------ seeded mode
    def _seeded(self, bp, plan, skills, cfg, notes) -> tuple[dict[str, str], str]:
        domain, task = cfg["domain"], cfg["task"]
        fill = self._ask_fill(bp, plan, skills, cfg, notes) if self.llm is not None else None
        method, source, fill_notes = validate_fill(domain, task, fill, bp.proposed_method.name)
        notes += fill_notes
        files = scaffold_files(domain)
        if source == "llm_code":
            files["method.py"] = fill.code
        # arms that name feature blocks of the data ("SVM on cepstrum means") run on those columns
        blocks = feature_blocks(cfg["datasets"])
        for b in cfg["baselines"]:
            select_blocks(b, blocks)
        select_blocks(method, blocks)
        if source != "llm_code":  # a technique arm differs from its plain baseline in the technique alone
            method = align_technique_arm(method, cfg["baselines"], domain, task, notes, blocks)
        cfg["method"] = method
        if bp.design is not None and bp.design.kind == "factorial":  # arms differ only in their condition
            cfg["baselines"] = mirror_arms(cfg["baselines"], method, domain, notes)
        n_abl = min(MAX_ABLATIONS, max(1, len(bp.ablations)))
        cfg["ablations"] = ablation_variants(domain, task, method, n_abl, cfg["baselines"])
        if bp.ablations:
            notes.append("blueprint ablations " + ", ".join(repr(a.name) for a in bp.ablations)
                         + " realised as: " + ", ".join(a["name"] for a in cfg["ablations"]))
        files["config.json"] = dumps(cfg)
        return files, source

    def _ask_method(self, bp, plan, skills, cfg, notes) -> MethodFill | None:
        """Method mode: a strong model writes method.py (build_model) for the fixed harness."""
        domain, task = cfg["domain"], cfg["task"]
        prompt = _ENV.from_string(PROMPTS["method"]).render(
            title=bp.title, task=task, datasets=", ".join(cfg["datasets"]), domain=domain,
            method_name=bp.proposed_method.name, method_description=bp.proposed_method.description,
            plan_steps=(plan.steps if plan else [])[:6], skills=_skill_lines(skills, domain),
            minutes=bp.compute_budget.minutes, imports=", ".join(sorted(METHOD_IMPORTS)),
            families=DOMAIN_SPECS[domain]["tasks"][task]["families"])
        msgs = [{"role": "system", "content": PROMPTS["system_method"].strip()},
                {"role": "user", "content": prompt}]
        try:
            fill, _ = generate_structured(self.llm, msgs, MethodFill, retries=self.retries,
                                          max_tokens=4000, add_schema_instruction=False)
            return fill
        except ModelError as e:
            notes.append(f"method module: model output unusable ({e})")
            return None

    def _ask_fill(self, bp, plan, skills, cfg, notes) -> MethodFill | None:
        if self.mode == "method":
            return self._ask_method(bp, plan, skills, cfg, notes)
        domain, task = cfg["domain"], cfg["task"]
        fams = {f: list(FAMILIES.get(f, {}).get("params", {})) for f in DOMAIN_SPECS[domain]["tasks"][task]["families"]}
        default = DOMAIN_SPECS[domain]["tasks"][task]["method"]
        example = {k: default[k] for k in ("family", "params", "steps") if k in default}
        # the example steers small models strongly: show the family the method's own name
        # or description points to, when the scaffold has one
        hint = match_baseline(domain, task, f"{bp.proposed_method.name} {bp.proposed_method.description}")
        if hint and hint != "majority" and hint != example["family"]:
            example.update(family=hint, params={})
        if "features" in default:
            example["features"] = default["features"]
        prompt = _ENV.from_string(PROMPTS["fill"]).render(
            title=bp.title, task=task, datasets=", ".join(cfg["datasets"]), domain=domain,
            method_name=bp.proposed_method.name, method_description=bp.proposed_method.description,
            plan_steps=(plan.steps if plan else [])[:6], skills=_skill_lines(skills, domain),
            families=fams, features=_describe_features(feature_spec(domain, task)),
            example=json.dumps(example))
        msgs = [{"role": "system", "content": PROMPTS["system_fill"].strip()},
                {"role": "user", "content": prompt}]
        # the typed slot model (families as an enum) lets grammar-constrained engines emit only
        # allowed values; the prompt carries an example, so no schema text is appended
        answer_cls = fill_model(domain, task, allow_code=self.method_code)
        try:
            answer, _ = generate_structured(self.llm, msgs, answer_cls, retries=self.retries,
                                            max_tokens=200, add_schema_instruction=False)
            return to_fill(answer)
        except StructuredOutputError as e:
            # not the typed shape; a near miss ("Random Forest") is still read leniently and
            # then normalised by validate_fill
            try:
                fill = MethodFill.model_validate(extract_json(e.last_text))
                fill.code = fill.code if self.method_code else ""
                notes.append("method slot: typed answer invalid, read leniently")
                return fill
            except (ValueError, ValidationError):
                notes.append(f"method slot: model output unusable ({e})")
                return None
        except ModelError as e:
            notes.append(f"method slot: model error ({e})")
            return None

    # ------------------------------------------------------------------ free-form mode
    def _free(self, bp, plan, skills, cfg, staged, notes) -> tuple[dict[str, str] | None, str]:
        cfg.update(method_description=bp.proposed_method.description,
                   ablation_names=[a.name for a in bp.ablations], minutes=bp.compute_budget.minutes,
                   memory_mb=bp.compute_budget.memory_mb)
        out = self.writer.draft(cfg, (plan.steps if plan else []), _skill_lines(skills, cfg["domain"]),
                                next(iter(staged.values())).parent)
        if isinstance(out, str):
            notes.append(f"free-form: {out}; seeded scaffold used instead")
            return None, ""
        files = dict(out.files)
        files["config.json"] = dumps(cfg)
        return files, "llm_files"

    # ------------------------------------------------------------------ code search operators
    def draft(self, workspace_dir: Path, plan_steps: list[str], skills: list[SkillEntry],
              index: int) -> dict | None:
        """Another freeform draft for the tree search: {"files", "summary"} or None."""
        cfg = json.loads((Path(workspace_dir) / "config.json").read_text())
        out = self.writer.draft(cfg, plan_steps, _skill_lines(skills, cfg["domain"]),
                                Path(workspace_dir) / "data", index)
        if isinstance(out, str):
            log.info("draft %d unusable: %s", index, out)
            return None
        return {"files": {**out.files, "config.json": dumps(cfg)}, "summary": out.summary}

    def improve(self, workspace_dir: Path, files: dict[str, str], score: float | None,
                index: int) -> dict | None:
        """An improved version of a working codebase: {"files", "summary"} or None."""
        cfg = json.loads((Path(workspace_dir) / "config.json").read_text())
        out = self.writer.improve(cfg, files, score, Path(workspace_dir) / "data", index)
        if isinstance(out, str):
            log.info("improvement %d unusable: %s", index, out)
            return None
        return {"files": out.files, "summary": out.summary}


def check_free_files(files: dict[str, str]) -> list[str]:
    """Static checks on a free-form codebase before anything runs."""
    problems = []
    if "run.py" not in files:
        problems.append("no run.py entry point")
    for path, content in files.items():
        if path.startswith(("/", "~")) or ".." in Path(path).parts or path.startswith("data/"):
            problems.append(f"path {path!r} must stay inside the work dir (and not overwrite data/)")
        elif path.endswith(".py"):
            problems += [f"{path}: {e}" for e in check_code(content, FREE_IMPORTS)]
    if "run.py" in files and "metrics.json" not in "".join(v for k, v in files.items() if k.endswith(".py")):
        problems.append("no code writes metrics.json")
    return problems


def _skill_lines(skills: list[SkillEntry], domain: str) -> list[str]:
    lines = []
    for s in skills or []:
        if s.domain in (domain, "general"):
            lines += [f"{s.name}: {i}" for i in s.instructions[:2]]
    return lines[:6]


def _describe_features(spec: dict | None) -> str:
    if not spec:
        return ""
    if spec["kind"] == "dict":
        return "a JSON object with keys " + ", ".join(f"{k} ({v})" for k, v in spec["keys"].items())
    if spec["kind"] == "subset":
        return "a list of " + ", ".join(spec["options"])
    return "one of " + ", ".join(json.dumps(o) for o in spec["options"])


def _short_meta(meta: dict) -> dict:
    return {k: (v if not isinstance(v, list) or len(v) <= 12 else v[:12] + ["..."]) for k, v in meta.items()
            if k not in ("files", "node_names", "package_dir")}
