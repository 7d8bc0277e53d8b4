"""Deterministic parts of a seeded experiment: config (baselines matched to the
blueprint, metrics mapped to what the task reports, ablation variants) and the run
scripts (run.sh for a shell / sandbox, job.sbatch for SLURM)."""
from __future__ import annotations

import ast
import copy
import json
import re
from typing import Any

from nanoresearch.scaffolds import techniques
from nanoresearch.scaffolds.specs import STD, task_spec

METRIC_ALIASES = {"acc": "accuracy", "accuracy": "accuracy", "f1": "macro_f1", "macrof1": "macro_f1",
                  "f1score": "macro_f1", "f1macro": "macro_f1", "auc": "auc", "rocauc": "auc",
                  "aucroc": "auc", "auroc": "auc", "rmse": "rmse", "mae": "mae", "r2": "r2",
                  "mase": "mase", "smape": "smape", "mape": "smape", "ap": "average_precision",
                  "averageprecision": "average_precision", "mse": "rmse"}


def map_metrics(domain: str, task: str, wanted: list[str], primary: str,
                notes: list[str]) -> tuple[list[str], str]:
    have = task_spec(domain, task)["metrics"]
    mapped = []
    for m in wanted:
        key = METRIC_ALIASES.get("".join(ch for ch in m.lower() if ch.isalnum()))
        if key in have:
            mapped.append(key)
        else:
            notes.append(f"metric {m!r} is not reported by the {domain}/{task} scaffold")
    mapped = list(dict.fromkeys(mapped)) or list(have)
    prim = METRIC_ALIASES.get("".join(ch for ch in primary.lower() if ch.isalnum()))
    if prim not in mapped:
        notes.append(f"primary metric {primary!r} unavailable; using {mapped[0]!r}")
        prim = mapped[0]
    return mapped, prim


# "k-NN without standardisation" / "unscaled SVM" / "SVM with standardisation": a factorial
# design names the preprocessing condition in each arm; the arm must run what it says
_WITHOUT_STD = re.compile(r"\b(?:without|w/o|no)\s+(?:feature\s+)?(?:standardi[sz]|scal|z-scor)|"
                          r"\bunscaled\b|\bunstandardi[sz]ed\b|\braw features\b", re.I)
_WITH_STD = re.compile(r"\b(?:with|w/|after)\s+(?:feature\s+)?(?:standardi[sz]|scal|z-scor)|"
                       r"\bstandardi[sz]ed\b|\bscaled\b", re.I)


_WITH_QUANTILE = re.compile(r"\b(?:with|w/|after)\s+(?:a\s+)?quantile[- ]transform", re.I)
_WITH_AUG = re.compile(r"\bwith (?:one-pixel )?shift augmentation\b", re.I)
_WITHOUT_AUG = re.compile(r"\b(?:without|w/o|no) (?:one-pixel )?(?:shift )?augmentation\b", re.I)
_WITHOUT_PREP = re.compile(r"\bwithout (?:any )?(?:preprocessing|scaling|rescaling)\b|\bunscaled\b", re.I)
# multimodal arms name their fusion: "late fusion" averages per-modality probabilities,
# "early fusion" concatenates both modalities' features, "image-only"/"text-only" use one
_FUSION = [(re.compile(r"\blate fusion\b", re.I), {"modalities": ["image", "text"], "fusion": "late"}),
           (re.compile(r"\bearly fusion\b|\bconcatenat", re.I), {"modalities": ["image", "text"]}),
           (re.compile(r"\bimage[- ]only\b", re.I), {"modalities": ["image"]}),
           (re.compile(r"\btext[- ]only\b", re.I), {"modalities": ["text"]})]


