"""Validation of what a model writes into a scaffold's slots.

A model only fills the method slot: a family + hyperparameters + preprocessing steps +
feature options (`MethodFill`), or a short `build_model(seed, params)` function. Every
field is checked against the domain spec; anything invalid falls back to the scaffold
default and the reason is recorded, so a small model can never break the experiment.
"""
from __future__ import annotations

import ast
import copy
import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nanoresearch.scaffolds.specs import feature_spec, task_spec

METHOD_IMPORTS = {"numpy", "scipy", "sklearn", "math", "statistics", "functools", "itertools",
                  "collections", "dataclasses", "typing", "warnings", "torch", "__future__"}
FREE_IMPORTS = METHOD_IMPORTS | {"os", "sys", "json", "time", "pathlib", "random", "csv", "re",
                                 "matplotlib", "pandas", "statsmodels", "networkx", "logging",
                                 "argparse", "nr_common", "copy", "heapq", "io", "gzip"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "breakpoint", "input"}
STEP_NAMES = {"standardize", "minmax", "pca", "pca_whiten", "select_k", "rff"}
STEP_RANGES = {"pca": (1, 256), "pca_whiten": (1, 256), "select_k": (1, 512), "rff": (10, 4000)}
_CLOSED = ConfigDict(extra="forbid")  # additionalProperties: false, so grammars stay closed


class MethodFill(BaseModel):
    """What the coding model writes for the proposed method (small on purpose)."""

    family: str = Field(description="one model family from the allowed list")
    params: dict[str, Any] = Field(default_factory=dict, description="hyperparameters of the family")
    steps: list[Any] = Field(default_factory=list, description='preprocessing, e.g. ["standardize", {"pca": 20}]')
    features: Any = Field(default=None, description="feature options of the domain, or null")
    code: str = Field(default="", description="optional: python defining build_model(seed, params)")


def check_code(code: str, allowed: set[str] = METHOD_IMPORTS, require: str | None = None) -> list[str]:
    """Static checks: parses, imports only allowed top-level modules, no eval/exec."""
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        return [f"syntax error line {e.lineno}: {e.msg}"]
    errors = []
    for node in ast.walk(tree):
        mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
        errors += [f"import {m!r} not allowed" for m in mods if m.split(".")[0] not in allowed]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            errors.append(f"call to {node.func.id}() not allowed")
    if require and not any(isinstance(n, ast.FunctionDef) and n.name == require for n in tree.body):
        errors.append(f"no top-level function {require}()")
    return errors


def _family(domain: str, task: str, raw: str, notes: list[str]) -> str | None:
    families = task_spec(domain, task)["families"]
    key = raw.strip().lower().replace("-", "_").replace(" ", "_")
    if key in families:
        return key
    close = difflib.get_close_matches(key, families, n=1, cutoff=0.75)
    if close:
        notes.append(f"family {raw!r} read as {close[0]!r}")
        return close[0]
    notes.append(f"family {raw!r} is not one of {families}")
    return None


def _steps(raw: list[Any], notes: list[str]) -> list[Any]:
    out: list[Any] = []
    for st in raw:
        name, arg = (st, None) if isinstance(st, str) else next(iter(st.items()), (None, None)) \
            if isinstance(st, dict) else (None, None)
        if name not in STEP_NAMES:
            notes.append(f"step {st!r} dropped (allowed: {sorted(STEP_NAMES)})")
        elif name in STEP_RANGES:
            lo, hi = STEP_RANGES[name]
            n = int(arg) if isinstance(arg, (int, float)) and not isinstance(arg, bool) else 20
            out.append({name: min(max(n, lo), hi)})
        else:
            out.append(name)
    return out


def _features(domain: str, task: str, raw: Any, default: Any, notes: list[str]) -> Any:
    spec = feature_spec(domain, task)
    if spec is None or raw is None:
        return default
    kind = spec["kind"]
    if kind == "choice":
        for opt in spec["options"]:
            if raw == opt:
                return raw
            if isinstance(opt, dict) and raw == next(iter(opt)):  # "rocket" -> {"rocket": default}
                base = default if isinstance(default, dict) and raw in default else {raw: opt[raw][0] * 20}
                return base
            if isinstance(opt, dict) and isinstance(raw, dict) and set(raw) == set(opt):
                k = next(iter(opt))
                lo, hi = opt[k]
                if isinstance(raw[k], (int, float)):
                    return {k: int(min(max(raw[k], lo), hi))}
    elif kind == "subset":
        items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        ok = [x for x in items if x in spec["options"]]
        if ok:
            return ok
    elif kind == "dict" and isinstance(raw, dict):
        out = dict(default or {})
        for k, v in raw.items():
            rule = spec["keys"].get(k)
            if rule == "bool" and isinstance(v, bool):
                out[k] = v
            elif isinstance(rule, list) and (v in rule or (isinstance(v, list) and v and set(v) <= set(rule))):
                out[k] = v
            elif isinstance(rule, tuple) and isinstance(v, (int, float)) and not isinstance(v, bool):
                out[k] = type(rule[0])(min(max(v, rule[0]), rule[1]))
            else:
                notes.append(f"feature option {k}={v!r} ignored")
        return out
    notes.append(f"features {raw!r} invalid for {domain}/{task}; using {default!r}")
    return default


