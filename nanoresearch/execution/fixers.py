"""Deterministic repairs for failures whose fix is certain from the evidence alone.

The debugging agent asks its model first; these rules are the fallback when the model's
patch is unusable (and the first choice when the model's last patch left the failure
unchanged). Each rule reads only the failure and the code, returns a new file text or
None, and names itself so the trajectory records which path fixed the run.
Skills can carry executable rules too: an instruction `replace: <regex> => <text>`
is applied to the failing line when the skill's trigger regex matches the failure.
"""
from __future__ import annotations

import ast
import builtins
import difflib
import re
import sys
from dataclasses import dataclass
from typing import Iterable

from nanoresearch.types import FailureInfo, SkillEntry

# common aliases a generated script uses without importing them
KNOWN_IMPORTS = {
    "np": "import numpy as np", "pd": "import pandas as pd", "plt": "import matplotlib.pyplot as plt",
    "torch": "import torch", "nn": "import torch.nn as nn", "F": "import torch.nn.functional as F",
    "optim": "import torch.optim as optim", "sns": None, "nx": "import networkx as nx",
    "sm": "import statsmodels.api as sm", "stats": "from scipy import stats",
    "Path": "from pathlib import Path", "defaultdict": "from collections import defaultdict",
    "Counter": "from collections import Counter", "dataclass": "from dataclasses import dataclass",
    "train_test_split": "from sklearn.model_selection import train_test_split",
    "StandardScaler": "from sklearn.preprocessing import StandardScaler",
    "LogisticRegression": "from sklearn.linear_model import LogisticRegression",
    "accuracy_score": "from sklearn.metrics import accuracy_score",
    "f1_score": "from sklearn.metrics import f1_score",
}
MODULE_RENAMES = {"sklearn.cross_validation": "sklearn.model_selection",
                  "sklearn.grid_search": "sklearn.model_selection"}
_NAME_ERR = re.compile(r"NameError: name '(\w+)' is not defined")
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
_RULE = re.compile(r"^\s*replace:\s*(.+?)\s*=>\s*(.*)$")


@dataclass
class RuleFix:
    rule: str  # "missing_import", "name_typo", "module_rename", "skill:<id>"
    path: str
    content: str
    summary: str


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
        return True
    except SyntaxError:
        return False


def _insert_import(text: str, stmt: str) -> str:
    """Put the import after the module docstring and __future__ imports."""
    lines = text.splitlines(keepends=True)
    at = 0
    try:
        body = ast.parse(text).body
    except SyntaxError:
        body = []
    for node in body:
        is_doc = isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant)
        is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if (is_doc and node is body[0]) or is_future:
            at = node.end_lineno or at
        else:
            break
    return "".join(lines[:at]) + stmt + "\n" + "".join(lines[at:])


def missing_import(failure: FailureInfo, files: dict[str, str]) -> RuleFix | None:
    m = _NAME_ERR.search(failure.message)
    if not m or failure.file not in files:
        return None
    name = m.group(1)
    stmt = KNOWN_IMPORTS.get(name)
    if stmt is None and name in sys.stdlib_module_names:
        stmt = f"import {name}"
    if not stmt or stmt in files[failure.file]:
        return None
    new = _insert_import(files[failure.file], stmt)
    return RuleFix("missing_import", failure.file, new, f"added `{stmt}`") if _parses(new) else None


def _defined_names(text: str) -> set[str]:
    names = set(dir(builtins))
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def name_typo(failure: FailureInfo, files: dict[str, str]) -> RuleFix | None:
    m = _NAME_ERR.search(failure.message)
    if not m or failure.file not in files or not failure.line:
        return None
    bad, text = m.group(1), files[failure.file]
    try:
        candidates = _defined_names(text) - {bad}
    except SyntaxError:
        return None
    close = difflib.get_close_matches(bad, sorted(candidates), n=1, cutoff=0.75)
    if not close:
        return None
    lines = text.splitlines(keepends=True)
    i = failure.line - 1
    if i >= len(lines):
        return None
    fixed = re.sub(rf"\b{re.escape(bad)}\b", close[0], lines[i])
    new = "".join(lines[:i] + [fixed] + lines[i + 1:])
    if fixed == lines[i] or not _parses(new):
        return None
    return RuleFix("name_typo", failure.file, new, f"renamed `{bad}` to `{close[0]}` on line {failure.line}")


def module_rename(failure: FailureInfo, files: dict[str, str]) -> RuleFix | None:
    m = _NO_MODULE.search(failure.message)
    if not m or m.group(1) not in MODULE_RENAMES or failure.file not in files:
        return None
    old, new_mod = m.group(1), MODULE_RENAMES[m.group(1)]
    new = files[failure.file].replace(old, new_mod)
    return RuleFix("module_rename", failure.file, new, f"{old} -> {new_mod}") if _parses(new) else None


def skill_rules(failure: FailureInfo, files: dict[str, str],
                skills: Iterable[SkillEntry]) -> RuleFix | None:
    """Apply a skill's `replace: <regex> => <text>` to the failing line."""
    if failure.file not in files or not failure.line:
        return None
    lines = files[failure.file].splitlines(keepends=True)
    if failure.line > len(lines):
        return None
    for sk in skills:
        try:
            if not sk.trigger or not re.search(sk.trigger, failure.message):
                continue
            for ins in sk.instructions:
                r = _RULE.match(ins)
                if not r:
                    continue
                i = failure.line - 1
                fixed = re.sub(r.group(1), r.group(2), lines[i])
                new = "".join(lines[:i] + [fixed] + lines[i + 1:])
                if fixed != lines[i] and _parses(new):
                    return RuleFix(f"skill:{sk.id}", failure.file, new,
                                   f"skill '{sk.name}': {ins.strip()} on line {failure.line}")
        except re.error:
            continue
    return None


def deterministic_fix(failure: FailureInfo, files: dict[str, str],
                      skills: Iterable[SkillEntry] = ()) -> RuleFix | None:
    """The first rule that applies, or None."""
    for rule in (missing_import, module_rename, name_typo):
        fix = rule(failure, files)
        if fix:
            return fix
    return skill_rules(failure, files, list(skills))