def apply_condition(spec: dict, name: str, domain: str = "", task: str = "",
                    notes: list[str] | None = None) -> dict:
    """Make the spec's preprocessing (and, for multimodal arms, its fusion; for image arms,
    shift augmentation of the training set) match the condition its name states, and run
    the techniques its name states (`techniques.apply`: random Fourier features, class
    reweighting, decision-threshold tuning) and none it does not (no-op otherwise)."""
    kind = "reg" if task in ("regression", "forecasting") else "clf"
    stated = {t.name for t, _ in techniques.named(name)}
    for t in techniques.TECHNIQUES:
        if t.present(spec) and t.name not in stated:
            t.unset(spec)
    techniques.apply(spec, name, kind, notes, domain)
    if _WITH_AUG.search(name):
        spec["augment"] = "shift"
    elif _WITHOUT_AUG.search(name):
        spec.pop("augment", None)
    steps = [s for s in spec.get("steps", []) if s not in ("standardize", "minmax", "quantile")]
    if _WITH_QUANTILE.search(name):
        spec["steps"] = ["quantile", *steps]
    elif _WITHOUT_PREP.search(name) or _WITHOUT_STD.search(name):
        spec["steps"] = steps
    elif _WITH_STD.search(name):
        spec["steps"] = ["standardize", *steps]
    if domain == "multimodal":
        feats = next((dict(f) for rx, f in _FUSION if rx.search(name)), None)
        if feats is not None:
            spec["features"] = dict(spec.get("features") or {}, **feats)
            if "fusion" not in feats:
                spec["features"].pop("fusion", None)
    return spec


# domains whose template runs nr_common.run_supervised: learning curves and perturbed test
# sets are run there (config "train_fractions" / "test_perturbations")
SUPERVISED_DOMAINS = ("tabular", "audio", "cv", "nlp", "multimodal")


def design_config(kind: str, levels: list[str], domain: str) -> dict:
    """The config entries a scaling (data-size), robustness or capacity design needs in the
    seeded harness; {} when the domain's harness cannot run it (the design says so)."""
    if domain not in SUPERVISED_DOMAINS:
        return {}
    if kind == "scaling":
        fr = sorted({float(m.group(1)) / 100 for lv in levels
                     for m in [re.match(r"(\d+(?:\.\d+)?)% of the training", lv)] if m})
        return {"train_fractions": [f for f in fr if 0 < f < 1]} if fr else {}
    if kind == "robustness":
        out = []
        for lv in levels:
            m = re.match(r"(gaussian noise|feature dropout|shift)(?: on the (\w+) features)? \(level (\d+(?:\.\d+)?)\)", lv)
            if m:
                p = {"name": lv, "kind": m.group(1).replace(" ", "_"), "level": float(m.group(3))}
                if m.group(2):
                    p["block"] = m.group(2)
                out.append(p)
        return {"test_perturbations": out} if out else {}
    if kind == "capacity":  # "50 principal components", "50 whitened principal components", "256 hash buckets"
        out = []
        for lv in levels:
            m = re.match(r"(\d+) (whitened )?principal components$|(\d+) hash buckets$", lv)
            if m and m.group(1):
                out.append({"name": lv, "pca": int(m.group(1)), "whiten": bool(m.group(2))})
            elif m:
                out.append({"name": lv, "hash_buckets": int(m.group(3))})
        return {"capacity": out} if out else {}
    return {}


def capacity_base(baselines: list[dict], named: list[str], match) -> str | None:
    """The method a capacity curve refits: the first configured baseline of the family the
    question names (cv_03's "k-NN on raw pixels" for "a k-NN classifier"), else the first
    baseline the blueprint named (nlp_03's "TF-IDF with full vocabulary", whose features
    become hashed); None: the proposed method. `named` are the question's methods, then the
    blueprint's baseline names; `match(name) -> family | None`."""
    fams = [f for f in (match(n) for n in named) if f]
    for fam in fams:
        for b in baselines:
            if b["family"] == fam:
                return b["name"]
    return next((b["name"] for b in baselines if b["name"] in named), None)


def mirror_arms(baselines: list[dict], method: dict, domain: str, notes: list[str] | None = None) -> list[dict]:
    """Factorial arms of the proposed method's family copy its configuration (params,
    features, steps) and differ from it only in the condition their name states: "SVM with
    shift augmentation" is the proposed "SVM without shift augmentation" plus augmentation,
    not a default SVM with other hyperparameters."""
    if method.get("family") == "custom":
        return baselines
    out = []
    for b in baselines:
        if b["family"] == method.get("family"):
            b = apply_condition(dict(copy.deepcopy(method), name=b["name"]), b["name"], domain)
        # a named baseline that is now an arm under another name ("SVM without augmentation"
        # = "SVM without shift augmentation") runs once
        twin = next((o for o in [method, *out] if _same_arm(b, o)), None)
        if twin is None:
            out.append(b)
        elif notes is not None:
            notes.append(f"baseline {b['name']!r} is the same configuration as {twin['name']!r}; it runs once")
    return out