def _family_params(family: str) -> set[str]:
    from nanoresearch.scaffolds.templates.nr_common import FAMILIES

    return set(FAMILIES.get(family, {}).get("params", {}))


def validate_fill(domain: str, task: str, fill: MethodFill | None, name: str) -> tuple[dict, str, list[str]]:
    """-> (method spec, source, notes). source: 'llm', 'llm_code', or 'default' (fallback)."""
    default = copy.deepcopy(task_spec(domain, task)["method"])
    default["name"] = name
    if fill is None:
        return _conditioned(default, name, domain, task), "default", ["no usable model output; scaffold default method"]
    notes: list[str] = []
    if fill.code.strip():
        errs = check_code(fill.code, METHOD_IMPORTS, require="build_model")
        if not errs:
            spec = {"name": name, "family": "custom", "module": "method.py", "params": fill.params,
                    "steps": [], "features": _features(domain, task, fill.features, default.get("features"), notes)}
            return spec, "llm_code", notes
        notes.append("method code rejected: " + "; ".join(errs[:3]))
    family = _family(domain, task, fill.family, notes)
    if family is None:
        return _conditioned(default, name, domain, task), "default", notes + ["fell back to the scaffold default method"]
    known = _family_params(family)
    dropped = sorted(set(fill.params) - known)
    if dropped:
        notes.append(f"params {dropped} do not apply to {family}; dropped")
    spec = {"name": name, "family": family, "params": {k: v for k, v in fill.params.items() if k in known},
            "steps": _steps(fill.steps, notes)}
    feats = _features(domain, task, fill.features, default.get("features"), notes)
    if feats is not None:
        spec["features"] = feats
    return _conditioned(spec, name, domain, task), "llm", notes


def _conditioned(spec: dict, name: str, domain: str = "", task: str = "") -> dict:
    """A factorial arm named "<family> with/without standardisation" runs that family in
    that condition, whatever was filled: the name in the paper is what ran."""
    from nanoresearch.scaffolds import match_baseline
    from nanoresearch.scaffolds.build import (_WITH_AUG, _WITH_QUANTILE, _WITH_STD, _WITHOUT_AUG, _WITHOUT_PREP,
                                              _WITHOUT_STD, apply_condition)

    if domain and any(rx.search(name) for rx in (_WITH_STD, _WITHOUT_STD, _WITH_QUANTILE, _WITHOUT_PREP,
                                                 _WITH_AUG, _WITHOUT_AUG)):
        fam = match_baseline(domain, task, name)
        if fam and fam not in ("majority", spec.get("family")) and spec.get("family") != "custom":
            spec.update(family=fam, params={})
    return apply_condition(spec, name, domain, task)


def fill_model(domain: str, task: str, allow_code: bool = False) -> type[BaseModel]:
    """A pydantic model of the method slot typed for this domain/task: the family is an
    enum, so grammar-constrained engines (llama.cpp) can only emit an allowed family."""
    from typing import Literal, Optional

    from pydantic import create_model

    from nanoresearch.scaffolds.templates.nr_common import FAMILIES

    families = tuple(task_spec(domain, task)["families"])
    # every field bounded (named params, at most 2 steps) so constrained decoding cannot
    # run on until max_tokens with an open-ended dict or list
    names = sorted({p for f in families for p in FAMILIES.get(f, {}).get("params", {})})
    params_cls = create_model(f"{domain.title()}Params", __config__=_CLOSED,
                              **{p: (Optional[float], None) for p in names})
    fields: dict[str, Any] = {
        "family": (Literal[families], ...),  # type: ignore[valid-type]
        "params": (Optional[params_cls], None),
        "steps": (list[Literal["standardize", "minmax"]], Field(default_factory=list, max_length=2)),
    }
    spec = feature_spec(domain, task)
    if spec and spec["kind"] == "choice":
        opts = tuple(o if isinstance(o, str) else next(iter(o)) for o in spec["options"])
        fields["features"] = (Optional[Literal[opts]], None)  # type: ignore[valid-type]
    elif spec and spec["kind"] == "subset":
        fields["features"] = (Optional[list[Literal[tuple(spec["options"])]]], None)  # type: ignore[misc]
    elif spec and spec["kind"] == "dict":
        sub = {k: (Optional[_rule_type(v)], None) for k, v in spec["keys"].items()}
        fields["features"] = (Optional[create_model(f"{domain.title()}Features", __config__=_CLOSED, **sub)], None)
    if allow_code:
        fields["code"] = (str, "")
    return create_model(f"{domain.title()}{task.title().replace('_', '')}Method", __config__=_CLOSED, **fields)


def _rule_type(rule: Any) -> Any:
    from typing import Literal

    if rule == "bool":
        return bool
    if isinstance(rule, list):
        return Literal[tuple(rule)] if rule != ["image", "text"] else list[Literal["image", "text"]]
    return float if isinstance(rule[0], float) else int


def to_fill(answer: BaseModel) -> MethodFill:
    data = answer.model_dump(exclude_none=True)
    for key in ("features", "params"):
        if isinstance(data.get(key), dict):
            data[key] = {k: v for k, v in data[key].items() if v is not None}
    return MethodFill(**data)
