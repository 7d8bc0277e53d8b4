"""Techniques an arm's name states, and what the seeded harness runs for each.

An arm is named by what it does ("random Fourier features with a linear classifier",
"class-weighted logistic regression", "decision-threshold tuning on a validation split").
Before, the name was only a label: cv_01's "Random Fourier features" arm was a plain
logistic regression and tab_02's "class-weighted" baseline ran (and was then deduplicated
away as) the unweighted one. Here each technique the harness knows is a name pattern plus
what it sets in the method spec (`apply`), the marker that shows it ran (`missing`), and one
sentence for the paper's method section (`describe`):

    spec = apply(spec, "class-weighted logistic regression", "clf")   # -> class_weight
    missing(spec, spec["name"])                                         # -> [] when realised
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

RFF_COMPONENTS = 1000          # random Fourier features per arm (RBF kernel, gamma from the data)
THRESHOLD_VALIDATION = 0.25    # share of the training split the decision threshold is tuned on
CHANNEL_KEEP = 0.5             # share of each channel's features per-channel selection keeps
# families whose sklearn estimator takes class_weight="balanced" (classification)
WEIGHTED_FAMILIES = ("logreg", "ridge", "linear_svm", "svm_rbf", "decision_tree", "random_forest",
                     "extra_trees", "gbm")
_NEGATION = re.compile(r"\b(?:without|w/o|no|non)[\s-]+(?:\w+[\s-]+){0,2}$", re.I)


@dataclass(frozen=True)
class Technique:
    name: str
    pattern: re.Pattern
    set_on: Callable[[dict], None]       # what the harness runs for it
    unset: Callable[[dict], None]        # the arm "without" it
    present: Callable[[dict], bool]      # the marker in a method spec
    fits: Callable[[dict, str], bool]    # can this family / task kind run it
    sentence: str
    domains: tuple[str, ...] = ()        # harnesses that run it (empty: every supervised one)


def _steps(spec: dict) -> list:
    return list(spec.get("steps") or [])


def _has_step(spec: dict, name: str) -> bool:
    return any(s == name or (isinstance(s, dict) and name in s) for s in _steps(spec))


def _add_rff(spec: dict) -> None:
    if not _has_step(spec, "rff"):  # after scaling: one bandwidth fits all features once standardised
        steps = _steps(spec)
        scaled = any(s in ("standardize", "quantile") for s in steps)
        spec["steps"] = ([] if scaled else ["standardize"]) + steps + [{"rff": RFF_COMPONENTS}]


def _drop_rff(spec: dict) -> None:
    spec["steps"] = [s for s in _steps(spec) if not (s == "rff" or (isinstance(s, dict) and "rff" in s))]


def _flag(key: str, value) -> tuple[Callable[[dict], None], Callable[[dict], None], Callable[[dict], bool]]:
    """set / unset / present for a technique that is one spec key (class_weight="balanced")."""
    return (lambda s: s.update({key: value}), lambda s: s.pop(key, None), lambda s: s.get(key) == value)


TECHNIQUES: tuple[Technique, ...] = (
    Technique("random Fourier features",
              re.compile(r"\brandom (?:fourier|kitchen[- ]sink)s?(?: features?)?\b|\bRFFs?\b", re.I),
              _add_rff, _drop_rff, lambda s: _has_step(s, "rff"),
              lambda s, kind: s.get("family") not in ("custom", "majority"),
              f"the features are mapped through {RFF_COMPONENTS} random Fourier features of an RBF kernel "
              "(its bandwidth set from the variance of the training features) before the classifier"),
    Technique("class reweighting",
              re.compile(r"\bclass[- ]?(?:weight(?:ed|ing)?|re-?weight(?:ed|ing)?|balanced)\b|"
                         r"\bre-?weight(?:ed|ing)\b|\bcost[- ]sensitive\b|\bbalanced class weights?\b", re.I),
              *_flag("class_weight", "balanced"),
              lambda s, kind: kind == "clf" and s.get("family") in WEIGHTED_FAMILIES,
              "each training example is weighted inversely to its class's frequency"),
    Technique("decision-threshold tuning",
              re.compile(r"\b(?:decision[- ])?threshold[- ](?:tuning|tuned|moving|selection|optimi[sz]\w*)\b|"
                         r"\btun(?:ed|ing|e) (?:the )?(?:decision[- ])?threshold\b|\bthreshold[- ]moving\b", re.I),
              *_flag("threshold", "tuned"),
              lambda s, kind: kind == "clf" and s.get("family") not in ("custom", "majority"),
              f"the decision threshold is tuned for the primary metric on a {int(THRESHOLD_VALIDATION * 100)}% "
              "validation split of the training data, and the classifier is then refitted on the whole training split"),
    Technique("per-channel feature selection",
              re.compile(r"\bper[- ]channel (?:feature )?selection\b|\bchannel[- ]wise (?:feature )?selection\b", re.I),
              *_flag("channel_select", CHANNEL_KEEP),
              lambda s, kind: kind == "clf" and s.get("family") not in ("custom", "majority"),
              f"within each channel, the {int(CHANNEL_KEEP * 100)}% of that channel's features with the highest "
              "ANOVA F-score on the training split are kept",
              domains=("timeseries",)),
)


def named(name: str) -> list[tuple[Technique, bool]]:
    """(technique, negated) for each technique the name states ('without RFF' is negated)."""
    out = []
    for t in TECHNIQUES:
        m = t.pattern.search(name)
        if m:
            out.append((t, bool(_NEGATION.search(name[:m.start()]))))
    return out


def apply(spec: dict, name: str, kind: str = "clf", notes: list[str] | None = None, domain: str = "") -> dict:
    """Make the spec run the techniques its name states (and not those it says it lacks);
    a technique this family, task or harness cannot run is recorded in `notes`, never faked."""
    for t, negated in named(name):
        if negated:
            t.unset(spec)
        elif t.fits(spec, kind) and (not t.domains or not domain or domain in t.domains):
            t.set_on(spec)
        elif notes is not None:
            where = f"the {domain} harness" if t.domains and domain and domain not in t.domains else \
                f"the {spec.get('family')} family for {'classification' if kind == 'clf' else 'regression'}"
            notes.append(f"{name!r} names {t.name}, which {where} cannot run")
    return spec


def missing(spec: dict, name: str | None = None) -> list[str]:
    """Techniques the arm's name states that its spec does not run (the design check)."""
    name = name if name is not None else spec.get("name", "")
    return [t.name for t, negated in named(name) if not negated and not t.present(spec)]


def describe(name: str) -> list[str]:
    """One clause per technique the name states (for the method section)."""
    return [t.sentence for t, negated in named(name) if not negated]