def named_blocks(name: str, blocks: dict[str, list[int]]) -> list[str]:
    """The dataset's feature blocks an arm's name states ("SVM on cepstrum means",
    "adding delta statistics to LPC-cepstrum means")."""
    return [b for b in blocks if re.search(r"\b" + r"[\s-]+".join(map(re.escape, b.split())) + r"\b", name, re.I)]


def select_blocks(spec: dict, blocks: dict[str, list[int]]) -> dict:
    """An arm that names feature blocks of its dataset runs on those columns only
    (`columns`: [start, end) ranges); one that names none runs on all of them."""
    spec.pop("columns", None)
    names = named_blocks(spec["name"], blocks)
    if names:
        spec["columns"] = sorted(blocks[b] for b in names)
    return spec


def align_technique_arm(method: dict, baselines: list[dict], domain: str, task: str,
                        notes: list[str], blocks: dict[str, list[int]] | None = None) -> dict:
    """A proposed method that is a technique on a baseline's family (tab_02's "decision-
    threshold tuning" on logistic regression, cv_01's "random Fourier features with a linear
    classifier") copies that plain baseline's configuration, so the two differ only in the
    technique: before, tab_02's tuned model ran on unscaled features against a standardised
    baseline and scored as the majority class."""
    if method.get("family") == "custom" or not ([t for t, neg in techniques.named(method["name"]) if not neg]
                                                 or named_blocks(method["name"], blocks or {})):
        return method
    plain = next((b for b in baselines if b["family"] == method.get("family")
                  and not techniques.named(b["name"])), None)
    if plain is None:
        return method
    out = dict(copy.deepcopy({k: v for k, v in plain.items() if k != "name"}), name=method["name"])
    notes.append(_PLAIN_NOTE.format(arm=method["name"], plain=plain["name"]))
    return select_blocks(apply_condition(out, out["name"], domain, task, notes), blocks or {})


_PLAIN_NOTE = "{arm!r} runs {plain!r}'s configuration plus what its name states"
_REPR = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_PLAIN_RX = re.compile(rf"^{_REPR} runs {_REPR}'s configuration plus what its name states$")


def technique_pairs(notes: list[str]) -> dict[str, str]:
    """technique arm -> the plain arm whose configuration it copied (from the coding notes):
    the pair differs in the technique alone, so it is that technique's ablation."""
    out = {}
    for n in notes:
        if m := _PLAIN_RX.match(n):
            out[ast.literal_eval(m.group(1))] = ast.literal_eval(m.group(2))
    return out


def _same_arm(a: dict, b: dict) -> bool:
    keys = ("steps", "features", "augment", "class_weight", "threshold", "channel_select", "columns")
    return (a["family"], *(a.get(k) for k in keys)) == (b["family"], *(b.get(k) for k in keys))


def choose_baselines(domain: str, task: str, names: list[str], match, notes: list[str],
                     cap: int = 4) -> list[dict]:
    """Blueprint baselines the scaffold really implements keep their names (all of them:
    a named baseline is never cut); the scaffold defaults fill up to `cap`.
    `match(name) -> family | None`."""
    defaults = task_spec(domain, task)["baselines"]
    out: list[dict] = []
    for name in names:
        fam = match(name)
        if fam is None:
            notes.append(f"baseline {name!r} has no implementation in the scaffold; skipped")
            continue
        base = next((copy.deepcopy(b) for b in defaults if b["family"] == fam),
                    {"family": fam, "params": {}, "steps": list(STD) if fam in ("logreg", "svm_rbf", "knn", "mlp") else []})
        base["name"] = name
        apply_condition(base, name, domain, task, notes)
        twin = next((b for b in out if _same_arm(base, b)), None)
        if twin is None:
            out.append(base)
        else:  # said, so the design check can tell a merged name from a dropped one
            notes.append(f"baseline {name!r} is the same configuration as {twin['name']!r}; it runs once")
    for b in defaults:
        if len(out) < cap and all(o["family"] != b["family"] or o.get("features") != b.get("features")
                                  for o in out):
            out.append(copy.deepcopy(b))
    return out[:max(cap, len([n for n in names if match(n)]))]


