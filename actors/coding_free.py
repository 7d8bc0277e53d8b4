"""Freeform mode of the coding agent: the model writes the whole codebase against the
harness contract (nanoresearch/coding/contract.yaml), as drafts and improvements.

    writer = FreeformWriter(llm, retries=2)
    out = writer.draft(cfg, plan_steps, skill_lines, data_dir, index=0)   # FreeFormFiles | str
    out = writer.improve(cfg, files, val_score, data_dir, index=0)
A draft answer that is not a {"files": {...}} object, or whose paths leave the work dir,
is unusable (the reason comes back as a string). Contract problems inside usable files
(an import that is not installed, no validation record...) are left to the run's checks
and become debug iterations with the exact message.
"""
from __future__ import annotations

import json
from pathlib import Path

import jinja2
import yaml
from pydantic import BaseModel

from nanoresearch.coding.contract import CONTRACT, precheck
from nanoresearch.errors import ModelError
from nanoresearch.llm.base import LLM
from nanoresearch.llm.structured import generate_structured

PROMPTS = yaml.safe_load((Path(__file__).parent / "prompts" / "coding.yaml").read_text())
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
IMPROVE_IDEAS = ("tune the proposed method's most important hyperparameters on the validation split",
                 "improve the proposed method's architecture or features, keeping the evaluation fixed",
                 "regularise the proposed method better (early stopping on validation, weight decay)",
                 "make training more stable and efficient within the time budget")


class FreeFormFiles(BaseModel):
    files: dict[str, str]
    summary: str = ""


def unusable_paths(files: dict[str, str]) -> list[str]:
    """Paths that make a codebase unusable as a whole (not fixable by one patch)."""
    problems = [] if "run.py" in files else ["no run.py entry point"]
    for path in files:
        if path.startswith(("/", "~")) or ".." in Path(path).parts or path.startswith("data/"):
            problems.append(f"path {path!r} must stay inside the work dir (and not overwrite data/)")
    return problems


def data_lines(cfg: dict, data_dir: Path) -> list[dict]:
    out = []
    for ds in cfg["datasets"]:
        doc = json.loads((Path(data_dir) / f"{ds}.json").read_text())
        meta = {k: (v if not isinstance(v, list) or len(v) <= 12 else v[:12] + ["..."])
                for k, v in doc["meta"].items() if k not in ("files", "node_names", "package_dir")}
        out.append({"name": ds, "arrays": doc["arrays"], "meta": meta})
    return out


class FreeformWriter:
    def __init__(self, llm: LLM, retries: int = 2, max_tokens: int = 8000):
        self.llm, self.retries, self.max_tokens = llm, retries, max_tokens

    def contract(self, cfg: dict) -> str:
        return _ENV.from_string(CONTRACT["text"]).render(minutes=cfg.get("minutes", 10),
                                                         memory_mb=cfg.get("memory_mb", 2048))

    def draft(self, cfg: dict, plan_steps: list[str], skills: list[str], data_dir: Path,
              index: int = 0) -> FreeFormFiles | str:
        prompt = _ENV.from_string(PROMPTS["free"]).render(
            title=cfg["title"], domain=cfg["domain"], task=cfg["task"],
            method_name=cfg["method"]["name"], method_description=cfg.get("method_description", ""),
            baselines=", ".join(b["name"] for b in cfg["baselines"]),
            ablations=", ".join(cfg.get("ablation_names", [])) or "none", seeds=cfg["seeds"],
            metrics=", ".join(cfg["metrics"]), primary_metric=cfg["primary_metric"],
            plan_steps=plan_steps[:8], skills=skills, data=data_lines(cfg, data_dir),
            contract=self.contract(cfg), index=index)
        return self._ask(prompt)

    def improve(self, cfg: dict, files: dict[str, str], score: float | None, data_dir: Path,
                index: int = 0) -> FreeFormFiles | str:
        code = "\n\n".join(f"### {p}\n{t}" for p, t in sorted(files.items())
                           if p.endswith(".py"))[:24000]
        prompt = _ENV.from_string(PROMPTS["improve"]).render(
            title=cfg["title"], method_name=cfg["method"]["name"],
            primary_metric=cfg["primary_metric"], score=score, code=code,
            idea=IMPROVE_IDEAS[index % len(IMPROVE_IDEAS)], contract=self.contract(cfg))
        return self._ask(prompt, base=files)

    def _ask(self, prompt: str, base: dict[str, str] | None = None) -> FreeFormFiles | str:
        msgs = [{"role": "system", "content": PROMPTS["system_free"].strip()},
                {"role": "user", "content": prompt}]
        try:
            out, _ = generate_structured(self.llm, msgs, FreeFormFiles, retries=self.retries,
                                         max_tokens=self.max_tokens)
        except ModelError as e:
            return f"model output unusable ({e})"
        files = {**(base or {}), **out.files}  # an improvement may resend only the files it changes
        problems = unusable_paths(files)
        if problems:
            return "files rejected (" + "; ".join(problems + precheck(files))[:600] + ")"
        return FreeFormFiles(files=files, summary=out.summary)