def _feature_variants(domain: str, task: str, feats: Any) -> list[tuple[str, Any]]:
    if domain == "multimodal" and isinstance(feats, dict) and len(feats.get("modalities", [])) > 1:
        return [(f"w/o {m}", dict(feats, modalities=[o for o in feats["modalities"] if o != m]))
                for m in feats["modalities"]]
    if domain == "nlp" and isinstance(feats, dict) and feats != {"analyzer": "word", "ngram_max": 1}:
        return [("with word unigrams", {"analyzer": "word", "ngram_max": 1})]
    if domain == "cv" and feats not in (None, "pixels"):
        return [("on raw pixels", "pixels")]
    if domain == "timeseries" and task == "forecasting" and isinstance(feats, dict):
        return [("w/o differencing" if feats.get("difference") else "with differencing",
                 dict(feats, difference=not feats.get("difference")))]
    if domain == "timeseries" and feats not in (None, "raw"):
        return [("on raw series", "raw")]
    if domain == "graph" and isinstance(feats, list) and len(feats) > 1:
        return [(f"w/o {f} features", [g for g in feats if g != f]) for f in feats]
    return []


def _ablation_candidates(method: dict, domain: str, task: str) -> list[tuple[str, dict]]:
    """(what it changes, the variant) for every one-change variant of the proposed method."""
    out: list[tuple[str, dict]] = []
    for label, feats in _feature_variants(domain, task, method.get("features")):
        out.append((label, dict(copy.deepcopy(method), name=f"{method['name']} {label}", features=feats)))
    for st in method.get("steps", []):
        label = st if isinstance(st, str) else next(iter(st))
        out.append((f"w/o {label}", dict(copy.deepcopy(method), name=f"{method['name']} w/o {label}",
                                         steps=[s for s in method["steps"] if s != st])))
    if method.get("params") and method.get("family") != "custom":
        out.append(("default hyperparameters", dict(copy.deepcopy(method), params={},
                                                    name=f"{method['name']} (default hyperparameters)")))
    return out


def ablation_variants(domain: str, task: str, method: dict, n: int, baselines: list[dict] = ()) -> list[dict]:
    """Up to n honest variants of the proposed method, each named by what it changes; a
    variant that is a baseline under another name (audio_01's "... w/o minmax" was the
    log-mel logistic regression baseline: the same model, reported twice) is left out."""
    return [v for _, v in _ablation_candidates(method, domain, task)
            if not any(_same_arm(v, b) for b in baselines)][:n]


def ablation_changes(domain: str, task: str, method: dict, arms: list[dict],
                     baselines: list[dict] = ()) -> dict[str, str]:
    """arm -> the one change it makes to the proposed method, for every arm that runs as
    an ablation: the variants in `arms`, and a baseline that *is* a variant (nlp_01's
    word TF-IDF logistic regression is the char-n-gram method with word unigrams), which
    then stands in for it."""
    ran, out = {a["name"] for a in arms}, {}
    for label, v in _ablation_candidates(method, domain, task):
        twin = next((b for b in baselines if _same_arm(v, b)), None)
        if twin is not None:
            out.setdefault(twin["name"], label)
        elif v["name"] in ran:
            out[v["name"]] = label
    return out


RUN_SH = """#!/usr/bin/env bash
# Runs the experiment on one core; writes metrics.json and figures/ next to this file.
set -euo pipefail
cd "$(dirname "$0")"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg
exec "${PYTHON:-python3}" run.py "$@"
"""


def job_sbatch(name: str, minutes: float, memory_mb: int, partition: str | None = None) -> str:
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name[:40]}", "#SBATCH --cpus-per-task=1",
             "#SBATCH --ntasks=1", f"#SBATCH --mem={int(memory_mb)}M",
             f"#SBATCH --time={max(1, int(minutes))}", "#SBATCH --output=slurm-%j.out",
             "#SBATCH --error=slurm-%j.err"]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    lines += ["# one single-threaded experiment; results land in metrics.json and figures/",
              'cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")}"',
              "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg",
              '"${PYTHON:-python3}" run.py', ""]
    return "\n".join(lines)


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2) + "\n"


__all__ = ["ablation_changes", "ablation_variants", "choose_baselines", "design_config", "job_sbatch", "map_metrics", "RUN_SH",
           "SUPERVISED_DOMAINS"]
